// The one place that turns a failed decode into Triton's message text. Triton reads request JSON
// through TritonJson accessors and reports `Unable to parse '<member>': <accessor error>`; these
// accessor errors are INTERNAL (HTTP 500) in Triton, semantic checks are INVALID_ARG (400).
import * as t from 'io-ts';
import { InferenceServerError, type ErrorCode } from '../runtime/errors.js';

/** What a TritonJson accessor expected; names the accessor's error text. */
export type JsonKind = 'object' | 'array' | 'string' | 'boolean' | 'int' | 'uint' | 'number';

const ACCESSOR_TEXT: Record<JsonKind, string> = {
  object: 'attempt to access JSON non-object as object',
  array: 'attempt to access JSON non-array as array',
  string: 'attempt to access JSON non-string as string',
  boolean: 'attempt to access JSON non-boolean as boolean',
  int: 'attempt to access JSON non-signed-integer as signed-integer',
  uint: 'attempt to access JSON non-unsigned-integer as unsigned-integer',
  number: 'attempt to access JSON non-number as double',
};

export function accessorText(kind: JsonKind): string {
  return ACCESSOR_TEXT[kind];
}

export const missingMemberText = (member: string) => `attempt to access non-existing object member '${member}'`;

/** `Unable to parse '<field>': <accessor error>` — the TritonJson failure wording (500). */
export function unableToParse(field: string, detail: string): InferenceServerError {
  return new InferenceServerError('INTERNAL', `Unable to parse '${field}': ${detail}`);
}

/** The JSON kind a codec stands for, so custom leaf codecs only need a matching `name`. */
function kindOf(type: t.Decoder<unknown, unknown>): JsonKind {
  if (type instanceof t.ArrayType) return 'array';
  if (type instanceof t.InterfaceType || type instanceof t.PartialType || type instanceof t.DictionaryType
    || type instanceof t.IntersectionType || type.name === 'UnknownRecord') return 'object';
  if (type instanceof t.BooleanType) return 'boolean';
  if (type instanceof t.StringType) return 'string';
  if (type.name in ACCESSOR_TEXT) return type.name as JsonKind;
  return 'object';
}

export interface FailureSite {
  /** Innermost named member on the path (array indices and intersection parts skipped). */
  field: string;
  kind: JsonKind;
  missing: boolean;
  /** Full dotted path, for messages that want it. */
  path: string;
}

export function failureSite(error: t.ValidationError): FailureSite {
  const ctx = error.context;
  const leaf = ctx[ctx.length - 1];
  let field = '';
  const path: string[] = [];
  for (let k = 1; k < ctx.length; k++) {
    const entry = ctx[k] as t.ContextEntry;
    if (entry.key === '') continue;
    const parent = ctx[k - 1];
    // Intersection members appear as keys '0', '1', ...; they are not part of the JSON path.
    if (parent && (parent.type instanceof t.IntersectionType || parent.type instanceof t.UnionType)) continue;
    path.push(entry.key);
    if (!/^\d+$/.test(entry.key)) field = entry.key;
  }
  return {
    field,
    kind: leaf ? kindOf(leaf.type) : 'object',
    missing: leaf !== undefined && leaf.actual === undefined,
    path: path.join('.'),
  };
}

export interface DecodeOptions {
  /** Triton code of the resulting error; TritonJson failures are INTERNAL (500). */
  code?: ErrorCode;
  /** Builds the message from the failure site, for endpoints with their own wording. */
  message?: (site: FailureSite) => string;
}

/** Triton's default wording for a failure site. */
export function tritonJsonMessage(site: FailureSite): string {
  const detail = site.missing ? missingMemberText(site.field) : accessorText(site.kind);
  return `Unable to parse '${site.field}': ${detail}`;
}

/** Decodes `value` or throws InferenceServerError with Triton's text for the first failure. */
export function decodeOrThrow<A, O>(codec: t.Type<A, O, unknown>, value: unknown, opts: DecodeOptions = {}): A {
  // The type guard is several times cheaper than decode (no contexts, no Either); every codec's
  // guard accepts only values that are already its decoded type, so this is the same answer.
  if (codec.is(value)) return value;
  const result = codec.decode(value);
  if (result._tag === 'Right') return result.right;
  const first = result.left[0];
  const site: FailureSite = first ? failureSite(first) : { field: '', kind: 'object', missing: false, path: '' };
  const message = (opts.message ?? tritonJsonMessage)(site);
  throw new InferenceServerError(opts.code ?? 'INTERNAL', message);
}
