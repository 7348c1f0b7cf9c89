// Concurrency limit in front of every route that reads a body (POST): past `--http-max-in-flight`
// requests at once the next one is answered 503 at once, before its body is read, so overload
// costs neither memory nor queue entries. GETs (health probes, metadata) are never shed.
import type Koa from 'koa';
import { HttpError } from './http-error.js';

export function inFlightLimit(maxInFlight: number | undefined): Koa.Middleware {
  if (!maxInFlight || maxInFlight <= 0) return (_ctx, next) => next();
  let inFlight = 0;
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    if (inFlight >= maxInFlight) {
      throw new HttpError(503, `Server is busy: ${inFlight} requests in flight, the limit is ${maxInFlight} (--http-max-in-flight). Retry later.`, { 'Retry-After': '1' });
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}

/**
 * Resolves or rejects as `work` does, or rejects with `onTimeout()` after `ms` (and calls `abort`
 * so the runtime drops work still queued). The timer is always cleared.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number | undefined, abort: () => void, onTimeout: () => Error): Promise<T> {
  if (!ms || ms <= 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort();
      reject(onTimeout());
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // A late rejection of `work` after the deadline answered must not become an unhandled rejection.
    work.catch(() => undefined);
  }
}
