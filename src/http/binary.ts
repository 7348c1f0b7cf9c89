// Binary tensor data extension (protocol §1.6): `Inference-Header-Content-Length` framing, raw
// tensor bytes in and out (little-endian, row-major, BYTES as uint32 length + content), and raw
// binary requests whose single input is deduced from the model configuration.
// Typed-array views assume a little-endian host, which every platform Node supports is.
import { invalidArg } from '../runtime/errors.js';
import type { ModelConfig } from '../runtime/model-config.js';
import { ELEMENT_SIZE, toProtocolDataType, type DataType, type HostTensor, type TensorData } from '../runtime/types.js';

export const INFER_HEADER = 'inference-header-content-length';

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/**
 * Length of the JSON header inside a body of `contentLength` bytes: undefined when the header is
 * absent (the whole body is JSON), 0 for a raw binary request. Texts as Triton's parser.
 */
export function parseInferHeaderLength(value: string | undefined, contentLength: number): number | undefined {
  if (value === undefined) return undefined;
  // std::stoi semantics: optional leading space and sign, then digits; trailing junk ignored.
  const m = /^\s*([+-]?\d+)/.exec(value);
  if (!m) throw invalidArg(`Unable to parse Inference-Header-Content-Length, got: ${value}`);
  const parsed = Number(m[1]);
  if (parsed > INT32_MAX || parsed < INT32_MIN) {
    throw invalidArg(`Unable to parse Inference-Header-Content-Length, value is out of range [ ${INT32_MIN}, ${INT32_MAX} ], got: ${value}`);
  }
  if (parsed < 0 || parsed > contentLength) {
    throw invalidArg(`inference header size should be in range (0, ${contentLength}), got: ${value}`);
  }
  return parsed;
}

/** Core (infer_request.cc) messages carry the request id prefix. */
export function coreMessage(id: string | undefined, message: string): string {
  return `[request id: ${id ? id : '<id_unknown>'}] ${message}`;
}

/** Walks the binary section that follows the JSON header, input by input. */
export class BinaryCursor {
  private offset: number;
  constructor(private readonly body: Buffer, start: number, private readonly model: string) {
    this.offset = start;
  }

  take(name: string, size: number): Buffer {
    const available = this.body.length - this.offset;
    if (size > available) {
      throw invalidArg(`unexpected size for input '${name}', expecting ${size - available} additional bytes for model '${this.model}'`);
    }
    const out = this.body.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }

  /** Extra bytes nobody claimed are an error. */
  finish(): void {
    if (this.offset !== this.body.length) throw invalidArg(`unexpected additional input data for model '${this.model}'`);
  }
}

/** A typed view of `bytes` (copied only when the offset is misaligned for the element type). */
function typedView(datatype: Exclude<DataType, 'BYTES'>, bytes: Buffer): Exclude<TensorData, Uint8Array[]> {
  const size = ELEMENT_SIZE[datatype];
  let buf = bytes.buffer;
  let off = bytes.byteOffset;
  if (off % size !== 0) {
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    buf = copy.buffer;
    off = 0;
  }
  const n = bytes.length / size;
  switch (datatype) {
    case 'BOOL': case 'UINT8': return new Uint8Array(buf, off, n);
    case 'INT8': return new Int8Array(buf, off, n);
    case 'UINT16': case 'FP16': case 'BF16': return new Uint16Array(buf, off, n);
    case 'INT16': return new Int16Array(buf, off, n);
    case 'UINT32': return new Uint32Array(buf, off, n);
    case 'INT32': return new Int32Array(buf, off, n);
    case 'UINT64': return new BigUint64Array(buf, off, n);
    case 'INT64': return new BigInt64Array(buf, off, n);
    case 'FP32': return new Float32Array(buf, off, n);
    case 'FP64': return new Float64Array(buf, off, n);
  }
}

export interface BinaryTensorSpec {
  name: string;
  datatype: DataType;
  shape: number[];
  model: string;
  /** Request id for the core-style message prefix. */
  id?: string;
}

/** Decodes one input's raw bytes; the byte size must match the shape exactly (Triton core). */
export function decodeBinaryTensor(spec: BinaryTensorSpec, bytes: Buffer): HostTensor {
  const { name, datatype, shape, model, id } = spec;
  let count = 1;
  for (const d of shape) count *= d;
  if (datatype === 'BYTES') return { name, datatype, shape, data: splitBytesElements(spec, bytes, count) };
  const expected = count * ELEMENT_SIZE[datatype];
  if (bytes.length !== expected) {
    throw invalidArg(coreMessage(id, `input byte size mismatch for input '${name}' for model '${model}'. Expected ${expected}, got ${bytes.length}`));
  }
  return { name, datatype, shape, data: typedView(datatype, bytes) };
}

/** Splits length-prefixed BYTES elements, checking the count against the shape. */
export function splitBytesElements(spec: BinaryTensorSpec, bytes: Buffer, expected: number): Uint8Array[] {
  const { name, model, id } = spec;
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 4) {
      throw invalidArg(coreMessage(id, `incomplete string length indicator for inference input '${name}' for model '${model}', expecting 4 bytes but only ${bytes.length - off} bytes available. Please make sure the string length indicator is in one 4-byte chunk.`));
    }
    const len = bytes.readUInt32LE(off);
    off += 4;
    if (bytes.length - off < len) {
      throw invalidArg(coreMessage(id, `incomplete string for inference input '${name}' for model '${model}', expecting string of length ${len} but only ${bytes.length - off} bytes available`));
    }
    if (out.length >= expected) {
      throw invalidArg(coreMessage(id, `unexpected number of string elements ${out.length + 1} for inference input '${name}' for model '${model}', expecting ${expected}`));
    }
    out.push(bytes.subarray(off, off + len));
    off += len;
  }
  if (out.length !== expected) {
    throw invalidArg(coreMessage(id, `expected ${expected} string elements for inference input '${name}' for model '${model}', got ${out.length}`));
  }
  return out;
}

export function rawInputTooLarge(byteSize: number, maxInputSize: number) {
  return invalidArg(`Raw input has a byte_size (${byteSize} bytes) that exceeds the maximum allowed value of ${maxInputSize} bytes. Use --http-max-input-size to increase the limit.`);
}

/**
 * The single input of a raw binary request (`Inference-Header-Content-Length: 0`), deduced from
 * the model configuration as Triton does: one input, at most one variable dimension, BYTES only
 * with dims [1]; batching models get a batch of 1.
 */
export function decodeRawInput(config: ModelConfig, body: Buffer, maxInputSize: number): HostTensor {
  if (body.length > maxInputSize) throw rawInputTooLarge(body.length, maxInputSize);
  const inputs = config.input;
  if (inputs.length !== 1) {
    throw invalidArg(`Raw request must only have 1 input (found 1) to be deduced but got ${inputs.length} inputs in '${config.name}' model configuration`);
  }
  const input = inputs[0]!;
  const datatype = toProtocolDataType(input.data_type);
  if (datatype === undefined) throw invalidArg(`invalid datatype for input ${input.name}`);
  const dims = input.reshape ? input.reshape.shape : input.dims;
  const batch = config.max_batch_size > 0 ? [1] : [];
  const spec = { name: input.name, datatype, model: config.name };
  if (datatype === 'BYTES') {
    if (!(dims.length === 1 && dims[0] === 1)) {
      throw invalidArg(`For BYTE datatype raw input '${input.name}', the model must have input shape [1]`);
    }
    // The whole body is one element; the wire form adds its length prefix, so we just wrap it.
    return { ...spec, shape: [...batch, 1], data: [body] };
  }
  const variable = dims.filter((d) => d < 0).length;
  if (variable > 1) {
    throw invalidArg(`The shape of the raw input '${input.name}' can not be deduced because there are more than one variable-sized dimension`);
  }
  const fixed = dims.reduce((n, d) => (d < 0 ? n : n * d), 1) * ELEMENT_SIZE[datatype];
  const shape = dims.map((d) => (d < 0 ? (fixed === 0 ? 0 : Math.floor(body.length / fixed)) : d));
  return decodeBinaryTensor({ ...spec, shape: [...batch, ...shape] }, body);
}

// ---- output side ----

/** Wire bytes of an output: a zero-copy view for fixed types (tiny ones copied), length-prefixed for BYTES. */
export function binaryOutputBytes(tensor: HostTensor): Buffer {
  const { data } = tensor;
  if (Array.isArray(data)) {
    let total = 0;
    for (const e of data) total += 4 + e.length;
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (const e of data) {
      out.writeUInt32LE(e.length, off);
      out.set(e, off + 4);
      off += 4 + e.length;
    }
    return out;
  }
  const size = data.byteLength;
  if (size > 0 && size <= ON_HEAP_MAX_BYTES && PLAIN_TYPED_ARRAYS.has(data.constructor)) {
    // Copied through a typed view of a pooled Buffer (whose offset is 8-byte aligned): reading
    // `.buffer` of a small typed array would move it out of the JS heap first, ~0.6 µs measured.
    const out = Buffer.allocUnsafe(size);
    if (out.byteOffset % data.BYTES_PER_ELEMENT === 0) {
      // The view has the source's own class, so set() copies the bytes unchanged.
      const View = data.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Uint8Array;
      new View(out.buffer, out.byteOffset, data.length).set(data as unknown as Uint8Array);
      return out;
    }
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Typed-array classes (a Buffer, whose constructor is Buffer, is not one of them). */
const PLAIN_TYPED_ARRAYS: ReadonlySet<unknown> = new Set([
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]);

/** V8 keeps typed arrays up to this size inside the JS heap (typed_array_max_size_in_heap). */
const ON_HEAP_MAX_BYTES = 64;
