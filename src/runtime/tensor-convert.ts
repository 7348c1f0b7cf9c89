// Conversion between HostTensor (wire-level typed arrays) and tfjs tensors.
// tfjs has float32, int32, bool and string tensors only: 64-bit and small integer types are
// narrowed to int32 with a range check, FP64/FP16 to float32.
import type * as tfType from '@tensorflow/tfjs-core';
import type { DataType, HostTensor, TensorData } from './types.js';
import { invalidArg } from './errors.js';

type Tf = typeof tfType;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** fp16 bit pattern → float32 value. */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → fp16 bit pattern, round to nearest even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? 1 : 0));
}

function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function toInt32(data: TensorData, name: string): Int32Array {
  if (data instanceof Int32Array) return data;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i] as number | bigint);
    if (v < INT32_MIN || v > INT32_MAX) {
      throw invalidArg(`value ${String(data[i])} of input '${name}' does not fit in int32, which the tfjs backends use for integer tensors`);
    }
    out[i] = v;
  }
  return out;
}

/** Creates a tfjs tensor from a host tensor. The caller owns (and disposes) the result. */
export function hostToTensor(tf: Tf, t: HostTensor): tfType.Tensor {
  const { data, shape } = t;
  switch (t.datatype) {
    case 'FP32': return tf.tensor(data as Float32Array, shape, 'float32');
    case 'FP64': return tf.tensor(Float32Array.from(data as Float64Array), shape, 'float32');
    case 'FP16': return tf.tensor(Float32Array.from(data as Uint16Array, halfToFloat), shape, 'float32');
    case 'BF16': return tf.tensor(Float32Array.from(data as Uint16Array, bf16ToFloat), shape, 'float32');
    case 'BOOL': return tf.tensor(data as Uint8Array, shape, 'bool');
    case 'BYTES': return tf.tensor(data as Uint8Array[], shape, 'string');
    default: return tf.tensor(toInt32(data, t.name), shape, 'int32');
  }
}

/** Copies host storage of `datatype` from numbers (tfjs readback), widening or narrowing as needed. */
export function numbersToTensorData(datatype: DataType, values: ArrayLike<number>): TensorData {
  const n = values.length;
  switch (datatype) {
    case 'FP32': return values instanceof Float32Array ? values : Float32Array.from(values);
    case 'FP64': return Float64Array.from(values);
    case 'FP16': return Uint16Array.from(values, floatToHalf);
    case 'BF16': return Uint16Array.from(values, floatToBf16);
    case 'BOOL': return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'UINT8': return Uint8Array.from(values);
    case 'INT8': return Int8Array.from(values);
    case 'UINT16': return Uint16Array.from(values);
    case 'INT16': return Int16Array.from(values);
    case 'UINT32': return Uint32Array.from(values);
    case 'INT32': return values instanceof Int32Array ? values : Int32Array.from(values);
    case 'UINT64': { const o = new BigUint64Array(n); for (let i = 0; i < n; i++) o[i] = BigInt(Math.trunc(values[i]!)); return o; }
    case 'INT64': { const o = new BigInt64Array(n); for (let i = 0; i < n; i++) o[i] = BigInt(Math.trunc(values[i]!)); return o; }
    case 'BYTES': throw new Error('BYTES tensors are not numeric');
  }
}

/** Reads a tfjs tensor back to a host tensor of the given protocol datatype (does not dispose it). */
export async function tensorToHost(tensor: tfType.Tensor, name: string, datatype: DataType): Promise<HostTensor> {
  const shape = tensor.shape.slice();
  if (datatype === 'BYTES') {
    const values = (await tensor.data()) as unknown as Uint8Array[] | string[];
    const enc = new TextEncoder();
    const data = (values as (Uint8Array | string)[]).map((v) => (typeof v === 'string' ? enc.encode(v) : v));
    return { name, datatype, shape, data };
  }
  const values = (await tensor.data()) as Float32Array | Int32Array | Uint8Array;
  return { name, datatype, shape, data: numbersToTensorData(datatype, values) };
}
