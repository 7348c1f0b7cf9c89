// JavaScript function models (backend "js"), the PyTriton way: a definition object with the
// tensor specs and an `infer` function. Used by `model.js` files in a repository and by the
// library API (`server.bind(...)`).
import type * as tfType from '@tensorflow/tfjs-core';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DataType, HostTensor, Parameters } from '../types.js';
import { isDataType, toConfigDataType } from '../types.js';
import type { ModelConfig, ModelDynamicBatching, ModelInput, ModelOutput, ModelQueuePolicy } from '../model-config.js';
import { validateConfig } from '../config/normalize.js';
import type { DerivedConfig, ExecuteRequest, Executor, ExecutorContext, ExecutorFactory } from '../executor.js';
import { InferenceServerError, internal, invalidArg, type ErrorCode } from '../errors.js';
import { withBackend } from '../backends.js';
import { isTensor, toHostOutput, type JsOutput } from './js-outputs.js';

export type { JsOutput, JsTensorLike, JsArray } from './js-outputs.js';

type Tf = typeof tfType;

export interface JsTensorSpec {
  name: string;
  datatype: DataType;
  /** Dims without the batch dim; -1 = any size. */
  shape: number[];
  optional?: boolean;
}

export interface JsInferContext {
  parameters: Parameters;
  tf: Tf;
  /** Output names the request asked for (the model may return more; they are dropped). */
  outputs: string[];
  model: string;
  version: number;
}

export interface JsInitContext {
  modelDir: string;
  versionDir: string;
  config: ModelConfig;
  tf: Tf;
}

/** Triton's ModelQueuePolicy, camel-cased (PyTriton's QueuePolicy). */
export interface JsQueuePolicy {
  maxQueueSize?: number;
  timeoutAction?: 'REJECT' | 'DELAY';
  defaultTimeoutMicroseconds?: number;
  allowTimeoutOverride?: boolean;
}

/** Triton's dynamic_batching block, camel-cased (PyTriton's DynamicBatcher). */
export interface JsDynamicBatching {
  maxQueueDelayMicroseconds?: number;
  preferredBatchSize?: number[];
  preserveOrdering?: boolean;
  priorityLevels?: number;
  defaultPriorityLevel?: number;
  defaultQueuePolicy?: JsQueuePolicy;
  /** By priority level 1..priorityLevels. */
  priorityQueuePolicy?: Record<number, JsQueuePolicy>;
}

export interface JsModelDefinition {
  /** Library API only; a repository model takes its folder name. */
  name?: string;
  inputs: JsTensorSpec[];
  outputs: JsTensorSpec[];
  /** > 0: the model receives batched inputs (leading batch dim). */
  maxBatchSize?: number;
  dynamicBatching?: boolean | JsDynamicBatching;
  infer(inputs: Record<string, HostTensor>, ctx: JsInferContext): Promise<Record<string, JsOutput>> | Record<string, JsOutput>;
  initialize?(ctx: JsInitContext): Promise<void> | void;
  finalize?(): Promise<void> | void;
}

const ERROR_CODES: readonly ErrorCode[] = ['INVALID_ARG', 'NOT_FOUND', 'UNAVAILABLE', 'UNSUPPORTED', 'INTERNAL', 'ALREADY_EXISTS', 'UNKNOWN', 'CANCELLED'];

// ---------------------------------------------------------------------------------------------
// Definition → config

function checkSpecs(where: string, specs: unknown): asserts specs is JsTensorSpec[] {
  if (!Array.isArray(specs) || specs.length === 0) throw invalidArg(`${where} must be a non-empty array of { name, datatype, shape }`);
  const seen = new Set<string>();
  for (const [i, s] of (specs as unknown[]).entries()) {
    const spec = s as Partial<JsTensorSpec> | null;
    if (!spec || typeof spec.name !== 'string' || spec.name === '') throw invalidArg(`${where}[${i}] needs a non-empty 'name'`);
    if (seen.has(spec.name)) throw invalidArg(`${where}[${i}]: duplicate name '${spec.name}'`);
    seen.add(spec.name);
    if (typeof spec.datatype !== 'string' || !isDataType(spec.datatype)) {
      throw invalidArg(`${where}[${i}] '${spec.name}': datatype ${String(spec.datatype)} is not one of BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES, BF16`);
    }
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= -1)) {
      throw invalidArg(`${where}[${i}] '${spec.name}': shape must be an array of integers >= -1`);
    }
  }
}

/** Validates a definition (from a model.js or the library API) and returns it typed. */
export function validateDefinition(def: unknown, where: string): JsModelDefinition {
  if (typeof def !== 'object' || def === null) throw invalidArg(`${where}: a JS model must be an object with inputs, outputs and infer`);
  const d = def as Partial<JsModelDefinition>;
  checkSpecs(`${where}: inputs`, d.inputs);
  checkSpecs(`${where}: outputs`, d.outputs);
  if (typeof d.infer !== 'function') throw invalidArg(`${where}: 'infer' must be a function`);
  if (d.maxBatchSize !== undefined && !(Number.isInteger(d.maxBatchSize) && d.maxBatchSize >= 0)) {
    throw invalidArg(`${where}: maxBatchSize must be an integer >= 0`);
  }
  for (const hook of ['initialize', 'finalize'] as const) {
    if (d[hook] !== undefined && typeof d[hook] !== 'function') throw invalidArg(`${where}: '${hook}' must be a function`);
  }
  return d as JsModelDefinition;
}

function queuePolicy(where: string, p: JsQueuePolicy): ModelQueuePolicy {
  const action = p.timeoutAction ?? 'REJECT';
  if (action !== 'REJECT' && action !== 'DELAY') throw invalidArg(`${where}.timeoutAction must be 'REJECT' or 'DELAY'`);
  return {
    timeout_action: action,
    default_timeout_microseconds: count(`${where}.defaultTimeoutMicroseconds`, p.defaultTimeoutMicroseconds),
    allow_timeout_override: p.allowTimeoutOverride === true,
    max_queue_size: count(`${where}.maxQueueSize`, p.maxQueueSize),
  };
}

/** A non-negative integer option (0 when absent). */
function count(where: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0) throw invalidArg(`${where} must be a non-negative integer`);
  return v;
}

function dynamicBatching(def: JsModelDefinition): ModelDynamicBatching | undefined {
  const db = def.dynamicBatching;
  if (!db) return undefined;
  const opts = db === true ? {} : db;
  const perLevel: Record<string, ModelQueuePolicy> = {};
  for (const [level, policy] of Object.entries(opts.priorityQueuePolicy ?? {})) {
    perLevel[level] = queuePolicy(`dynamicBatching.priorityQueuePolicy[${level}]`, policy);
  }
  const out: ModelDynamicBatching = {
    preferred_batch_size: opts.preferredBatchSize ?? [],
    max_queue_delay_microseconds: count('dynamicBatching.maxQueueDelayMicroseconds', opts.maxQueueDelayMicroseconds),
    preserve_ordering: opts.preserveOrdering === true,
    priority_levels: count('dynamicBatching.priorityLevels', opts.priorityLevels),
    default_priority_level: count('dynamicBatching.defaultPriorityLevel', opts.defaultPriorityLevel),
    priority_queue_policy: perLevel,
  };
  if (opts.defaultQueuePolicy) out.default_queue_policy = queuePolicy('dynamicBatching.defaultQueuePolicy', opts.defaultQueuePolicy);
  return out;
}

/** The model config a definition implies (Triton's auto-complete for JS models). */
export function definitionToConfig(def: JsModelDefinition, name: string): ModelConfig {
  const input: ModelInput[] = def.inputs.map((s) => ({
    name: s.name, data_type: toConfigDataType(s.datatype), format: 'FORMAT_NONE', dims: s.shape.slice(),
    is_shape_tensor: false, allow_ragged_batch: false, optional: s.optional === true,
  }));
  const output: ModelOutput[] = def.outputs.map((s) => ({
    name: s.name, data_type: toConfigDataType(s.datatype), dims: s.shape.slice(), label_filename: '', is_shape_tensor: false,
  }));
  const config: ModelConfig = {
    name,
    platform: '',
    backend: 'js',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: def.maxBatchSize ?? 0,
    input,
    output,
    instance_group: [{ name, kind: 'KIND_CPU', count: 1, gpus: [] }],
    default_model_filename: 'model.js',
    parameters: {},
  };
  const db = dynamicBatching(def);
  if (db) config.dynamic_batching = db;
  // The same checks (and Triton's texts) as a config.pbtxt gets, e.g. priority levels in range.
  try {
    validateConfig(config);
  } catch (e) {
    throw invalidArg((e as Error).message);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// model.js loading

/** Imports a model.js (default export, or named exports) and validates it. */
export async function importDefinition(file: string): Promise<JsModelDefinition> {
  let mtime: number;
  try {
    mtime = (await stat(file)).mtimeMs;
  } catch {
    throw invalidArg(`JS model file ${file} not found`);
  }
  // The query string defeats the ESM module cache, so a model reloaded after an edit is new code.
  const mod = (await import(`${pathToFileURL(file).href}?mtime=${mtime}`)) as Record<string, unknown>;
  const candidate = typeof mod['default'] === 'object' && mod['default'] !== null ? mod['default'] : mod;
  return validateDefinition(candidate, file);
}

// ---------------------------------------------------------------------------------------------
// Executor

function modelError(model: string, e: unknown): InferenceServerError {
  if (e instanceof InferenceServerError) return e;
  // Plain model.js files cannot import our error class; `err.code = 'INVALID_ARG'` works too.
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code)) return new InferenceServerError(code as ErrorCode, message);
  return internal(`model '${model}' infer failed: ${message}`);
}

function disposeTensors(result: Record<string, unknown> | undefined): void {
  if (!result) return;
  for (const v of Object.values(result)) if (isTensor(v)) v.dispose();
}

// Tensor leak detection. tfjs counts live tensors globally, so a model's leak is measured only
// for an execution during which no other JS execution started or ended; others are not judged
// (tfjs/ONNX executions running at the same time can still blur the count: a report, not a proof).
let jsEpoch = 0;
const leaks = new Map<string, number>();

/** Tensors each JS model has left alive after its executions (model → count), as reported. */
export function jsTensorLeaks(): ReadonlyMap<string, number> {
  return leaks;
}

class JsExecutor implements Executor {
  private readonly batched: boolean;
  private readonly outputSpecs: Map<string, ModelOutput>;

  constructor(private readonly def: JsModelDefinition, private readonly ctx: ExecutorContext) {
    this.batched = ctx.config.max_batch_size > 0;
    this.outputSpecs = new Map(ctx.config.output.map((o) => [o.name, o]));
  }

  async execute(request: ExecuteRequest): Promise<HostTensor[]> {
    const { modelName } = this.ctx;
    const inputs: Record<string, HostTensor> = Object.fromEntries(request.inputs);
    const batchSize = this.batched ? request.inputs.values().next().value?.shape[0] : undefined;
    return withBackend(this.ctx.backend, async (tf) => {
      let result: Record<string, unknown> | undefined;
      const epoch = ++jsEpoch;
      const before = tf.engine().state.numTensors;
      try {
        try {
          result = (await this.def.infer(inputs, {
            parameters: request.parameters, tf, outputs: request.outputs, model: modelName, version: this.ctx.version,
          })) as Record<string, unknown> | undefined;
        } catch (e) {
          throw modelError(modelName, e);
        }
        if (typeof result !== 'object' || result === null) {
          throw internal(`model '${modelName}' infer must return an object of outputs by name, got ${result === null ? 'null' : typeof result}`);
        }
        for (const key of Object.keys(result)) {
          if (!this.outputSpecs.has(key)) throw internal(`model '${modelName}' returned unknown output '${key}' (declared: ${[...this.outputSpecs.keys()].join(', ')})`);
        }
        const out: HostTensor[] = [];
        for (const name of request.outputs) {
          const spec = this.outputSpecs.get(name);
          if (!spec) throw invalidArg(`unexpected inference output '${name}' for model '${modelName}'`);
          if (!(name in result) || result[name] === undefined) throw internal(`model '${modelName}' did not return output '${name}'`);
          out.push(await toHostOutput(modelName, result[name], spec, batchSize));
        }
        return out;
      } finally {
        disposeTensors(result);
        const undisturbed = jsEpoch === epoch;
        jsEpoch++;
        const leaked = tf.engine().state.numTensors - before;
        if (undisturbed && leaked > 0) {
          leaks.set(modelName, (leaks.get(modelName) ?? 0) + leaked);
          this.ctx.log.warn({ model: modelName, leaked, total: leaks.get(modelName) },
            `model '${modelName}' left ${leaked} tfjs tensor(s) alive after infer; dispose them or return them as outputs`);
        }
      }
    });
  }

  async unload(): Promise<void> {
    await this.def.finalize?.();
  }
}

/** Creates an executor from a definition (library API, and the factory below). */
export async function createJsExecutor(def: JsModelDefinition, ctx: ExecutorContext): Promise<Executor> {
  if (def.initialize) {
    await withBackend(ctx.backend, (tf) => def.initialize!({ modelDir: ctx.modelDir, versionDir: ctx.versionDir, config: ctx.config, tf }));
  }
  return new JsExecutor(def, ctx);
}

/**
 * Code is imported only from inside the model's folder (in the repository): a model.js that is a
 * symlink pointing elsewhere is refused before anything is imported.
 */
async function checkInsideModelFolder(file: string, modelDir: string): Promise<void> {
  const real = await realpath(file).catch(() => path.resolve(file));
  const rel = path.relative(await realpath(modelDir).catch(() => path.resolve(modelDir)), real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw invalidArg(`JS model file '${path.basename(file)}' resolves outside its model folder`);
  }
}

export const jsExecutorFactory: ExecutorFactory = {
  platforms: ['js'],
  defaultFilename: 'model.js',

  async deriveConfig(versionDir: string, filename: string): Promise<DerivedConfig> {
    const file = path.join(versionDir, filename);
    await checkInsideModelFolder(file, path.dirname(versionDir));
    const def = await importDefinition(file);
    const c = definitionToConfig(def, def.name ?? '');
    const derived: DerivedConfig & { dynamic_batching?: ModelDynamicBatching } = {
      backend: 'js', max_batch_size: c.max_batch_size, input: c.input, output: c.output,
    };
    if (c.dynamic_batching) derived.dynamic_batching = c.dynamic_batching;
    return derived;
  },

  async load(ctx: ExecutorContext): Promise<Executor> {
    const file = path.join(ctx.versionDir, ctx.config.default_model_filename || 'model.js');
    await checkInsideModelFolder(file, ctx.modelDir);
    return createJsExecutor(await importDefinition(file), ctx);
  },
};
