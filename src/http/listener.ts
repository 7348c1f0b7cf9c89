// The server's request listener: POST infer is answered straight from node:http by the same
// route code, everything else by Koa. Koa's per-request context, middleware chain and response
// path cost as much as the whole protocol work for a small tensor (docs/performance.md), and the
// infer route writes its response itself anyway.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type Koa from 'koa';

/** Serves the request and returns true, or returns false (nothing read or written) to pass it on. */
export type FastListener = (req: IncomingMessage, res: ServerResponse) => boolean;

const fastListeners = new WeakMap<Koa, { listener: FastListener; middlewareCount: number }>();

/** Called by createHttpApp once its middleware is in place. */
export function registerFastListener(app: Koa, listener: FastListener): void {
  fastListeners.set(app, { listener, middlewareCount: app.middleware.length });
}

/**
 * Koa's callback, behind the app's fast listener if it has one. Middleware added to the app after
 * createHttpApp must see every request, so then Koa serves everything.
 */
export function requestListener(app: Koa): RequestListener {
  const koa = app.callback();
  const fast = fastListeners.get(app);
  if (!fast || app.middleware.length !== fast.middlewareCount) return koa;
  const { listener } = fast;
  return (req, res) => {
    if (!listener(req, res)) void koa(req, res);
  };
}
