// ExecutorFactory for ONNX models (platform onnxruntime_onnx / backend onnxruntime), executed on
// TensorFlow.js through the plan in plan.ts instead of onnxruntime.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { DerivedConfig, Executor, ExecutorContext, ExecutorFactory, ExecuteRequest } from '../executor.js';
import type { ModelInput, ModelOutput } from '../model-config.js';
import type { ConfigDataType, DataType, HostTensor } from '../types.js';
import { toProtocolDataType } from '../types.js';
import { hostToTensor, tensorToHost } from '../tensor-convert.js';
import { invalidArg } from '../errors.js';
import { withBackend } from '../backends.js';
import type { OnnxModel, ValueInfo } from './model.js';
import { loadOnnxModel, OnnxType } from './model.js';
import { OnnxPlan } from './plan.js';

/**
 * max_batch_size given to models whose inputs and outputs all start with a symbolic dimension:
 * the value Triton's onnxruntime backend auto-complete uses (its `default-max-batch-size`).
 */
export const DEFAULT_MAX_BATCH_SIZE = 4;

const CONFIG_TYPES: Record<number, ConfigDataType> = {
  [OnnxType.FLOAT]: 'TYPE_FP32', [OnnxType.UINT8]: 'TYPE_UINT8', [OnnxType.INT8]: 'TYPE_INT8',
  [OnnxType.UINT16]: 'TYPE_UINT16', [OnnxType.INT16]: 'TYPE_INT16', [OnnxType.INT32]: 'TYPE_INT32',
  [OnnxType.INT64]: 'TYPE_INT64', [OnnxType.STRING]: 'TYPE_STRING', [OnnxType.BOOL]: 'TYPE_BOOL',
  [OnnxType.FLOAT16]: 'TYPE_FP16', [OnnxType.DOUBLE]: 'TYPE_FP64', [OnnxType.UINT32]: 'TYPE_UINT32',
  [OnnxType.UINT64]: 'TYPE_UINT64', [OnnxType.BFLOAT16]: 'TYPE_BF16',
};

export const configDataTypeOf = (elemType: number): ConfigDataType => CONFIG_TYPES[elemType] ?? 'TYPE_INVALID';

const isBatchDim = (v: ValueInfo) => v.dims !== undefined && v.dims.length > 0 && typeof v.dims[0] !== 'number';
const configDims = (v: ValueInfo, skip: number): number[] =>
  (v.dims ?? []).slice(skip).map((d) => (typeof d === 'number' ? d : -1));

/** Triton-style auto-complete: dtypes and dims from the graph; a shared symbolic first dim is the batch. */
export function deriveOnnxConfig(model: OnnxModel): DerivedConfig {
  const { inputs, outputs } = model.graph;
  const batched = inputs.length > 0 && [...inputs, ...outputs].every(isBatchDim);
  const skip = batched ? 1 : 0;
  return {
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    max_batch_size: batched ? DEFAULT_MAX_BATCH_SIZE : 0,
    input: inputs.map((v): ModelInput => ({
      name: v.name, data_type: configDataTypeOf(v.elemType), format: 'FORMAT_NONE', dims: configDims(v, skip),
      is_shape_tensor: false, allow_ragged_batch: false, optional: false,
    })),
    output: outputs.map((v): ModelOutput => ({
      name: v.name, data_type: configDataTypeOf(v.elemType), dims: configDims(v, skip), label_filename: '', is_shape_tensor: false,
    })),
  };
}

class OnnxExecutor implements Executor {
  private readonly outputTypes = new Map<string, DataType>();
  private readonly inputs: Map<string, ModelInput>;
  private readonly outputs: Map<string, ModelOutput>;

  constructor(private readonly plan: OnnxPlan, model: OnnxModel, private readonly ctx: ExecutorContext) {
    this.inputs = new Map(ctx.config.input.map((i) => [i.name, i]));
    this.outputs = new Map(ctx.config.output.map((o) => [o.name, o]));
    for (const v of model.graph.outputs) {
      const configured = this.outputs.get(v.name)?.data_type;
      const dt = toProtocolDataType(configured ?? configDataTypeOf(v.elemType)) ?? 'FP32';
      this.outputTypes.set(v.name, dt);
    }
  }

  /** Leading batch dim of a batched model, kept in front of any config `reshape`. */
  private lead(shape: number[]): number[] {
    return this.ctx.config.max_batch_size > 0 ? shape.slice(0, 1) : [];
  }

  /** Every execution runs on the model's backend (tfjs has one global backend; see backends.ts). */
  execute(request: ExecuteRequest): Promise<HostTensor[]> {
    return withBackend(this.ctx.backend, () => this.executeOnBackend(request));
  }

  private async executeOnBackend(request: ExecuteRequest): Promise<HostTensor[]> {
    const feeds = new Map<string, tf.Tensor>();
    try {
      for (const name of this.plan.inputNames) {
        const t = request.inputs.get(name);
        if (!t) throw invalidArg(`expected input '${name}' for model '${this.ctx.modelName}'`);
        const reshape = this.inputs.get(name)?.reshape;
        const host = reshape ? { ...t, shape: [...this.lead(t.shape), ...reshape.shape] } : t;
        feeds.set(name, hostToTensor(tf, host));
      }
    } catch (e) {
      for (const t of feeds.values()) t.dispose();
      throw e;
    }
    const results = await this.plan.run(feeds);
    try {
      return await Promise.all(request.outputs.map(async (name) => {
        const t = results.get(name);
        if (!t) throw invalidArg(`unexpected inference output '${name}' for model '${this.ctx.modelName}'`);
        const out = await tensorToHost(t, name, this.outputTypes.get(name) ?? 'FP32');
        const cfg = this.outputs.get(name);
        return cfg?.reshape ? { ...out, shape: [...this.lead(out.shape), ...cfg.dims] } : out;
      }));
    } finally {
      for (const t of results.values()) t.dispose();
    }
  }

  async unload(): Promise<void> {
    await withBackend(this.ctx.backend, () => this.plan.dispose());
  }
}

export const onnxExecutorFactory: ExecutorFactory = {
  platforms: ['onnxruntime_onnx', 'onnxruntime'],
  defaultFilename: 'model.onnx',

  async deriveConfig(versionDir: string, filename: string): Promise<DerivedConfig> {
    return deriveOnnxConfig(await loadOnnxModel(join(versionDir, filename)));
  },

  async load(ctx: ExecutorContext): Promise<Executor> {
    const model = await loadOnnxModel(join(ctx.versionDir, ctx.config.default_model_filename || 'model.onnx'));
    // Constants are uploaded (and folded) on the backend the model executes on.
    const plan = await withBackend(ctx.backend, () => OnnxPlan.build(model));
    ctx.log.debug({ model: ctx.modelName, opset: model.opset, ...plan.stats }, 'ONNX plan built');
    return new OnnxExecutor(plan, model, ctx);
  },
};
