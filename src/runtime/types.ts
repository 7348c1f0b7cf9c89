// Core data types shared by every layer. Nothing here imports tfjs or HTTP code, so both
// `src/http` and `src/runtime` may depend on it.

/** Datatypes of the KServe v2 / Triton protocol. */
export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES', 'BF16',
] as const;
export type DataType = (typeof DATATYPES)[number];

export function isDataType(s: string): s is DataType {
  return (DATATYPES as readonly string[]).includes(s);
}

/** Bytes per element of a fixed-size datatype; BYTES has no fixed size. */
export const ELEMENT_SIZE: Readonly<Record<Exclude<DataType, 'BYTES'>, number>> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2,
  UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8,
};

/**
 * Host-side storage of one tensor's elements, row-major.
 * BOOL is a Uint8Array of 0/1; FP16 and BF16 are the raw 16-bit patterns in a Uint16Array;
 * BYTES is one Uint8Array per element.
 */
export type TensorData =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigUint64Array | BigInt64Array | Float32Array | Float64Array | Uint8Array[];

/** A tensor as it crosses the runtime boundary (decoded request input or model output). */
export interface HostTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: TensorData;
}

export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

/** Model configuration datatypes as written in config.pbtxt (`TYPE_*`). */
export type ConfigDataType =
  | 'TYPE_INVALID' | 'TYPE_BOOL' | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64'
  | 'TYPE_INT8' | 'TYPE_INT16' | 'TYPE_INT32' | 'TYPE_INT64' | 'TYPE_FP16' | 'TYPE_FP32' | 'TYPE_FP64'
  | 'TYPE_STRING' | 'TYPE_BF16';

/** Protocol datatype of a config datatype (TYPE_STRING is BYTES on the wire). */
export function toProtocolDataType(t: ConfigDataType): DataType | undefined {
  if (t === 'TYPE_STRING') return 'BYTES';
  if (t === 'TYPE_INVALID') return undefined;
  const s = t.slice('TYPE_'.length);
  return isDataType(s) ? s : undefined;
}

export function toConfigDataType(t: DataType): ConfigDataType {
  return t === 'BYTES' ? 'TYPE_STRING' : (`TYPE_${t}` as ConfigDataType);
}

/** Zeroed storage for `count` elements of a fixed-size datatype. */
export function allocateFixedTensorData(datatype: Exclude<DataType, 'BYTES'>, count: number): Exclude<TensorData, Uint8Array[]> {
  switch (datatype) {
    case 'BOOL': case 'UINT8': return new Uint8Array(count);
    case 'INT8': return new Int8Array(count);
    case 'UINT16': case 'FP16': case 'BF16': return new Uint16Array(count);
    case 'INT16': return new Int16Array(count);
    case 'UINT32': return new Uint32Array(count);
    case 'INT32': return new Int32Array(count);
    case 'UINT64': return new BigUint64Array(count);
    case 'INT64': return new BigInt64Array(count);
    case 'FP32': return new Float32Array(count);
    case 'FP64': return new Float64Array(count);
  }
}

/** Zeroed storage for `count` elements of `datatype` (BYTES: empty byte strings). */
export function allocateTensorData(datatype: DataType, count: number): TensorData {
  return datatype === 'BYTES'
    ? Array.from({ length: count }, () => new Uint8Array(0))
    : allocateFixedTensorData(datatype, count);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
