// Reads a request body once into a Buffer: size-capped before and while reading, chunk-count
// capped for chunked uploads (Triton: 65536 non-empty chunks), gzip/deflate inflated with the
// same cap applied to the inflated size.
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { invalidArg } from '../runtime/errors.js';
import { HttpError } from './http-error.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export const MAX_CHUNKS = 65536;
/** Room for the JSON header and framing on top of `--http-max-input-size` worth of tensor data. */
export const BODY_SLACK = 1024 * 1024;

export function bodyLimitFor(maxInputSize: number): number {
  return maxInputSize + BODY_SLACK;
}

type Encoding = 'gzip' | 'deflate' | 'identity';

function requestEncoding(req: IncomingMessage): Encoding {
  const value = req.headers['content-encoding'];
  if (value === undefined || value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'deflate') return value;
  // Triton answers UNSUPPORTED and advertises what it accepts.
  throw new HttpError(501, 'Unsupported compression type', { 'Accept-Encoding': 'gzip, deflate' });
}

export function tooLarge(size: number | string, limit: number): HttpError {
  return new HttpError(413, `request body of ${size} bytes exceeds the maximum allowed size of ${limit} bytes. Use --http-max-input-size to increase the limit.`, { Connection: 'close' });
}

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(declared, limit));
  const chunked = declared === undefined;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (err: Error | undefined, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        // Stop reading what we will not use; the response closes the connection.
        req.pause();
        reject(err);
      } else resolve(body as Buffer);
    };
    const onData = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      total += chunk.length;
      if (total > limit) return finish(tooLarge(`more than ${limit}`, limit));
      if (chunked && chunks.length >= MAX_CHUNKS) {
        return finish(invalidArg(`Chunked request body exceeds maximum of ${MAX_CHUNKS} non-empty chunks. Send fewer or larger HTTP chunks.`));
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    const onError = (err: Error) => finish(err);
    const onAborted = () => finish(new Error('request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * The (inflated) request body; `limit` bounds both the wire size and the inflated size. Not an
 * async function: an uncompressed body (the usual case) is the read's own promise, one hop less.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  let encoding: Encoding;
  try {
    encoding = requestEncoding(req);
  } catch (err) {
    return Promise.reject(err);
  }
  const raw = readRaw(req, limit);
  return encoding === 'identity' ? raw : raw.then((body) => inflateBody(body, encoding, limit));
}

async function inflateBody(raw: Buffer, encoding: 'gzip' | 'deflate', limit: number): Promise<Buffer> {
  try {
    const opts = { maxOutputLength: limit };
    return encoding === 'gzip' ? await gunzip(raw, opts) : await inflate(raw, opts);
  } catch (err) {
    if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(`more than ${limit} (inflated)`, limit);
    }
    throw invalidArg(`failed to decompress the request body: ${(err as Error).message}`);
  }
}
