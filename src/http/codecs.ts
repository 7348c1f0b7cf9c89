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
