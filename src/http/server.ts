// Binding the app to a socket, and a graceful close: stop accepting, let in-flight requests
// finish (keep-alive sockets are closed as soon as they go idle), then resolve.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type Koa from 'koa';

export interface HttpServerHandle {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export function startHttpServer(app: Koa, opts: { address: string; port: number }): Promise<HttpServerHandle> {
  const server = http.createServer(app.callback());
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
