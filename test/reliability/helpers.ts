// Shared by the reliability suites: a raw HTTP client (exact bytes, header lies allowed), the
// checks every error answer must pass, temp model repositories with JS models, and the CLI.
import * as http from 'node:http';
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { repoRoot } from '../helpers/paths.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One request with exactly these headers and body (Content-Length set unless given). */
export function request(port: number, opts: {
  method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string; agent?: http.Agent | false; timeoutMs?: number;
}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length);
    const req = http.request({
      host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path, headers, agent: opts.agent ?? keepAlive,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends raw bytes on a new connection; resolves with everything the server wrote until it closed. */
export function rawExchange(port: number, bytes: Buffer | string, timeoutMs = 10_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false }); }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true }); });
    socket.write(bytes);
  });
}

// Triton's TritonJson accessor failures are INTERNAL (500) on purpose (protocol notes §1.2,
// conformance item 31 pins it); those and only those 500s are expected for malformed requests.
const TRITON_JSON_500 = /^(?:failed to parse the request JSON buffer: |Unable to parse '|Failed to parse 'data' field: )/;
/** What an error body must never show: stack frames, source locations, server paths. */
const escapeRe = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const LEAKY = new RegExp(`\\n\\s+at |\\.[jt]s:\\d+:\\d+|node_modules|file://|${escapeRe(repoRoot())}|${escapeRe(tmpdir())}/dawnserve-`);

/** The answer to a hostile request: a client error (or a valid 200), never a crash or a leak. */
export function checkHostileReply(r: Reply, what: string): void {
  const type = String(r.headers['content-type'] ?? '');
  if (r.status === 200) {
    if (type.startsWith('application/json')) assert.ok(Array.isArray((JSON.parse(r.body.toString('utf8')) as { outputs?: unknown }).outputs), what);
    else assert.ok(r.headers['inference-header-content-length'] !== undefined, `${what}: binary 200 without its header length`);
    return;
  }
  assert.match(type, /^application\/json/, `${what}: status ${r.status} with content-type '${type}'`);
  const parsed = JSON.parse(r.body.toString('utf8')) as unknown;
  assert.ok(typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string', `${what}: body ${r.body.toString('utf8').slice(0, 200)}`);
  const error = (parsed as { error: string }).error;
  assert.doesNotMatch(error, LEAKY, `${what}: error text leaks internals: ${error.slice(0, 300)}`);
  // 501 is Triton's UNSUPPORTED (shared memory disabled, generate, unknown Content-Encoding).
  const ok = (r.status >= 400 && r.status < 500) || r.status === 503 || r.status === 501 || (r.status === 500 && TRITON_JSON_500.test(error));
  assert.ok(ok, `${what}: status ${r.status} ${error.slice(0, 300)}`);
}

export const SEQ16 = Array.from({ length: 16 }, (_, i) => i + 1);

export function simpleJson(a: number[] = SEQ16, b: number[] = SEQ16): Record<string, unknown> {
  return {
    inputs: [
      { name: 'INPUT0', shape: [1, a.length], datatype: 'INT32', data: a },
      { name: 'INPUT1', shape: [1, b.length], datatype: 'INT32', data: b },
    ],
  };
}

/** `simple` still adds and subtracts. */
export async function assertSimpleCorrect(port: number): Promise<void> {
  const b = SEQ16.map((x) => 100 - x);
  const r = await request(port, { path: '/v2/models/simple/infer', body: JSON.stringify(simpleJson(SEQ16, b)) });
  assert.equal(r.status, 200, r.body.toString());
  const out = JSON.parse(r.body.toString()) as { outputs: { name: string; data: number[] }[] };
  assert.deepEqual(out.outputs.find((o) => o.name === 'OUTPUT0')?.data, SEQ16.map(() => 100));
  assert.deepEqual(out.outputs.find((o) => o.name === 'OUTPUT1')?.data, SEQ16.map((x, i) => x - b[i]!));
}

export async function assertLive(port: number): Promise<void> {
  const r = await request(port, { method: 'GET', path: '/v2/health/live' });
  assert.equal(r.status, 200);
}

// ---- temp repositories ----

export interface JsModelSpec {
  /** config.pbtxt text (name is filled in). */
  config: string;
  /** model.js source. */
  code: string;
}

export const INT32_16_IO = `
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] } ]`;

/** A repository in a temp folder with the bundled `simple` plus the given JS models. */
export function makeRepo(models: Record<string, JsModelSpec | { files: Record<string, string> }>): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dawnserve-rel-'));
  cpSync(join(repoRoot(), 'models', 'simple'), join(dir, 'simple'), { recursive: true });
  for (const [name, spec] of Object.entries(models)) {
    mkdirSync(join(dir, name, '1'), { recursive: true });
    if ('files' in spec) {
      for (const [rel, text] of Object.entries(spec.files)) {
        mkdirSync(join(dir, name, rel, '..'), { recursive: true });
        writeFileSync(join(dir, name, rel), text);
      }
      continue;
    }
    writeFileSync(join(dir, name, 'config.pbtxt'), `name: "${name}"\nbackend: "js"\n${spec.config}\n`);
    writeFileSync(join(dir, name, '1', 'model.js'), spec.code);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `input` of a one-input INT32[16] model request. */
export function oneInputBody(): string {
  return JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: SEQ16 }] });
}

// ---- the CLI as a child process ----

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Child {
  proc: ChildProcess;
  port: number;
  output(): string;
  /** Resolves once `pattern` has appeared on stdout/stderr. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exit(): Promise<number | null>;
  kill(): void;
}

export async function spawnServe(args: string[]): Promise<Child> {
  const port = await freePort();
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  const proc = spawn(process.execPath, [cli, 'serve', '--http-address', '127.0.0.1', '--http-port', String(port),
    '--metrics-port', '0', '--backend', 'cpu', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => { out += d.toString(); for (const l of listeners) l(); };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc, port,
    output: () => out,
    waitFor: (pattern, timeoutMs = 60_000) => new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) { listeners.delete(check); clearTimeout(timer); resolve(); }
      };
      const timer = setTimeout(() => { listeners.delete(check); reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`)); }, timeoutMs);
      listeners.add(check);
      void exited.then(() => { if (listeners.has(check)) { listeners.delete(check); clearTimeout(timer); reject(new Error(`exited before ${pattern}; output:\n${out}`)); } });
      check();
    }),
    exit: () => exited,
    kill: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
  };
}

export async function waitReady(port: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await request(port, { method: 'GET', path: '/v2/health/ready', agent: false });
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error('server not ready in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
