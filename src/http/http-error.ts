// HTTP-level failures and the one mapping from Triton error codes to HTTP statuses (protocol §1.2).
import { InferenceServerError, type ErrorCode } from '../runtime/errors.js';

/** An error whose HTTP status is already decided (routing, limits, restricted APIs). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers?: Record<string, string>) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFoundRoute = () => new HttpError(404, 'Not Found');
export const methodNotAllowed = () => new HttpError(405, 'Method Not Allowed');

/** Triton's HttpCodeFromError (2.42+): everything not listed is 400. */
export function statusOfCode(code: ErrorCode): number {
  switch (code) {
    case 'INTERNAL': return 500;
    case 'NOT_FOUND': return 404;
    case 'UNAVAILABLE': return 503;
    case 'UNSUPPORTED': return 501;
    default: return 400;
  }
}

export interface ErrorReply { status: number; message: string; headers?: Record<string, string> }

/**
 * Status and message for anything thrown while serving. Unknown exceptions become 500 with their
 * message only: no stack, no file paths.
 */
export function errorReply(err: unknown): ErrorReply {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  if (err instanceof InferenceServerError) return { status: statusOfCode(err.code), message: err.message };
  if (err instanceof Error) return { status: 500, message: err.message || 'internal error' };
  return { status: 500, message: String(err) };
}

/** `{"error":"..."}` exactly as Triton writes it. */
export function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}
