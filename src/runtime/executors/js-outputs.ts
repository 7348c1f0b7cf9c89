// Turns what a JavaScript model returns for one output into a HostTensor that matches the model
// config, or explains precisely what is wrong (the model author reads these messages).
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, HostTensor, TensorData } from '../types.js';
import { elementCount, toProtocolDataType } from '../types.js';
import type { ModelOutput } from '../model-config.js';
import { numbersToTensorData, tensorToHost } from '../tensor-convert.js';
import { internal } from '../errors.js';

/** A flat array of element values, row-major. */
export type JsArray = TensorData | number[] | bigint[] | boolean[] | string[];

/** A tensor written by hand; `datatype` defaults to the declared one. */
export interface JsTensorLike {
  data: JsArray;
  shape: number[];
  datatype?: DataType;
}

/** What `infer` may return per output. */
export type JsOutput = JsTensorLike | JsArray | tf.Tensor;

const TYPED_ARRAY_OF: Partial<Record<DataType, new (n: number) => ArrayBufferView>> = {
  BOOL: Uint8Array, UINT8: Uint8Array, INT8: Int8Array, UINT16: Uint16Array, INT16: Int16Array,
  UINT32: Uint32Array, INT32: Int32Array, UINT64: BigUint64Array, INT64: BigInt64Array,
  FP16: Uint16Array, BF16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
};

export function isTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

function isJsArray(v: unknown): v is JsArray {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** Declared output shape for this execution: dims with the batch dim in front when batched. */
function declaredShape(spec: ModelOutput, batchSize: number | undefined): number[] {
  return batchSize === undefined ? spec.dims.slice() : [batchSize, ...spec.dims];
}

function inferShape(where: string, declared: number[], length: number): number[] {
  const unknown = declared.filter((d) => d < 0).length;
  const known = declared.reduce((p, d) => (d < 0 ? p : p * d), 1);
  if (unknown === 0) {
    if (known !== length) throw internal(`${where}: got ${length} elements, expected ${known} for shape [${declared.join(',')}]`);
    return declared;
  }
  if (unknown > 1) throw internal(`${where}: cannot infer a shape for [${declared.join(',')}] from a flat array; return { data, shape }`);
  if (known === 0 || length % known !== 0) throw internal(`${where}: ${length} elements do not fit shape [${declared.join(',')}]`);
  return declared.map((d) => (d < 0 ? length / known : d));
}

function checkShape(where: string, shape: number[], declared: number[], batched: boolean): void {
  const ok = shape.length === declared.length && shape.every((d, i) => Number.isInteger(d) && d >= 0 && (declared[i]! < 0 || declared[i] === d));
  if (!ok) {
    const what = batched ? `[${declared.join(',')}] (batch size first)` : `[${declared.join(',')}]`;
    throw internal(`${where}: shape [${shape.join(',')}] does not match the declared shape ${what}`);
  }
}

const encoder = new TextEncoder();

function toBytes(where: string, data: JsArray): Uint8Array[] {
  const out: Uint8Array[] = new Array<Uint8Array>(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (v instanceof Uint8Array) out[i] = v;
    else if (typeof v === 'string') out[i] = encoder.encode(v);
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') out[i] = encoder.encode(String(v));
    else throw internal(`${where}: BYTES element ${i} is ${typeof v}, expected string or Uint8Array`);
  }
  return out;
}

function toNumeric(where: string, datatype: Exclude<DataType, 'BYTES'>, data: JsArray): TensorData {
  const Ctor = TYPED_ARRAY_OF[datatype]!;
  // The exact typed array: taken as is (for FP16/BF16 a Uint16Array holds the raw bit patterns).
  if (data instanceof Ctor) return data as TensorData;
  const n = data.length;
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const out = datatype === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) {
      const v: unknown = data[i];
      if (typeof v === 'bigint') out[i] = v;
      else if (typeof v === 'number' && Number.isInteger(v)) out[i] = BigInt(v);
      else if (typeof v === 'boolean') out[i] = v ? 1n : 0n;
      else throw internal(`${where}: element ${i} (${String(v)}) is not an integer`);
    }
    return out;
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v: unknown = data[i];
    if (typeof v === 'number') values[i] = v;
    else if (typeof v === 'bigint' || typeof v === 'boolean') values[i] = Number(v);
    else throw internal(`${where}: element ${i} is ${v instanceof Uint8Array ? 'bytes' : typeof v}, expected a number for ${datatype}`);
  }
  return numbersToTensorData(datatype, values);
}

/**
 * Converts one returned output. `batchSize` is set for batched models (the outputs then carry a
 * leading batch dimension of that size). Tensors are read back but not disposed here.
 */
export async function toHostOutput(model: string, value: unknown, spec: ModelOutput, batchSize: number | undefined): Promise<HostTensor> {
  const where = `model '${model}' output '${spec.name}'`;
  const datatype = toProtocolDataType(spec.data_type);
  if (!datatype) throw internal(`${where}: config data_type ${spec.data_type} is not executable`);
  const declared = declaredShape(spec, batchSize);

  if (isTensor(value)) {
    const host = await tensorToHost(value, spec.name, datatype);
    checkShape(where, host.shape, declared, batchSize !== undefined);
    return host;
  }

  let data: JsArray;
  let shape: number[];
  if (isJsArray(value)) {
    data = value;
    shape = inferShape(where, declared, value.length);
  } else if (typeof value === 'object' && value !== null && 'data' in value && 'shape' in value) {
    const t = value as JsTensorLike;
    if (!isJsArray(t.data)) throw internal(`${where}: 'data' must be an array or a typed array`);
    if (!Array.isArray(t.shape)) throw internal(`${where}: 'shape' must be an array of numbers`);
    if (t.datatype !== undefined && t.datatype !== datatype) {
      throw internal(`${where}: datatype ${t.datatype} does not match the declared ${datatype}`);
    }
    data = t.data;
    shape = t.shape.slice();
    checkShape(where, shape, declared, batchSize !== undefined);
    if (elementCount(shape) !== data.length) {
      throw internal(`${where}: ${data.length} elements do not match shape [${shape.join(',')}] (${elementCount(shape)} elements)`);
    }
  } else {
    throw internal(`${where}: expected a tfjs Tensor, an array, a typed array or { data, shape }, got ${value === null ? 'null' : typeof value}`);
  }
  const converted = datatype === 'BYTES' ? toBytes(where, data) : toNumeric(where, datatype, data);
  return { name: spec.name, datatype, shape, data: converted };
}
