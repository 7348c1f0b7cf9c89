// The raw `node:http` baseline of `dawnserve bench http`, run as a child process so that it never
// shares an event loop with the load generator. For each route it is told about, it reads the whole
// body, parses it as dawnserve must (JSON, or the binary extension's JSON header + a view of the
// tensor bytes), and answers the response dawnserve gave for the same request, serialised again per
// request — so both servers move the same bytes and do the same JSON work, minus everything else.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';

export interface BaselineRoute {
  path: string;
  /** File holding dawnserve's response body for this route. */
  responseFile: string;
  /** Set when the response uses the binary extension: length of its JSON header. */
  binaryHeaderLength?: number;
}

interface Template {
  json: unknown;
  binary?: Buffer;
}

const routes = new Map<string, Template>();

function load(route: BaselineRoute): Template {
  const bytes = readFileSync(route.responseFile);
  if (route.binaryHeaderLength === undefined) return { json: JSON.parse(bytes.toString('utf8')) as unknown };
  return {
    json: JSON.parse(bytes.subarray(0, route.binaryHeaderLength).toString('utf8')) as unknown,
    binary: bytes.subarray(route.binaryHeaderLength),
  };
}

function parseRequest(req: IncomingMessage, body: Buffer): number {
  const headerLength = req.headers['inference-header-content-length'];
  if (typeof headerLength === 'string') {
    const n = Number(headerLength);
    const header = JSON.parse(body.subarray(0, n).toString('utf8')) as { inputs?: { parameters?: { binary_data_size?: number } }[] };
    // A view of each binary input, as a server hands tensor bytes on without copying them.
    let offset = n;
    let elements = 0;
    for (const input of header.inputs ?? []) {
      const size = input.parameters?.binary_data_size ?? 0;
      elements += body.subarray(offset, offset + size).length;
      offset += size;
    }
    return elements;
  }
  const parsed = JSON.parse(body.toString('utf8')) as { inputs?: { data?: unknown[] }[] };
  return parsed.inputs?.reduce((n, t) => n + (t.data?.length ?? 0), 0) ?? 0;
}

function answer(res: ServerResponse, t: Template): void {
  const header = Buffer.from(JSON.stringify(t.json));
  if (t.binary) {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
      'content-length': String(header.length + t.binary.length),
    });
    res.write(header);
    res.end(t.binary);
  } else {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(header.length) });
    res.end(header);
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const t = routes.get(req.url ?? '');
    if (!t || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    try {
      parseRequest(req, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (e as Error).message }));
      return;
    }
    answer(res, t);
  });
});
server.keepAliveTimeout = 30_000;

process.on('message', (m: unknown) => {
  const route = m as BaselineRoute;
  try {
    routes.set(route.path, load(route));
    process.send?.({ ok: true });
  } catch (e) {
    process.send?.({ ok: false, error: (e as Error).message });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// An orphan (the bench died) exits instead of listening forever.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ ready: { port } });
});
