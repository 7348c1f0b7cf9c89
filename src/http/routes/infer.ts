// POST .../infer: read the body once, decode (JSON / binary / raw), run, and write the response
// ourselves (ctx.respond = false with a precomputed Content-Length): Koa's response path was most
// of the overhead measured against raw node:http (toolchain notes), the router most of the rest.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type Koa from 'koa';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { InferenceRequest, InferenceResponse } from '../../runtime/api.js';
import type { HttpDeps } from '../deps.js';
import { unavailable, unsupported } from '../../runtime/errors.js';
import { INFER_HEADER, parseInferHeaderLength } from '../binary.js';
import { bodyLimitFor, readBody } from '../body.js';
import { chooseEncoding, compress } from '../compression.js';
import { decodeInferBody, encodeInferResponse, type DecodedInfer, type EncodedInfer, type InferTarget } from '../infer-codec.js';
import { errorReply } from '../http-error.js';
import { withDeadline, type InFlightLimiter } from '../limits.js';
import type { FastListener } from '../listener.js';
import { writeError } from '../middleware.js';
import { modelPaths, route, type RouteModule } from './reply.js';

/** Serves one infer request on the raw request/response; throws (nothing written) on failure. */
export type InferHandler = (req: IncomingMessage, res: ServerResponse, target: InferTarget) => Promise<void>;

/** Below this many binary output bytes the response is copied into one buffer: one write. */
const CONCAT_BINARY_BELOW = 64 * 1024;

export function inferHandler({ runtime, maxInputSize, limits, log }: HttpDeps): InferHandler {
  const limit = bodyLimitFor(maxInputSize);
  const timeoutMs = limits?.requestTimeoutMs;
  return async (req, res, target) => {
    const t0 = performance.now();
    let decoded: DecodedInfer;
    try {
      const body = await readBody(req, limit);
      const headerValue = req.headers[INFER_HEADER];
      // No header: the whole body is JSON, except that an empty body is a raw request (Triton).
      const headerLength = body.length === 0 && headerValue === undefined
        ? 0 : parseInferHeaderLength(Array.isArray(headerValue) ? headerValue[0] : headerValue, body.length);
      decoded = decodeInferBody(body, headerLength, target, runtime, maxInputSize);
    } catch (err) {
      logInferFailure(log, target, undefined, t0, err);
      throw err;
    }

    const cancellable = withAbortSignal(decoded.request, res);
    let response: InferenceResponse;
    try {
      // A model that hangs must not hang its client: past the deadline the request is answered
      // 503 and, if still queued, dropped; an execution already running is left to finish.
      response = await withDeadline(runtime.infer(decoded.request), timeoutMs,
        cancellable.abort, () => unavailable(`Request timeout expired: model '${target.model}' did not answer within ${(timeoutMs ?? 0) / 1000} s (--http-request-timeout-secs)`));
    } catch (err) {
      logInferFailure(log, target, decoded.request.id, t0, err);
      throw err;
    } finally {
      cancellable.release();
    }
    const encoded = encodeInferResponse(response, decoded);

    const binary = encoded.binaryLength > 0;
    const headers: OutgoingHttpHeaders = binary
      ? { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(encoded.jsonLength) }
      : { 'Content-Type': 'application/json' };
    const acceptEncoding = req.headers['accept-encoding'];
    const encoding = acceptEncoding ? chooseEncoding(acceptEncoding) : undefined;
    if (encoding) {
      const packed = await compress(wholeBody(encoded), encoding);
      headers['Content-Encoding'] = encoding;
      headers['Vary'] = 'Accept-Encoding';
      headers['Content-Length'] = packed.length;
      res.writeHead(200, headers);
      res.end(packed);
      if (log.isLevelEnabled('debug')) logInfer(log, decoded.request.id, t0, response);
      return;
    }
    headers['Content-Length'] = encoded.jsonLength + encoded.binaryLength;
    res.writeHead(200, headers);
    // A string body goes out in one write together with the status line and headers; small
    // binary responses are copied into one buffer, which costs less than a write per tensor.
    if (!binary) res.end(encoded.json);
    else if (encoded.binaryLength < CONCAT_BINARY_BELOW) res.end(wholeBody(encoded));
    else {
      // end() flushes the corked writes together; large tensors are not copied.
      res.cork();
      res.write(encoded.json);
      for (const p of encoded.binary) res.write(p);
      res.end();
    }
    if (log.isLevelEnabled('debug')) logInfer(log, decoded.request.id, t0, response);
  };
}

// Request ids for the log where the client sent none: short, and unique within the process and
// across restarts. Triton has no request-id header, so the id is only ever logged.
const ID_PREFIX = randomBytes(3).toString('hex');
let idSeq = 0;
const requestId = (id: string | undefined): string => (id !== undefined && id !== '' ? id : `${ID_PREFIX}-${(++idSeq).toString(36)}`);
const msSince = (t0: number): number => Math.round((performance.now() - t0) * 1000) / 1000;

/** One debug line per answered inference (only built when debug is enabled). */
function logInfer(log: Logger, id: string | undefined, t0: number, response: InferenceResponse): void {
  log.debug({
    requestId: requestId(id), model: response.model_name, version: response.model_version, status: 200,
    durationMs: msSince(t0), batchSize: response.batchSize, executionBatchSize: response.executionBatchSize,
  }, 'inference request');
}

/** A failed inference: warn for 5xx answers (the server's or the model's fault), debug otherwise. */
function logInferFailure(log: Logger, target: InferTarget, id: string | undefined, t0: number, err: unknown): void {
  const reply = errorReply(err);
  const level = reply.status >= 500 ? 'warn' : 'debug';
  if (!log.isLevelEnabled(level)) return;
  log[level]({
    requestId: requestId(id), model: target.model, version: target.version ?? '', status: reply.status,
    durationMs: msSince(t0), err: reply.message,
  }, 'inference request failed');
}

function wholeBody(encoded: EncodedInfer): Buffer {
  const out = Buffer.allocUnsafe(encoded.jsonLength + encoded.binaryLength);
  let offset = out.write(encoded.json, 0, 'utf8');
  for (const p of encoded.binary) offset += p.copy(out, offset);
  return out;
}

interface SocketCancellation {
  /** A controller whose request finished without aborting it: the next request's. */
  spare: AbortController | undefined;
  /** Controllers of the requests in flight on the socket (several only when pipelining). */
  active: Set<AbortController>;
}

const socketCancellations = new WeakMap<Socket, SocketCancellation>();

/**
 * Gives the request a `signal` that aborts when the client goes away before the response is
 * written, or when `abort()` is called (the request deadline); `release()` once the response is
 * written or failed. Creating an AbortSignal costs ~7 µs in Node 20, as much as the rest of the
 * runtime's work for a small tensor, so a connection's controller is handed to its next request
 * when nothing aborted it (the scheduler removes its listener when a request leaves the queue).
 */
function withAbortSignal(request: InferenceRequest, res: ServerResponse): { abort: () => void; release: () => void } {
  const socket = res.socket;
  if (!socket || res.destroyed) {
    const c = new AbortController();
    c.abort();
    request.signal = c.signal;
    return { abort: () => undefined, release: () => undefined };
  }
  let state = socketCancellations.get(socket);
  if (!state) {
    const s: SocketCancellation = { spare: undefined, active: new Set() };
    socketCancellations.set(socket, s);
    socket.once('close', () => {
      s.spare = undefined;
      for (const c of s.active) c.abort();
      s.active.clear();
    });
    state = s;
  }
  const c = state.spare ?? new AbortController();
  state.spare = undefined;
  state.active.add(c);
  request.signal = c.signal;
  const owner = state;
  return {
    abort: () => c.abort(),
    release: () => {
      if (!owner.active.delete(c)) return;
      if (!c.signal.aborted) owner.spare = c;
    },
  };
}

const INFER_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([0-9]+))?\/infer$/;

function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The model and version of an infer path (Koa's `ctx.path`: no query string), or undefined. */
export function inferTarget(path: string): InferTarget | undefined {
  const m = INFER_PATH.exec(path);
  if (!m) return undefined;
  return { model: decodeSegment(m[1] as string), version: m[2] };
}

/**
 * Infer is the hot path: answer it before the router, which composes and matches every layer
 * per request. The router keeps the same route for 405s and completeness. (A server started with
 * startHttpServer answers infer before Koa altogether: listener.ts.)
 */
export function inferFastPath(deps: HttpDeps): Koa.Middleware {
  const handle = inferHandler(deps);
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const target = inferTarget(ctx.path);
    if (!target) return next();
    await handle(ctx.req, ctx.res, target);
    ctx.respond = false;
  };
}

// Koa's ctx.path comes from parseurl, which hands URLs holding one of these characters to
// url.parse: such (rare) URLs go through Koa so that their path is exactly Koa's.
const UNUSUAL_URL = /[\t\n\f\r #\u00a0\ufeff]/;

/**
 * POST infer without Koa (listener.ts): what the app's middleware does for an infer request —
 * the in-flight limit and errorBody's replies — then the same handler. Where the inference group
 * is restricted, Koa's restrictedApis middleware keeps answering it.
 */
export function inferListener(deps: HttpDeps, limiter: InFlightLimiter): FastListener | undefined {
  if (deps.restrictedApis?.some((a) => a.groups.includes('inference'))) return undefined;
  const handle = inferHandler(deps);
  const serve = async (req: IncomingMessage, res: ServerResponse, path: string, target: InferTarget): Promise<void> => {
    let counted = false;
    try {
      limiter.acquire();
      counted = true;
      await handle(req, res, target);
    } catch (err) {
      // The in-flight limit's 503: the handler, which logs the others, never saw this request.
      if (!counted) logInferFailure(deps.log, target, undefined, performance.now(), err);
      writeError(deps.log, res, path, err);
    } finally {
      if (counted) limiter.release();
    }
  };
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    if (UNUSUAL_URL.test(url)) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const target = inferTarget(path);
    if (!target) return false;
    void serve(req, res, path, target);
    return true;
  };
}

export const inferRoutes: RouteModule = (router, deps) => {
  const handle = inferHandler(deps);
  route(router, 'POST', modelPaths('/infer'), async (ctx) => {
    await handle(ctx.req, ctx.res, { model: ctx.params.model as string, version: ctx.params.version });
    ctx.respond = false;
  });

  // The generate extension is provisional in Triton and not implemented here.
  route(router, 'POST', [...modelPaths('/generate'), ...modelPaths('/generate_stream')], () => {
    throw unsupported('the generate extension is not supported by this server');
  });
};
