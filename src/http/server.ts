// Binding the app to a socket, and a graceful close: stop accepting, let in-flight requests
// finish (keep-alive sockets are closed as soon as they go idle), then resolve.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type Koa from 'koa';
import { requestListener } from './listener.js';

export interface HttpServerHandle {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  address: string;
  port: number;
  /** Time to receive a whole request (Node's requestTimeout; headers get min(this, 60 s)); 0 = none. */
  requestTimeoutMs?: number;
  /** Largest request head in bytes (Node's maxHeaderSize, default 16 KiB). */
  maxHeaderSize?: number;
}

/** Node's built-in timeouts, tightened together so that a short request timeout is enforced promptly. */
function serverOptions(opts: HttpServerOptions): http.ServerOptions {
  const out: http.ServerOptions = {};
  if (opts.maxHeaderSize !== undefined && opts.maxHeaderSize > 0) out.maxHeaderSize = opts.maxHeaderSize;
  const t = opts.requestTimeoutMs;
  if (t !== undefined) {
    out.requestTimeout = t;
    // Node requires headersTimeout <= requestTimeout; 0 disables both.
    out.headersTimeout = t > 0 ? Math.min(t, 60_000) : 0;
    // Expired requests are found by a periodic sweep (30 s by default).
    if (t > 0) out.connectionsCheckingInterval = Math.max(100, Math.min(30_000, Math.floor(t / 4)));
  }
  return out;
}

interface SocketWithMessage extends Socket { _httpMessage?: { headersSent?: boolean } | null }

/**
 * Node answers a malformed or over-limit request head (and a request not received in time) with
 * an empty-bodied 400/431/408; ours carries the `{"error": ...}` body every other error has.
 */
function onClientError(maxHeaderSize: number) {
  return (err: NodeJS.ErrnoException, socket: SocketWithMessage): void => {
    if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, message] = err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `request headers exceed the maximum allowed size of ${maxHeaderSize} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request not received within the request timeout (--http-request-timeout-secs)']
        : [400, 'Bad Request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: message });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      + `Connection: close\r\n\r\n${body}`);
    // A client that does not read its answer must not keep the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

export function startHttpServer(app: Koa, opts: HttpServerOptions): Promise<HttpServerHandle> {
  const server = http.createServer(serverOptions(opts), requestListener(app));
  server.on('clientError', onClientError(opts.maxHeaderSize && opts.maxHeaderSize > 0 ? opts.maxHeaderSize : http.maxHeaderSize));
  const active = new Map<Socket, number>();
  let closing = false;

  server.on('connection', (socket) => {
    active.set(socket, 0);
    socket.once('close', () => active.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    // Once closing, tell keep-alive clients not to reuse the connection.
    if (closing && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      const left = (active.get(socket) ?? 1) - 1;
      active.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      const close = () => new Promise<void>((done, fail) => {
        closing = true;
        server.close((err) => (err ? fail(err) : done()));
        for (const [socket, inFlight] of active) if (inFlight === 0) socket.end();
      });
      resolve({ server, port, close });
    });
  });
}
