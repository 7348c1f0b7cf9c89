// ONNX model parsing: ModelProto → a plain, typed graph with host-side initializers.
// The schema is ONNX's own onnx.proto (Apache-2.0, copied from python3-onnx 1.12), parsed by
// protobufjs at runtime so no generated code has to be kept in sync.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { halfToFloat } from '../tensor-convert.js';
import { invalidArg } from '../errors.js';

/** tfjs holds float32, int32 and bool only; every ONNX tensor is narrowed to one of these. */
export type TfDType = 'float32' | 'int32' | 'bool';
export type ConstData = Float32Array | Int32Array | Uint8Array;

/** A constant (initializer or Constant node value) kept on the host until the plan uploads it. */
export interface ConstTensor {
  dtype: TfDType;
  /** ONNX TensorProto.DataType it came from (kept so Cast/outputs can name the original type). */
  onnxType: number;
  shape: number[];
  data: ConstData;
}

export type AttrValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: ConstTensor }
  | { kind: 'graph'; value: OnnxGraph }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  /** '' marks an omitted optional input/output, as in ONNX. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttrValue>;
}

/** A dimension: a number, a symbolic name (e.g. 'batch'), or null when the model says nothing. */
export type OnnxDim = number | string | null;

export interface ValueInfo {
  name: string;
  /** ONNX TensorProto.DataType. */
  elemType: number;
  /** undefined: rank unknown. */
  dims?: OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, ConstTensor>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: Map<string, ValueInfo>;
}

export interface OnnxModel {
  irVersion: number;
  /** Version of the default ('' / 'ai.onnx') operator set. */
  opset: number;
  producer: string;
  graph: OnnxGraph;
}

/** ONNX TensorProto.DataType values. */
export const OnnxType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OnnxType).map(([k, v]) => [v, k]));
export const onnxTypeName = (t: number): string => TYPE_NAMES[t] ?? `type ${t}`;

/** The tfjs dtype an ONNX element type executes as, or undefined when tfjs cannot hold it. */
export function tfDTypeOf(onnxType: number): TfDType | undefined {
  switch (onnxType) {
    case OnnxType.FLOAT: case OnnxType.FLOAT16: case OnnxType.DOUBLE: case OnnxType.BFLOAT16: return 'float32';
    case OnnxType.BOOL: return 'bool';
    case OnnxType.UINT8: case OnnxType.INT8: case OnnxType.UINT16: case OnnxType.INT16:
    case OnnxType.INT32: case OnnxType.INT64: case OnnxType.UINT32: case OnnxType.UINT64: return 'int32';
    default: return undefined;
  }
}

// ---- protobufjs message shapes (only the fields read here) ----

/** int64 fields decode as Long (when the `long` package is present), number, bigint or string. */
type Int64 = number | bigint | string | { low: number; high: number; unsigned?: boolean };

interface TensorShapeDimMsg { dimValue?: Int64; dimParam?: string }
interface TypeMsg { tensorType?: { elemType?: number; shape?: { dim?: TensorShapeDimMsg[] } } }
interface ValueInfoMsg { name: string; type?: TypeMsg }
interface StringStringMsg { key: string; value: string }
interface TensorMsg {
  name: string; dataType: number; dims: Int64[]; rawData?: Uint8Array;
  floatData: number[]; int32Data: number[]; int64Data: Int64[]; doubleData: number[]; uint64Data: Int64[];
  dataLocation?: number; externalData: StringStringMsg[];
}
interface AttributeMsg {
  name: string; type: number; f: number; i: Int64; s: Uint8Array; t?: TensorMsg; g?: GraphMsg;
  floats: number[]; ints: Int64[]; strings: Uint8Array[];
}
interface NodeMsg { name: string; opType: string; domain: string; input: string[]; output: string[]; attribute: AttributeMsg[] }
interface GraphMsg {
  name: string; node: NodeMsg[]; initializer: TensorMsg[]; input: ValueInfoMsg[]; output: ValueInfoMsg[];
  valueInfo: ValueInfoMsg[];
}
interface ModelMsg { irVersion: Int64; opsetImport: { domain: string; version: Int64 }[]; producerName: string; graph?: GraphMsg }

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

export function int64ToBigInt(v: Int64): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  const u = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? u : BigInt.asIntN(64, u);
}

/** Small int64 values (dims, attributes); exact for |v| < 2^53. Sentinels saturate (see narrowInt64). */
function int64ToNumber(v: Int64): number {
  return typeof v === 'number' ? v : Number(int64ToBigInt(v));
}

/**
 * int64 → int32 for tfjs. ±(2^63−1) and −2^63 are the "to the end" sentinels PyTorch writes into
 * Slice ends and similar, so they saturate to the int32 range; any other value that does not fit
 * is an error naming the tensor.
 */
function narrowInt64(v: bigint, what: string): number {
  if (v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX)) return Number(v);
  if (v === INT64_MAX) return INT32_MAX;
  if (v === INT64_MIN || v === -INT64_MAX) return INT32_MIN;
  throw invalidArg(`ONNX ${what}: int64 value ${v} does not fit in int32, which the tfjs backends use for integer tensors`);
}

let modelType: protobuf.Type | undefined;

/** Finds onnx.proto next to this module (tsx) or in the package's src tree (compiled dist/). */
function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'onnx.proto');
  if (existsSync(beside)) return beside;
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'runtime', 'onnx', 'onnx.proto');
    if (dirname(dir) === dir) return beside;
  }
}

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(readFileSync(protoPath(), 'utf8'), { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

function has(msg: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, field);
}

function dimsOf(type: TypeMsg | undefined): { elemType: number; dims?: OnnxDim[] } {
  const tt = type?.tensorType;
  if (!tt) return { elemType: 0 };
  const shape = tt.shape;
  const dims = shape && has(tt, 'shape')
    ? (shape.dim ?? []).map((d): OnnxDim => (has(d, 'dimValue') ? int64ToNumber(d.dimValue!) : has(d, 'dimParam') && d.dimParam ? d.dimParam : null))
    : undefined;
  return dims ? { elemType: tt.elemType ?? 0, dims } : { elemType: tt.elemType ?? 0 };
}

function valueInfo(v: ValueInfoMsg): ValueInfo {
  return { name: v.name, ...dimsOf(v.type) };
}

interface LoadCtx {
  /** Directory external data locations are relative to. */
  baseDir: string;
  /** External data files already read (several initializers usually share one file). */
  files: Map<string, Buffer>;
}

function externalBytes(t: TensorMsg, ctx: LoadCtx): Uint8Array {
  const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = kv.get('location');
  if (!location) throw invalidArg(`ONNX initializer '${t.name}': external data without a location`);
  if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
    throw invalidArg(`ONNX initializer '${t.name}': external data location '${location}' must stay inside the model folder`);
  }
  const file = resolve(ctx.baseDir, location);
  let buf = ctx.files.get(file);
  if (!buf) {
    if (!existsSync(file)) throw invalidArg(`ONNX initializer '${t.name}': external data file '${location}' not found next to the model`);
    buf = readFileSync(file);
    ctx.files.set(file, buf);
  }
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
  if (offset + length > buf.length) throw invalidArg(`ONNX initializer '${t.name}': external data range exceeds '${location}'`);
  return buf.subarray(offset, offset + length);
}

/** Copies `bytes` into a fresh, aligned ArrayBuffer (protobuf bytes may sit at any offset). */
function view(bytes: Uint8Array): DataView {
  const copy = bytes.slice();
  return new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
}

/** Decodes a TensorProto into host storage of its tfjs dtype. */
export function decodeTensor(t: TensorMsg, ctx: LoadCtx, what = `initializer '${t.name}'`): ConstTensor {
  const shape = t.dims.map(int64ToNumber);
  const count = shape.reduce((a, b) => a * b, 1);
  const dtype = tfDTypeOf(t.dataType);
  if (!dtype) throw invalidArg(`ONNX ${what}: element type ${onnxTypeName(t.dataType)} is not supported`);
  const raw = t.dataLocation === 1 ? externalBytes(t, ctx) : t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const base = { dtype, onnxType: t.dataType, shape };
  const out = dtype === 'float32' ? new Float32Array(count) : dtype === 'int32' ? new Int32Array(count) : new Uint8Array(count);
  const get = raw ? rawReader(t.dataType, view(raw), count, what) : typedReader(t, what);
  for (let i = 0; i < count; i++) out[i] = get(i);
  return { ...base, data: out };
}

function rawReader(type: number, dv: DataView, count: number, what: string): (i: number) => number {
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
  const need = (size[type] ?? 0) * count;
  if (dv.byteLength < need) throw invalidArg(`ONNX ${what}: raw data has ${dv.byteLength} bytes, expected ${need}`);
  switch (type) {
    case OnnxType.FLOAT: return (i) => dv.getFloat32(i * 4, true);
    case OnnxType.DOUBLE: return (i) => dv.getFloat64(i * 8, true);
    case OnnxType.FLOAT16: return (i) => halfToFloat(dv.getUint16(i * 2, true));
    case OnnxType.BFLOAT16: return (i) => new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!;
    case OnnxType.UINT8: case OnnxType.BOOL: return (i) => dv.getUint8(i);
    case OnnxType.INT8: return (i) => dv.getInt8(i);
    case OnnxType.UINT16: return (i) => dv.getUint16(i * 2, true);
    case OnnxType.INT16: return (i) => dv.getInt16(i * 2, true);
    case OnnxType.INT32: return (i) => dv.getInt32(i * 4, true);
    case OnnxType.UINT32: return (i) => narrowInt64(BigInt(dv.getUint32(i * 4, true)), what);
    case OnnxType.INT64: return (i) => narrowInt64(dv.getBigInt64(i * 8, true), what);
    case OnnxType.UINT64: return (i) => narrowInt64(dv.getBigUint64(i * 8, true), what);
    default: throw invalidArg(`ONNX ${what}: element type ${onnxTypeName(type)} is not supported`);
  }
}

function typedReader(t: TensorMsg, what: string): (i: number) => number {
  switch (t.dataType) {
    case OnnxType.FLOAT: return (i) => t.floatData[i]!;
    case OnnxType.DOUBLE: return (i) => t.doubleData[i]!;
    // fp16/bf16 and small integer types are stored one per int32_data element.
    case OnnxType.FLOAT16: return (i) => halfToFloat(t.int32Data[i]!);
    case OnnxType.BFLOAT16: return (i) => new Float32Array(new Uint32Array([t.int32Data[i]! << 16]).buffer)[0]!;
    case OnnxType.INT64: return (i) => narrowInt64(int64ToBigInt(t.int64Data[i]!), what);
    case OnnxType.UINT32: case OnnxType.UINT64: return (i) => narrowInt64(BigInt.asUintN(64, int64ToBigInt(t.uint64Data[i]!)), what);
    default: return (i) => t.int32Data[i]!;
  }
}

const decoder = new TextDecoder();

function attribute(a: AttributeMsg, node: string, ctx: LoadCtx): AttrValue | undefined {
  // AttributeProto.AttributeType; 0 (UNDEFINED) in old exporters: infer from the set field.
  switch (a.type) {
    case 1: return { kind: 'float', value: a.f };
    case 2: return { kind: 'int', value: int64ToNumber(a.i) };
    case 3: return { kind: 'string', value: decoder.decode(a.s) };
    case 4: return { kind: 'tensor', value: decodeTensor(a.t!, ctx, `attribute '${a.name}' of node '${node}'`) };
    case 5: return { kind: 'graph', value: graph(a.g!, ctx) };
    case 6: return { kind: 'floats', value: [...a.floats] };
    case 7: return { kind: 'ints', value: a.ints.map(int64ToNumber) };
    case 8: return { kind: 'strings', value: a.strings.map((s) => decoder.decode(s)) };
    default:
      if (has(a, 'f')) return { kind: 'float', value: a.f };
      if (has(a, 'i')) return { kind: 'int', value: int64ToNumber(a.i) };
      if (has(a, 's')) return { kind: 'string', value: decoder.decode(a.s) };
      if (a.ints.length) return { kind: 'ints', value: a.ints.map(int64ToNumber) };
      if (a.floats.length) return { kind: 'floats', value: [...a.floats] };
      return undefined; // sparse tensors, type protos: no op we run reads them
  }
}

function graph(g: GraphMsg, ctx: LoadCtx): OnnxGraph {
  const initializers = new Map<string, ConstTensor>();
  for (const t of g.initializer) initializers.set(t.name, decodeTensor(t, ctx));
  const nodes = g.node.map((n, i): OnnxNode => {
    const name = n.name || `${n.opType}_${i}`;
    const attributes = new Map<string, AttrValue>();
    for (const a of n.attribute) {
      const v = attribute(a, name, ctx);
      if (v) attributes.set(a.name, v);
    }
    return { name, opType: n.opType, domain: n.domain ?? '', inputs: [...n.input], outputs: [...n.output], attributes };
  });
  return {
    name: g.name,
    nodes,
    initializers,
    // IR < 4 lists initializers among the inputs too; they are not inputs a client feeds.
    inputs: g.input.filter((v) => !initializers.has(v.name)).map(valueInfo),
    outputs: g.output.map(valueInfo),
    valueInfo: new Map(g.valueInfo.map((v) => [v.name, valueInfo(v)])),
  };
}

/** Parses an ONNX model from bytes; `baseDir` resolves external data files. */
export function parseOnnxModel(bytes: Uint8Array, baseDir: string): OnnxModel {
  let msg: ModelMsg;
  try {
    msg = modelProtoType().decode(bytes) as unknown as ModelMsg;
  } catch (e) {
    throw invalidArg(`not a valid ONNX model: ${(e as Error).message}`);
  }
  if (!msg.graph) throw invalidArg('not a valid ONNX model: no graph');
  const irVersion = int64ToNumber(msg.irVersion);
  const main = msg.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  // IR 3+ always names its opsets; a model without one predates what we support.
  const opset = main ? int64ToNumber(main.version) : 1;
  if (opset < 7 || opset > 21) throw invalidArg(`ONNX opset ${opset} is not supported (supported: 7-21; tested: 11-18)`);
  return { irVersion, opset, producer: msg.producerName, graph: graph(msg.graph, { baseDir, files: new Map() }) };
}

/** Reads and parses `<path>`; external data is looked up next to it. */
export async function loadOnnxModel(path: string): Promise<OnnxModel> {
  return parseOnnxModel(await readFile(path), dirname(path));
}

/**
 * Encodes a ModelProto given as a plain object in protobufjs JSON form (camelCase fields, int64 as
 * number or string). Used by tests and tools that build small graphs without Python.
 */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  const type = modelProtoType();
  return type.encode(type.fromObject(model)).finish();
}
