// POST .../infer: read the body once, decode (JSON / binary / raw), run, and write the response
// ourselves (ctx.respond = false with a precomputed Content-Length): Koa's response path was most
// of the overhead measured against raw node:http (toolchain notes), the router most of the rest.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { InferenceRequest } from '../../runtime/api.js';
import type { HttpDeps } from '../deps.js';
import { unavailable, unsupported } from '../../runtime/errors.js';
import { INFER_HEADER, parseInferHeaderLength } from '../binary.js';
import { bodyLimitFor, readBody } from '../body.js';
import { chooseEncoding, compress } from '../compression.js';
import { decodeInferBody, encodeInferResponse } from '../infer-codec.js';
import { withDeadline } from '../limits.js';
import { modelPaths, route, type RouteModule } from './reply.js';

type InferHandler = (ctx: Koa.Context, target: { model: string; version?: string }) => Promise<void>;

function inferHandler({ runtime, maxInputSize, limits }: HttpDeps): InferHandler {
  const limit = bodyLimitFor(maxInputSize);
  const timeoutMs = limits?.requestTimeoutMs;
  return async (ctx, target) => {
    const body = await readBody(ctx.req, limit);
    const headerValue = ctx.req.headers[INFER_HEADER];
    // No header: the whole body is JSON, except that an empty body is a raw request (Triton).
    const headerLength = body.length === 0 && headerValue === undefined
      ? 0 : parseInferHeaderLength(Array.isArray(headerValue) ? headerValue[0] : headerValue, body.length);
    const decoded = decodeInferBody(body, headerLength, target, runtime, maxInputSize);

    const cancellable = withAbortSignal(decoded.request, ctx.res);
    // A model that hangs must not hang its client: past the deadline the request is answered
    // 503 and, if still queued, dropped; an execution already running is left to finish.
    const response = await withDeadline(runtime.infer(cancellable.request), timeoutMs,
      cancellable.abort, () => unavailable(`Request timeout expired: model '${target.model}' did not answer within ${(timeoutMs ?? 0) / 1000} s (--http-request-timeout-secs)`));
    const encoded = encodeInferResponse(response, decoded);

    const headers: OutgoingHttpHeaders = {};
    let parts: (string | Buffer)[] = [encoded.json, ...encoded.binary];
    let length = encoded.jsonLength + encoded.binaryLength;
    if (encoded.binaryLength > 0) {
      headers['Content-Type'] = 'application/octet-stream';
      headers['Inference-Header-Content-Length'] = String(encoded.jsonLength);
    } else {
      headers['Content-Type'] = 'application/json';
    }
    const encoding = chooseEncoding(ctx.get('accept-encoding'));
    if (encoding) {
      const whole = Buffer.concat([Buffer.from(encoded.json), ...encoded.binary]);
      const packed = await compress(whole, encoding);
      parts = [packed];
      length = packed.length;
      headers['Content-Encoding'] = encoding;
      headers['Vary'] = 'Accept-Encoding';
    }
    headers['Content-Length'] = length;
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, headers);
    if (parts.length === 1) res.end(parts[0]);
    else {
      // end() flushes the corked writes together.
      res.cork();
      for (const p of parts) res.write(p);
      res.end();
    }
  };
}

/**
 * The request with a `signal` that aborts when the client goes away before the response is
 * written, or when `abort()` is called (the request deadline). Controller and listener are made
 * on first access: both showed up in profiles, and the signal is only worth its cost to a runtime
 * that looks at it.
 */
function withAbortSignal(request: InferenceRequest, res: ServerResponse): { request: InferenceRequest; abort: () => void } {
  let controller: AbortController | undefined;
  const signal = (): AbortSignal => {
    if (!controller) {
      const c = new AbortController();
      controller = c;
      if (res.destroyed && !res.writableFinished) c.abort();
      else res.once('close', () => { if (!res.writableFinished) c.abort(); });
    }
    return controller.signal;
  };
  Object.defineProperty(request, 'signal', { enumerable: true, get: signal });
  return { request, abort: () => { signal(); controller!.abort(); } };
}

const INFER_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([0-9]+))?\/infer$/;

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Infer is the hot path: answer it before the router, which composes and matches every layer
 * per request. The router keeps the same route for 405s and completeness.
 */
export function inferFastPath(deps: HttpDeps): Koa.Middleware {
  const handle = inferHandler(deps);
  return (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const m = INFER_PATH.exec(ctx.path);
    if (!m) return next();
    return handle(ctx, { model: decodeSegment(m[1] as string), version: m[2] });
  };
}

export const inferRoutes: RouteModule = (router, deps) => {
  const handle = inferHandler(deps);
  route(router, 'POST', modelPaths('/infer'), (ctx) => handle(ctx, { model: ctx.params.model as string, version: ctx.params.version }));

  // The generate extension is provisional in Triton and not implemented here.
  route(router, 'POST', [...modelPaths('/generate'), ...modelPaths('/generate_stream')], () => {
    throw unsupported('the generate extension is not supported by this server');
  });
};
