// What a TF.js model says about its inputs and outputs, and the Triton config that follows.
import type * as tfType from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ConfigDataType } from '../types.js';
import type { ModelInput, ModelOutput } from '../model-config.js';
import type { DerivedConfig } from '../executor.js';

/**
 * max_batch_size auto-completed for a model whose every input and output has a free leading
 * dimension. 4 is what Triton's auto-complete uses (its `default-max-batch-size` backend config),
 * so a model moved from Triton without a config.pbtxt gets the same value.
 */
export const DEFAULT_MAX_BATCH_SIZE = 4;

export interface TensorSignature {
  /** Name clients use (graph: the signature key; layers: the input/output layer name). */
  name: string;
  data_type: ConfigDataType;
  /** Full shape including any batch dimension; -1 = unknown. */
  shape: number[];
}

export interface ModelSignature { inputs: TensorSignature[]; outputs: TensorSignature[] }

export type TfjsModelKind = 'graph' | 'layers';

/** Graph models are GraphDefs (`node` list); layers models are Keras JSON (`class_name`/`config`). */
export function modelKind(json: tfType.io.ModelJSON): TfjsModelKind {
  if (json.format === 'graph-model') return 'graph';
  if (json.format === 'layers-model') return 'layers';
  const topo = json.modelTopology as { node?: unknown; class_name?: unknown; model_config?: unknown };
  if (Array.isArray(topo.node)) return 'graph';
  if (topo.class_name !== undefined || topo.model_config !== undefined) return 'layers';
  throw new Error('model.json is neither a TF.js graph model nor a layers model');
}

const TF_DTYPES: Record<string, ConfigDataType> = {
  DT_FLOAT: 'TYPE_FP32', DT_HALF: 'TYPE_FP16', DT_DOUBLE: 'TYPE_FP64', DT_BFLOAT16: 'TYPE_BF16',
  DT_INT8: 'TYPE_INT8', DT_INT16: 'TYPE_INT16', DT_INT32: 'TYPE_INT32', DT_INT64: 'TYPE_INT64',
  DT_UINT8: 'TYPE_UINT8', DT_UINT16: 'TYPE_UINT16', DT_UINT32: 'TYPE_UINT32', DT_UINT64: 'TYPE_UINT64',
  DT_BOOL: 'TYPE_BOOL', DT_STRING: 'TYPE_STRING',
};

const TFJS_DTYPES: Record<string, ConfigDataType> = {
  float32: 'TYPE_FP32', int32: 'TYPE_INT32', bool: 'TYPE_BOOL', string: 'TYPE_STRING',
};

interface TensorShapeJson { dim?: { size?: string | number }[]; unknownRank?: boolean }
interface TensorInfoJson { name?: string; dtype?: string; tensorShape?: TensorShapeJson }
interface NodeJson { name: string; op: string }

function dims(shape: TensorShapeJson | undefined, where: string): number[] {
  if (!shape || shape.unknownRank) throw new Error(`${where} has an unknown rank; write its dims in config.pbtxt`);
  return (shape.dim ?? []).map((d) => Number(d.size ?? -1));
}

function dtype(dt: string | undefined, where: string): ConfigDataType {
  const t = dt ? TF_DTYPES[dt] : undefined;
  if (!t) throw new Error(`${where} has dtype ${String(dt)}, which dawnserve cannot serve`);
  return t;
}

/** Inputs and outputs of a graph model from its `signature` (what tfjs-converter writes). */
export function graphSignature(json: tfType.io.ModelJSON): ModelSignature {
  const sig = json.signature as { inputs?: Record<string, TensorInfoJson>; outputs?: Record<string, TensorInfoJson> } | undefined;
  const fromMap = (m: Record<string, TensorInfoJson>, kind: string) =>
    Object.entries(m).map(([key, info]) => ({ name: key, data_type: dtype(info.dtype, `${kind} '${key}'`), shape: dims(info.tensorShape, `${kind} '${key}'`) }));
  if (sig?.inputs && sig.outputs) return { inputs: fromMap(sig.inputs, 'input'), outputs: fromMap(sig.outputs, 'output') };
  const placeholders = ((json.modelTopology as { node?: NodeJson[] }).node ?? []).filter((n) => n.op === 'Placeholder').map((n) => n.name);
  throw new Error(`graph model has no signature, so its outputs are unknown; write config.pbtxt (placeholders: ${placeholders.join(', ') || 'none'})`);
}

/** Inputs and outputs of a loaded layers model. */
export function layersSignature(model: LayersModel): ModelSignature {
  const one = (name: string, t: { shape: (number | null)[]; dtype: string }, kind: string): TensorSignature => {
    const dt = TFJS_DTYPES[t.dtype];
    if (!dt) throw new Error(`${kind} '${name}' has dtype ${t.dtype}, which dawnserve cannot serve`);
    return { name, data_type: dt, shape: t.shape.map((d) => d ?? -1) };
  };
  return {
    inputs: model.inputs.map((t, i) => one(model.inputNames[i]!, t, 'input')),
    outputs: model.outputs.map((t, i) => one(model.outputNames[i]!, t, 'output')),
  };
}

/** Triton's auto-complete: a free leading dim on every tensor means the model batches. */
export function signatureToConfig(sig: ModelSignature): DerivedConfig {
  const all = [...sig.inputs, ...sig.outputs];
  const batched = all.length > 0 && all.every((t) => t.shape.length >= 1 && t.shape[0] === -1);
  const d = (t: TensorSignature) => (batched ? t.shape.slice(1) : t.shape.slice());
  const input: ModelInput[] = sig.inputs.map((t) => ({
    name: t.name, data_type: t.data_type, format: 'FORMAT_NONE', dims: d(t), is_shape_tensor: false, allow_ragged_batch: false, optional: false,
  }));
  const output: ModelOutput[] = sig.outputs.map((t) => ({
    name: t.name, data_type: t.data_type, dims: d(t), label_filename: '', is_shape_tensor: false,
  }));
  return { platform: 'tensorflowjs', max_batch_size: batched ? DEFAULT_MAX_BATCH_SIZE : 0, input, output };
}
