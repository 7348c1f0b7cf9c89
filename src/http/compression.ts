// Response compression as Triton does it: gzip or deflate when the client's Accept-Encoding asks.
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export type ResponseEncoding = 'gzip' | 'deflate';

/** The first of gzip/deflate the client accepts (q=0 means refused). */
export function chooseEncoding(accept: string | undefined): ResponseEncoding | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const [token = '', ...params] = part.trim().toLowerCase().split(';');
    if (token !== 'gzip' && token !== 'deflate') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    return token;
  }
  return undefined;
}

export function compress(body: Buffer, encoding: ResponseEncoding): Promise<Buffer> {
  return encoding === 'gzip' ? gzip(body) : deflate(body);
}
