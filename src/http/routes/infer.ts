// POST .../infer: read the body once, decode (JSON / binary / raw), run, and write the response
// ourselves (ctx.respond = false with a precomputed Content-Length): Koa's response path was most
// of the overhead measured against raw node:http (toolchain notes).
import type { OutgoingHttpHeaders } from 'node:http';
import { unsupported } from '../../runtime/errors.js';
import { INFER_HEADER, parseInferHeaderLength } from '../binary.js';
import { bodyLimitFor, readBody } from '../body.js';
import { chooseEncoding, compress } from '../compression.js';
import { decodeInferBody, encodeInferResponse } from '../infer-codec.js';
import { modelPaths, route, type RouteModule } from './reply.js';

export const inferRoutes: RouteModule = (router, deps) => {
  const { runtime, maxInputSize } = deps;
  const limit = bodyLimitFor(maxInputSize);

  route(router, 'POST', modelPaths('/infer'), async (ctx) => {
    const target = { model: ctx.params.model as string, version: ctx.params.version };
    const body = await readBody(ctx.req, limit);
    const headerValue = ctx.req.headers[INFER_HEADER];
    // No header: the whole body is JSON, except that an empty body is a raw request (Triton).
    const headerLength = body.length === 0 && headerValue === undefined
      ? 0 : parseInferHeaderLength(Array.isArray(headerValue) ? headerValue[0] : headerValue, body.length);
    const decoded = decodeInferBody(body, headerLength, target, runtime, maxInputSize);

    const abort = new AbortController();
    const onClose = () => { if (!ctx.res.writableFinished) abort.abort(); };
    ctx.res.once('close', onClose);
    const response = await runtime.infer({ ...decoded.request, signal: abort.signal });
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
  });

  // The generate extension is provisional in Triton and not implemented here.
  route(router, 'POST', [...modelPaths('/generate'), ...modelPaths('/generate_stream')], () => {
    throw unsupported('the generate extension is not supported by this server');
  });
};
