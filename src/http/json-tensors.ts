// Tensors in JSON (protocol §1.4/§1.5): decoding request `data` into HostTensor with Triton's
// strict element typing and messages, and writing output `data` compactly and flat.
import { InferenceServerError, invalidArg } from '../runtime/errors.js';
import { allocateFixedTensorData, ELEMENT_SIZE, isDataType, type DataType, type HostTensor, type TensorData } from '../runtime/types.js';
import { accessorText, unableToParse, type JsonKind } from './decode-error.js';
import { JsonDouble } from './json.js';

export const MAX_JSON_DEPTH = 100;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Validates a request shape and returns it as numbers. Triton rejects shapes whose element
 * count or byte size does not fit int64 before touching any data.
 */
export function checkShape(name: string, datatype: string, dims: readonly (number | bigint)[]): number[] {
  // Fast path: small shapes never need bigint arithmetic.
  let n = 1;
  let small = true;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number') { small = false; break; }
    n *= d;
  }
  if (small && n * 8 <= Number.MAX_SAFE_INTEGER) return dims as number[];
  let count = 1n;
  for (const d of dims) count *= BigInt(d);
  const shapeText = `[${dims.join(',')}]`;
  if (count > INT64_MAX) {
    throw invalidArg(`invalid shape for input '${name}': shape ${shapeText} causes total element count to exceed maximum size of ${INT64_MAX}`);
  }
  if (isDataType(datatype) && datatype !== 'BYTES' && count * BigInt(ELEMENT_SIZE[datatype]) > INT64_MAX) {
    throw invalidArg(`byte size overflow for input '${name}': shape ${shapeText} with datatype ${datatype} exceeds the maximum size of ${INT64_MAX} bytes`);
  }
  return dims.map(Number);
}

/** Elements of a checked shape (callers ran checkShape, so this is exact enough to compare). */
export function shapeElementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function parseDataType(name: string, datatype: string): DataType {
  if (!isDataType(datatype)) throw invalidArg(`invalid datatype for input ${name}`);
  return datatype;
}

export function jsonInputTooLarge(name: string, byteSize: number, maxInputSize: number): InferenceServerError {
  return invalidArg(`JSON input '${name}' has a byte_size (${byteSize} bytes) that exceeds the maximum allowed value of ${maxInputSize} bytes. Use --http-max-input-size to increase the limit.`);
}

const tooMany = () => new InferenceServerError('INTERNAL', "Unable to parse 'data': Shape does not match true shape of 'data' field");
const tooFew = () => new InferenceServerError('INTERNAL', "Failed to parse 'data' field: shape does not match true shape");
const depthExceeded = () => invalidArg(`JSON nesting depth exceeds maximum allowed limit (${MAX_JSON_DEPTH})`);

/** Converts one JSON element; returns undefined when the JSON type is wrong for the datatype. */
type ElementReader = (v: unknown) => number | bigint | undefined;

function readerFor(dt: Exclude<DataType, 'BYTES' | 'FP16' | 'BF16'>): { read: ElementReader; kind: JsonKind } {
  switch (dt) {
    case 'BOOL':
      return { kind: 'boolean', read: (v) => (v === true ? 1 : v === false ? 0 : undefined) };
    case 'INT8': case 'INT16': case 'INT32':
      return { kind: 'int', read: (v) => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX ? Number(BigInt.asIntN(32, v)) : undefined) };
    case 'UINT8': case 'UINT16': case 'UINT32':
      return { kind: 'uint', read: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : typeof v === 'bigint' && v >= 0n ? Number(BigInt.asUintN(32, v)) : undefined) };
    case 'INT64':
      return { kind: 'int', read: (v) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX ? v : undefined) };
    case 'UINT64':
      return { kind: 'uint', read: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? BigInt(v) : typeof v === 'bigint' && v >= 0n && v <= UINT64_MAX ? v : undefined) };
    case 'FP32': case 'FP64':
      return { kind: 'number', read: (v) => (typeof v === 'number' ? v : v instanceof JsonDouble ? v.value : typeof v === 'bigint' ? Number(v) : undefined) };
  }
}

export interface JsonInput {
  name: string;
  datatype: string;
  shape: readonly (number | bigint)[];
  data?: unknown;
}

/**
 * Decodes one JSON input (the caller has already checked that `data` is the input's only data
 * source). Nothing is allocated until the shape and byte size are known to be acceptable.
 */
export function decodeJsonTensor(input: JsonInput, maxInputSize: number): HostTensor {
  const { name } = input;
  const datatype = parseDataType(name, input.datatype);
  return decodeJsonData(name, datatype, checkShape(name, datatype, input.shape), input.data, maxInputSize);
}

/** decodeJsonTensor once the datatype and shape have been checked (parseDataType, checkShape). */
export function decodeJsonData(name: string, datatype: DataType, shape: number[], json: unknown, maxInputSize: number): HostTensor {
  const count = shapeElementCount(shape);
  if (count === 0) return { name, datatype, shape, data: allocateEmpty(datatype) };
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw invalidArg(`receiving ${datatype} data via JSON is not supported. Please use the binary data format for input ${name}`);
  }
  if (!Array.isArray(json)) throw unableToParse('data', accessorText('array'));
  if (datatype === 'BYTES') return { name, datatype, shape, data: decodeBytes(json, name, count, maxInputSize) };

  const byteSize = count * ELEMENT_SIZE[datatype];
  if (byteSize > maxInputSize) throw jsonInputTooLarge(name, byteSize, maxInputSize);
  const data = allocateFixedTensorData(datatype, count);
  // Fast path: well-formed data (flat, or nested as the shape) fills the typed array in one walk.
  // Anything else — a wrong element type, too many or too few elements, mixed nesting — is
  // decided by the walk below, which reports what Triton reports at the element where it does.
  if (fillFast(datatype, json, data, 0, 1) === count) return { name, datatype, shape, data };
  const { read, kind } = readerFor(datatype);
  let idx = 0;
  const fill = (arr: unknown[], depth: number): void => {
    if (depth > MAX_JSON_DEPTH) throw depthExceeded();
    for (let k = 0; k < arr.length; k++) {
      const v = arr[k];
      if (Array.isArray(v)) {
        fill(v, depth + 1);
        continue;
      }
      if (idx >= count) throw tooMany();
      const x = read(v);
      if (x === undefined) throw unableToParse('data', accessorText(kind));
      (data as { [i: number]: number | bigint })[idx++] = x;
    }
  };
  fill(json, 1);
  if (idx < count) throw tooFew();
  return { name, datatype, shape, data };
}

/**
 * Writes the elements of `arr` (an array of plain JSON numbers/booleans, or of such arrays) into
 * `out` from `at`; returns where it stopped, or -1 on anything it does not handle. Writes past
 * the end of a typed array are dropped, so too many elements show up as a larger return value.
 */
function fillFast(datatype: DataType, arr: unknown[], out: Exclude<TensorData, Uint8Array[]>, at: number, depth: number): number {
  if (arr.length > 0 && Array.isArray(arr[0])) {
    if (depth >= MAX_JSON_DEPTH) return -1;
    for (let k = 0; k < arr.length; k++) {
      const v = arr[k];
      if (!Array.isArray(v)) return -1;
      at = fillFast(datatype, v, out, at, depth + 1);
      if (at < 0) return -1;
    }
    return at;
  }
  const target = out as { [i: number]: number };
  const n = arr.length;
  switch (datatype) {
    case 'INT8': case 'INT16': case 'INT32':
      for (let k = 0; k < n; k++) {
        const v = arr[k];
        if (typeof v !== 'number' || !Number.isInteger(v)) return -1;
        target[at + k] = v;
      }
      return at + n;
    case 'UINT8': case 'UINT16': case 'UINT32':
      for (let k = 0; k < n; k++) {
        const v = arr[k];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return -1;
        target[at + k] = v;
      }
      return at + n;
    case 'FP32': case 'FP64':
      for (let k = 0; k < n; k++) {
        const v = arr[k];
        if (typeof v !== 'number') return -1;
        target[at + k] = v;
      }
      return at + n;
    case 'BOOL':
      for (let k = 0; k < n; k++) {
        const v = arr[k];
        if (typeof v !== 'boolean') return -1;
        target[at + k] = v ? 1 : 0;
      }
      return at + n;
    default:
      return -1;
  }
}

function decodeBytes(top: unknown[], name: string, count: number, maxInputSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let byteSize = 0;
  const fill = (arr: unknown[], depth: number): void => {
    if (depth > MAX_JSON_DEPTH) throw depthExceeded();
    for (let k = 0; k < arr.length; k++) {
      const v = arr[k];
      if (Array.isArray(v)) {
        fill(v, depth + 1);
        continue;
      }
      if (out.length >= count) throw tooMany();
      if (typeof v !== 'string') throw unableToParse('data', accessorText('string'));
      const bytes = utf8.encode(v);
      // Each BYTES element is sized as on the binary wire: 4-byte length + content.
      byteSize += 4 + bytes.length;
      if (byteSize > maxInputSize) throw jsonInputTooLarge(name, byteSize, maxInputSize);
      out.push(bytes);
    }
  };
  fill(top, 1);
  if (out.length < count) throw tooFew();
  return out;
}

function allocateEmpty(datatype: DataType): TensorData {
  return datatype === 'BYTES' ? [] : allocateFixedTensorData(datatype, 0);
}

// ---- output side ----

/**
 * The `data` array text of an output: flat, compact. FP32 is widened to double as JS reads a
 * Float32Array (Triton does the same); NaN/Inf become null as JSON.stringify would write them.
 */
export function jsonOutputData(tensor: HostTensor): string {
  const { datatype, data } = tensor;
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw invalidArg(`sending ${datatype} data via JSON is not supported. Please use the binary data format for output ${tensor.name}`);
  }
  if (Array.isArray(data)) {
    // BYTES: invalid UTF-8 is replaced (U+FFFD); such outputs should be requested as binary.
    let s = '[';
    for (let i = 0; i < data.length; i++) {
      if (i > 0) s += ',';
      s += JSON.stringify(utf8Decoder.decode(data[i]));
    }
    return s + ']';
  }
  if (datatype === 'BOOL') {
    let s = '[';
    for (let i = 0; i < data.length; i++) s += (i > 0 ? ',' : '') + (data[i] ? 'true' : 'false');
    return s + ']';
  }
  const numbers = data as { length: number; [i: number]: number | bigint };
  const n = numbers.length;
  if (n === 0) return '[]';
  if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = data as Float32Array | Float64Array;
    if (!allFinite(floats)) return `[${Array.from(floats, (v) => (Number.isFinite(v) ? String(v) : 'null')).join(',')}]`;
    // Element to text is String(v) either way; measured here, a concatenation loop wins below
    // ~64 elements and TypedArray#join (one flat string, no rope) by 1.5–2× on large tensors.
    return n < JOIN_FROM ? concatNumbers(numbers) : `[${floats.join(',')}]`;
  }
  return n < JOIN_FROM ? concatNumbers(numbers) : `[${(data as Int32Array).join(',')}]`;
}

const JOIN_FROM = 64;

function concatNumbers(numbers: { length: number; [i: number]: number | bigint }): string {
  let s = '[' + numbers[0];
  for (let i = 1; i < numbers.length; i++) s += ',' + numbers[i];
  return s + ']';
}

/** No NaN or ±Infinity (v - v is NaN for exactly those). */
function allFinite(a: Float32Array | Float64Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    acc += v - v;
  }
  return acc === 0;
}
