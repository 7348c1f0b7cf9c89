// io-ts codecs for every request body the HTTP API accepts: the codec is both the schema and the
// type. Leaf codecs follow rapidjson/TritonJson typing (see json.ts for how numbers arrive):
// `uint` accepts non-negative JSON integers (number or bigint), never `1.0`.
import * as t from 'io-ts';
import { JsonDouble } from './json.js';
import type { ParameterValue } from '../runtime/types.js';

const UINT64_MAX = 2n ** 64n - 1n;

function isUint(u: unknown): u is number | bigint {
  if (typeof u === 'number') return Number.isInteger(u) && u >= 0;
  return typeof u === 'bigint' && u >= 0n && u <= UINT64_MAX;
}

/** A JSON unsigned integer (uint64); bigint beyond 2^53. Named 'uint' for decode-error.ts. */
export const uint = new t.Type<number | bigint, number | bigint, unknown>(
  'uint', isUint, (u, c) => (isUint(u) ? t.success(u) : t.failure(u, c)), t.identity,
);

/** A uint64 as a JS number (parameters such as priority/timeout; exact up to 2^53). */
export const uintNumber = new t.Type<number, number, unknown>(
  'uint', (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0,
  (u, c) => (isUint(u) ? t.success(Number(u)) : t.failure(u, c)), t.identity,
);

/** Triton's `sequence_id`: a uint64, else a string (the string accessor's error is reported). */
export const uintOrString = new t.Type<number | string, number | string, unknown>(
  'string', (u): u is number | string => typeof u === 'string' || (typeof u === 'number' && Number.isInteger(u) && u >= 0),
  (u, c) => {
    if (typeof u === 'string') return t.success(u);
    if (isUint(u)) return t.success(Number.isSafeInteger(Number(u)) ? Number(u) : String(u));
    return t.failure(u, c);
  }, t.identity,
);

/** A custom request/output parameter value: string, integer, bool or double (as Triton forwards). */
export const parameterValue = new t.Type<ParameterValue, ParameterValue, unknown>(
  'parameter',
  (u): u is ParameterValue => typeof u === 'string' || typeof u === 'number' || typeof u === 'boolean',
  (u, c) => {
    if (typeof u === 'string' || typeof u === 'boolean' || typeof u === 'number') return t.success(u);
    // 64-bit integers beyond 2^53 lose precision here: ParameterValue is a JS number.
    if (typeof u === 'bigint') return t.success(Number(u));
    if (u instanceof JsonDouble) return t.success(u.value);
    return t.failure(u, c);
  }, t.identity,
);

export const Parameters = t.record(t.string, parameterValue);

// ---- inference (protocol §1.4) ----

export const InputParameters = t.partial({
  binary_data_size: uint,
  shared_memory_region: t.string,
  shared_memory_offset: uint,
  shared_memory_byte_size: uint,
});

export const InferInput = t.intersection([
  t.type({ name: t.string, datatype: t.string, shape: t.array(uint) }),
  t.partial({ parameters: InputParameters, data: t.unknown }),
]);
export type InferInput = t.TypeOf<typeof InferInput>;

export const OutputParameters = t.partial({
  binary_data: t.boolean,
  classification: uintNumber,
  shared_memory_region: t.string,
  shared_memory_offset: uint,
  shared_memory_byte_size: uint,
});

export const RequestedOutput = t.intersection([
  t.type({ name: t.string }),
  t.partial({ parameters: OutputParameters }),
]);
export type RequestedOutput = t.TypeOf<typeof RequestedOutput>;

/** Reserved request parameters with their Triton types; other keys are custom parameters. */
export const ReservedRequestParameters = t.partial({
  sequence_id: uintOrString,
  sequence_start: t.boolean,
  sequence_end: t.boolean,
  priority: uintNumber,
  timeout: uintNumber,
  binary_data_output: t.boolean,
});

// Member order follows the order Triton reads them in: id, parameters, inputs, outputs.
export const InferRequest = t.intersection([
  t.partial({ id: t.string, parameters: t.intersection([ReservedRequestParameters, Parameters]) }),
  t.type({ inputs: t.array(InferInput) }),
  t.partial({ outputs: t.array(RequestedOutput) }),
]);
export type InferRequest = t.TypeOf<typeof InferRequest>;

// A hand-written `InferRequest.is` for the hot path: io-ts's guard walks the intersections and
// records with a closure per member (~0.4 µs for `simple`, ~0.9 µs for a binary header). It may
// answer false where InferRequest.is answers true (it rejects anything unusual, e.g. bigint
// parameters or a JsonDouble where an object belongs), never the reverse: callers fall back to
// decodeOrThrow(InferRequest, …), which stays the schema and produces Triton's failure texts.

const isRecord = (u: unknown): u is Record<string, unknown> => u !== null && typeof u === 'object' && !Array.isArray(u) && !(u instanceof JsonDouble);
const isUintNumber = (u: unknown): boolean => typeof u === 'number' && Number.isInteger(u) && u >= 0;
const optionalUint = (u: unknown): boolean => u === undefined || isUint(u);
const optionalString = (u: unknown): boolean => u === undefined || typeof u === 'string';
const optionalBoolean = (u: unknown): boolean => u === undefined || typeof u === 'boolean';

function isRequestParameters(u: unknown): boolean {
  if (!isRecord(u)) return false;
  for (const key in u) {
    if (!Object.hasOwn(u, key)) continue;
    const v = u[key];
    const kind = typeof v;
    if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') return false;
    switch (key) {
      case 'sequence_id': if (kind !== 'string' && !isUintNumber(v)) return false; break;
      case 'sequence_start': case 'sequence_end': case 'binary_data_output': if (kind !== 'boolean') return false; break;
      case 'priority': case 'timeout': if (!isUintNumber(v)) return false; break;
    }
  }
  return true;
}

function isInferInput(u: unknown): boolean {
  if (!isRecord(u) || typeof u.name !== 'string' || typeof u.datatype !== 'string') return false;
  const shape = u.shape;
  if (!Array.isArray(shape)) return false;
  for (let i = 0; i < shape.length; i++) if (!isUint(shape[i])) return false;
  const p = u.parameters;
  if (p === undefined) return true;
  return isRecord(p) && optionalUint(p.binary_data_size) && optionalString(p.shared_memory_region)
    && optionalUint(p.shared_memory_offset) && optionalUint(p.shared_memory_byte_size);
}

function isRequestedOutput(u: unknown): boolean {
  if (!isRecord(u) || typeof u.name !== 'string') return false;
  const p = u.parameters;
  if (p === undefined) return true;
  return isRecord(p) && optionalBoolean(p.binary_data) && (p.classification === undefined || isUintNumber(p.classification))
    && optionalString(p.shared_memory_region) && optionalUint(p.shared_memory_offset) && optionalUint(p.shared_memory_byte_size);
}

/** True only where `InferRequest.is` is true (see above); false means "ask io-ts". */
export function isPlainInferRequest(u: unknown): u is InferRequest {
  if (!isRecord(u)) return false;
  if (!optionalString(u.id)) return false;
  if (u.parameters !== undefined && !isRequestParameters(u.parameters)) return false;
  const inputs = u.inputs;
  if (!Array.isArray(inputs)) return false;
  for (let i = 0; i < inputs.length; i++) if (!isInferInput(inputs[i])) return false;
  const outputs = u.outputs;
  if (outputs === undefined) return true;
  if (!Array.isArray(outputs)) return false;
  for (let i = 0; i < outputs.length; i++) if (!isRequestedOutput(outputs[i])) return false;
  return true;
}

// ---- model repository (protocol §1.8) ----

export const RepositoryIndexRequest = t.partial({ ready: t.boolean });
export type RepositoryIndexRequest = t.TypeOf<typeof RepositoryIndexRequest>;

/** `config` is a JSON string; `file:<version>/<name>` members carry base64 file contents. */
export const LoadRequest = t.partial({ parameters: t.record(t.string, t.string) });
export type LoadRequest = t.TypeOf<typeof LoadRequest>;

export const UnloadRequest = t.partial({ parameters: t.partial({ unload_dependents: t.boolean }) });
export type UnloadRequest = t.TypeOf<typeof UnloadRequest>;

// ---- logging and trace settings (protocol §1.10); `null` means "leave as is"/"reset" ----

const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

export const LogSettingsRequest = t.partial({
  log_file: nullable(t.string),
  log_info: nullable(t.boolean),
  log_warning: nullable(t.boolean),
  log_error: nullable(t.boolean),
  log_verbose_level: nullable(uintNumber),
  log_format: nullable(t.string),
});
export type LogSettingsRequest = t.TypeOf<typeof LogSettingsRequest>;

/** Trace values are strings on the wire (`"trace_rate":"1000"`); the level is an array. */
export const TraceSettingsRequest = t.partial({
  trace_file: nullable(t.string),
  trace_level: nullable(t.array(t.string)),
  trace_rate: nullable(t.string),
  trace_count: nullable(t.string),
  log_frequency: nullable(t.string),
  trace_mode: nullable(t.string),
});
export type TraceSettingsRequest = t.TypeOf<typeof TraceSettingsRequest>;
