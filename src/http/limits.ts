// Concurrency limit in front of every route that reads a body (POST): past `--http-max-in-flight`
// requests at once the next one is answered 503 at once, before its body is read, so overload
// costs neither memory nor queue entries. GETs (health probes, metadata) are never shed.
import type Koa from 'koa';
import { HttpError } from './http-error.js';

/**
 * The in-flight count, shared by the Koa middleware and the infer listener that answers POST
 * infer before Koa (listener.ts), so that both count against the one limit.
 */
export class InFlightLimiter {
  private inFlight = 0;
  constructor(private readonly max: number | undefined) {}

  get enabled(): boolean {
    return this.max !== undefined && this.max > 0;
  }

  /** Counts one more request, or throws the 503 when the limit is reached. Pair with release(). */
  acquire(): void {
    const max = this.max;
    if (max === undefined || max <= 0) return;
    if (this.inFlight >= max) {
      throw new HttpError(503, `Server is busy: ${this.inFlight} requests in flight, the limit is ${max} (--http-max-in-flight). Retry later.`, { 'Retry-After': '1' });
    }
    this.inFlight++;
  }

  release(): void {
    if (this.max !== undefined && this.max > 0) this.inFlight--;
  }
}

export function inFlightLimit(limiter: InFlightLimiter): Koa.Middleware {
  if (!limiter.enabled) return (_ctx, next) => next();
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    limiter.acquire();
    try {
      await next();
    } finally {
      limiter.release();
    }
  };
}

/**
 * Resolves or rejects as `work` does, or rejects with `onTimeout()` after `ms` (and calls `abort`
 * so the runtime drops work still queued). The timer is always cleared.
 */
export function withDeadline<T>(work: Promise<T>, ms: number | undefined, abort: () => void, onTimeout: () => Error): Promise<T> {
  if (!ms || ms <= 0) return work;
  // One promise and one timer per request (Promise.race cost two more promises per request).
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      abort();
      reject(onTimeout());
    }, ms);
    // A late rejection of `work` after the deadline answered is ignored, never unhandled.
    work.then((value) => {
      clearTimeout(timer);
      if (!expired) resolve(value);
    }, (err: unknown) => {
      clearTimeout(timer);
      if (!expired) reject(err);
    });
  });
}
