// Errors carry Triton's status codes; the HTTP layer maps them to HTTP statuses (protocol notes §1.2).
export type ErrorCode =
  | 'INVALID_ARG' | 'NOT_FOUND' | 'UNAVAILABLE' | 'UNSUPPORTED' | 'INTERNAL' | 'ALREADY_EXISTS'
  | 'UNKNOWN' | 'CANCELLED';

export class InferenceServerError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'InferenceServerError';
  }
}

export const invalidArg = (m: string) => new InferenceServerError('INVALID_ARG', m);
export const notFound = (m: string) => new InferenceServerError('NOT_FOUND', m);
export const unavailable = (m: string) => new InferenceServerError('UNAVAILABLE', m);
export const unsupported = (m: string) => new InferenceServerError('UNSUPPORTED', m);
export const internal = (m: string) => new InferenceServerError('INTERNAL', m);
