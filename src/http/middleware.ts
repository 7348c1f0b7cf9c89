// One-job middleware shared by the app: error bodies, route guards, and the 404/405 fallback.
import type { ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { InferenceServerError } from '../runtime/errors.js';
import { HttpError, errorJson, errorReply, methodNotAllowed, notFoundRoute } from './http-error.js';

/** Every thrown error → `{"error":"..."}` with its status; the server keeps serving. */
export function errorBody(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const reply = errorReply(err);
      if (!(err instanceof HttpError) && !(err instanceof InferenceServerError)) {
        log.error({ err, path: ctx.path }, 'unexpected error while serving a request');
      }
      if (ctx.headerSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.respond = true;
      ctx.status = reply.status;
      for (const [k, v] of Object.entries(reply.headers ?? {})) ctx.set(k, v);
      ctx.type = 'application/json';
      ctx.body = errorJson(reply.message);
    }
  };
}

/**
 * errorBody for a request served without Koa (listener.ts): the same status, headers and body
 * as Koa writes for errorBody's reply.
 */
export function writeError(log: Logger, res: ServerResponse, path: string, err: unknown): void {
  const reply = errorReply(err);
  if (!(err instanceof HttpError) && !(err instanceof InferenceServerError)) {
    log.error({ err, path }, 'unexpected error while serving a request');
  }
  // Koa's ctx.writable
  const writable = !res.writableEnded && (!res.socket || res.socket.writable);
  if (res.headersSent || !writable) {
    res.destroy();
    return;
  }
  const body = errorJson(reply.message);
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.statusCode = reply.status;
  res.end(body);
}

// Triton's model regex only accepts digits as a version, so anything else is an unknown route.
const VERSION_SEGMENT = /^\/v2\/models\/[^/]+\/versions\/([^/]*)/;

export function versionGuard(): Koa.Middleware {
  return (ctx, next) => {
    const m = VERSION_SEGMENT.exec(ctx.path);
    if (m && !/^[0-9]+$/.test(m[1] as string)) throw notFoundRoute();
    return next();
  };
}

/** Runs after the router: a known path with the wrong method is 405, anything else 404. */
export function routeFallback(): Koa.Middleware {
  return (ctx) => {
    const matched = (ctx as Koa.Context & { matched?: unknown[] }).matched;
    if (matched && matched.length > 0) throw methodNotAllowed();
    throw notFoundRoute();
  };
}

/**
 * @koa/router answers HEAD on every GET route; Triton does not (405 on a known path).
 * `isKnownPath` is the router's own path matcher.
 */
export function rejectHead(isKnownPath: (path: string) => boolean): Koa.Middleware {
  return (ctx, next) => {
    if (ctx.method !== 'HEAD') return next();
    throw isKnownPath(ctx.path) ? methodNotAllowed() : notFoundRoute();
  };
}
