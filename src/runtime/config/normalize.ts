// From config.pbtxt / JSON override / the model file's own description to a complete ModelConfig:
// Triton's auto-complete, then its normalisation (every primitive field present), then validation.
import type { DerivedConfig } from '../executor.js';
import type {
  ModelConfig, ModelDynamicBatching, ModelInput, ModelInstanceGroup, ModelOutput, ModelQueuePolicy,
  ModelSequenceBatching, ModelSequenceControl, ModelVersionPolicy, InstanceKind, SequenceControlKind,
} from '../model-config.js';
import type { ConfigDataType } from '../types.js';
import { parsePbtxt, PbtxtError } from './pbtxt.js';
import {
  ConfigSchemaError, fromJsonMessage, fromPbMessage, MODEL_CONFIG_SCHEMA, type PlainObject,
} from './proto-schema.js';

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

/** A config as written by the user: only the fields they set (snake_case, schema-checked). */
export type PartialConfig = PlainObject;

/** Parses config.pbtxt text. `file` names the source in error messages. */
export function parseConfigText(text: string, file = 'config.pbtxt'): PartialConfig {
  try {
    return fromPbMessage(parsePbtxt(text), MODEL_CONFIG_SCHEMA);
  } catch (e) {
    if (e instanceof PbtxtError || e instanceof ConfigSchemaError) {
      throw new ModelConfigError(`failed to read text proto from ${file}: ${e.message}`);
    }
    throw e;
  }
}

/** Parses the JSON `config` parameter of the load API. */
export function parseConfigJson(text: string): PartialConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`failed to parse model config override JSON: ${(e as Error).message}`);
  }
  try {
    return fromJsonMessage(value, MODEL_CONFIG_SCHEMA);
  } catch (e) {
    if (e instanceof ConfigSchemaError) throw new ModelConfigError(`invalid model config override: ${e.message}`);
    throw e;
  }
}

export interface CompleteOptions {
  /** The repository folder name (or the name given to the library API). */
  modelName: string;
  /** What the model file says about itself; used only for fields the config does not set. */
  derived?: DerivedConfig;
  /** Platform to fill when neither config nor derived says one (the chosen executor's). */
  defaultPlatform?: string;
  defaultFilename?: string;
  /** Whether instances default to KIND_GPU (tfjs on CUDA or WebGPU) or KIND_CPU. */
  gpu: boolean;
}

const has = (o: PlainObject, k: string): boolean => o[k] !== undefined;
const num = (o: PlainObject, k: string, d: number): number => (typeof o[k] === 'number' ? o[k] as number : d);
const bool = (o: PlainObject, k: string, d: boolean): boolean => (typeof o[k] === 'boolean' ? o[k] as boolean : d);
const str = (o: PlainObject, k: string, d: string): string => (typeof o[k] === 'string' ? o[k] as string : d);
const nums = (o: PlainObject, k: string): number[] => (Array.isArray(o[k]) ? [...(o[k] as number[])] : []);
const obj = (o: PlainObject, k: string): PlainObject | undefined =>
  (o[k] !== undefined && typeof o[k] === 'object' && !Array.isArray(o[k]) ? o[k] as PlainObject : undefined);
const objs = (o: PlainObject, k: string): PlainObject[] => (Array.isArray(o[k]) ? o[k] as PlainObject[] : []);

function toInput(o: PlainObject): ModelInput {
  const r = obj(o, 'reshape');
  return {
    name: str(o, 'name', ''),
    data_type: str(o, 'data_type', 'TYPE_INVALID') as ConfigDataType,
    format: str(o, 'format', 'FORMAT_NONE'),
    dims: nums(o, 'dims'),
    ...(r ? { reshape: { shape: nums(r, 'shape') } } : {}),
    is_shape_tensor: bool(o, 'is_shape_tensor', false),
    allow_ragged_batch: bool(o, 'allow_ragged_batch', false),
    optional: bool(o, 'optional', false),
  };
}

function toOutput(o: PlainObject): ModelOutput {
  const r = obj(o, 'reshape');
  return {
    name: str(o, 'name', ''),
    data_type: str(o, 'data_type', 'TYPE_INVALID') as ConfigDataType,
    dims: nums(o, 'dims'),
    ...(r ? { reshape: { shape: nums(r, 'shape') } } : {}),
    label_filename: str(o, 'label_filename', ''),
    is_shape_tensor: bool(o, 'is_shape_tensor', false),
  };
}

function toVersionPolicy(o: PlainObject | undefined): ModelVersionPolicy {
  if (o) {
    const specific = obj(o, 'specific');
    if (specific) return { specific: { versions: nums(specific, 'versions') } };
    if (obj(o, 'all')) return { all: {} };
    const latest = obj(o, 'latest');
    if (latest) return { latest: { num_versions: num(latest, 'num_versions', 0) } };
  }
  return { latest: { num_versions: 1 } };
}

function toQueuePolicy(o: PlainObject): ModelQueuePolicy {
  return {
    timeout_action: str(o, 'timeout_action', 'REJECT') as ModelQueuePolicy['timeout_action'],
    default_timeout_microseconds: num(o, 'default_timeout_microseconds', 0),
    allow_timeout_override: bool(o, 'allow_timeout_override', false),
    max_queue_size: num(o, 'max_queue_size', 0),
  };
}

function toDynamicBatching(o: PlainObject): ModelDynamicBatching {
  const q = obj(o, 'default_queue_policy');
  const perLevel: Record<string, ModelQueuePolicy> = {};
  for (const [level, policy] of Object.entries(obj(o, 'priority_queue_policy') ?? {})) {
    perLevel[level] = toQueuePolicy(policy as PlainObject);
  }
  const out: ModelDynamicBatching = {
    preferred_batch_size: nums(o, 'preferred_batch_size'),
    max_queue_delay_microseconds: num(o, 'max_queue_delay_microseconds', 0),
    preserve_ordering: bool(o, 'preserve_ordering', false),
    priority_levels: num(o, 'priority_levels', 0),
    default_priority_level: num(o, 'default_priority_level', 0),
    priority_queue_policy: perLevel,
  };
  if (q) out.default_queue_policy = toQueuePolicy(q);
  return out;
}

function toSequenceControl(o: PlainObject): ModelSequenceControl {
  return {
    kind: str(o, 'kind', 'CONTROL_SEQUENCE_START') as SequenceControlKind,
    int32_false_true: nums(o, 'int32_false_true'),
    fp32_false_true: nums(o, 'fp32_false_true'),
    bool_false_true: Array.isArray(o.bool_false_true) ? (o.bool_false_true as boolean[]).slice() : [],
    data_type: str(o, 'data_type', 'TYPE_INVALID') as ConfigDataType,
  };
}

function toSequenceBatching(o: PlainObject): ModelSequenceBatching {
  const idle = num(o, 'max_sequence_idle_microseconds', 0);
  return {
    ...o,
    // 0 means unset in proto3; Triton then uses its 1 s default (SEQUENCE_IDLE_DEFAULT_MICROSECONDS).
    max_sequence_idle_microseconds: idle > 0 ? idle : 1_000_000,
    control_input: objs(o, 'control_input').map((ci) => ({
      name: str(ci, 'name', ''), control: objs(ci, 'control').map(toSequenceControl),
    })),
  };
}

function toInstanceGroups(list: PlainObject[], modelName: string, gpu: boolean): ModelInstanceGroup[] {
  const groups = list.length > 0 ? list : [{}];
  return groups.map((g, i) => {
    const gpus = nums(g, 'gpus');
    let kind = str(g, 'kind', 'KIND_AUTO') as InstanceKind;
    // KIND_AUTO resolves as Triton does: GPU when GPUs are named or available, else CPU.
    if (kind === 'KIND_AUTO') kind = gpus.length > 0 || gpu ? 'KIND_GPU' : 'KIND_CPU';
    return {
      name: str(g, 'name', list.length > 0 ? `${modelName}_${i}` : modelName),
      kind,
      count: num(g, 'count', 1),
      gpus,
    };
  });
}

/** Dims as the model file reports them, adjusted to the batching the config chose. */
function adaptDims(dims: number[], derivedBatch: number, configBatch: number): number[] {
  if (derivedBatch > 0 && configBatch === 0) return [-1, ...dims];
  if (derivedBatch === 0 && configBatch > 0 && dims.length > 0) return dims.slice(1);
  return dims;
}

function completeIo<T extends ModelInput | ModelOutput>(
  configured: T[], derived: T[] | undefined, derivedBatch: number, configBatch: number,
): T[] {
  if (!derived || derived.length === 0) return configured;
  const adapt = (t: T): T => ({ ...t, dims: adaptDims(t.dims, derivedBatch, configBatch) });
  if (configured.length === 0) return derived.map(adapt);
  // Listed tensors keep what the user wrote; only missing type/dims come from the model file.
  return configured.map((t) => {
    const d = derived.find((x) => x.name === t.name);
    if (!d) return t;
    return {
      ...t,
      data_type: t.data_type === 'TYPE_INVALID' ? d.data_type : t.data_type,
      dims: t.dims.length === 0 ? adaptDims(d.dims, derivedBatch, configBatch) : t.dims,
    };
  });
}

/** Auto-complete + defaults + validation. Throws ModelConfigError with Triton-like texts. */
export function completeConfig(partial: PartialConfig, opts: CompleteOptions): ModelConfig {
  const { modelName, derived } = opts;
  const name = str(partial, 'name', '');
  if (name !== '' && name !== modelName) {
    throw new ModelConfigError(
      `unexpected directory name '${modelName}' for model '${name}', directory name must equal model name`);
  }
  const derivedBatch = derived?.max_batch_size ?? 0;
  const maxBatch = has(partial, 'max_batch_size') ? num(partial, 'max_batch_size', 0) : derivedBatch;
  let platform = str(partial, 'platform', '');
  let backend = str(partial, 'backend', '');
  if (platform === '' && backend === '') {
    platform = derived?.platform ?? opts.defaultPlatform ?? '';
    backend = derived?.backend ?? '';
  }
  const params: Record<string, { string_value: string }> = {};
  for (const [k, v] of Object.entries(obj(partial, 'parameters') ?? {})) {
    params[k] = { string_value: str(v as PlainObject, 'string_value', '') };
  }
  const config: ModelConfig = {
    name: modelName,
    platform,
    backend,
    version_policy: toVersionPolicy(obj(partial, 'version_policy')),
    max_batch_size: maxBatch,
    input: completeIo(objs(partial, 'input').map(toInput), derived?.input, derivedBatch, maxBatch),
    output: completeIo(objs(partial, 'output').map(toOutput), derived?.output, derivedBatch, maxBatch),
    instance_group: toInstanceGroups(objs(partial, 'instance_group'), modelName, opts.gpu),
    default_model_filename: str(partial, 'default_model_filename', opts.defaultFilename ?? ''),
    parameters: params,
  };
  const db = obj(partial, 'dynamic_batching');
  if (db) config.dynamic_batching = toDynamicBatching(db);
  const sb = obj(partial, 'sequence_batching');
  if (sb) config.sequence_batching = toSequenceBatching(sb);
  const tp = obj(partial, 'model_transaction_policy');
  if (tp) config.model_transaction_policy = { decoupled: bool(tp, 'decoupled', false) };
  validateConfig(config);
  return config;
}

function validateIo(io: ModelInput | ModelOutput, kind: 'input' | 'output', model: string, maxBatch: number): void {
  const label = `model ${kind}${io.name ? ` '${io.name}'` : ''}`;
  if (io.name === '') throw new ModelConfigError(`${label} must specify 'name' for ${model}`);
  if (io.data_type === 'TYPE_INVALID') throw new ModelConfigError(`${label} must specify 'data_type' for ${model}`);
  if (io.dims.length === 0 && !(maxBatch > 0 && io.reshape)) {
    throw new ModelConfigError(`${label} must specify 'dims' for ${model}`);
  }
  if (io.reshape && io.reshape.shape.length === 0 && maxBatch === 0) {
    throw new ModelConfigError(`${label} cannot have empty reshape for non-batching model for ${model}`);
  }
  for (const d of io.dims) {
    if (d < 1 && d !== -1) {
      throw new ModelConfigError(`${label} dimension must be integer >= 1, or -1 to indicate a variable-size dimension for ${model}`);
    }
  }
}

export function validateConfig(c: ModelConfig): void {
  if (c.max_batch_size < 0) throw new ModelConfigError(`'max_batch_size' must be non-negative value for ${c.name}`);
  if (c.platform === '' && c.backend === '') throw new ModelConfigError(`must specify 'platform' or 'backend' for '${c.name}'`);
  const vp = c.version_policy;
  if ('latest' in vp && vp.latest.num_versions < 1) {
    throw new ModelConfigError(`version_policy.latest.num_versions must be >= 1 for ${c.name}`);
  }
  if ('specific' in vp && vp.specific.versions.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ModelConfigError(`version_policy.specific.versions must be positive integers for ${c.name}`);
  }
  const seen = new Set<string>();
  for (const i of c.input) {
    validateIo(i, 'input', c.name, c.max_batch_size);
    if (seen.has(i.name)) throw new ModelConfigError(`duplicate input name '${i.name}' for ${c.name}`);
    seen.add(i.name);
  }
  seen.clear();
  for (const o of c.output) {
    validateIo(o, 'output', c.name, c.max_batch_size);
    if (seen.has(o.name)) throw new ModelConfigError(`duplicate output name '${o.name}' for ${c.name}`);
    seen.add(o.name);
  }
  if (c.dynamic_batching) {
    for (const size of c.dynamic_batching.preferred_batch_size) {
      if (size <= 0) throw new ModelConfigError(`dynamic batching preferred size must be positive for ${c.name}`);
      if (size > c.max_batch_size) {
        throw new ModelConfigError(`dynamic batching preferred size must be <= max batch size for ${c.name}`);
      }
    }
    if (c.dynamic_batching.max_queue_delay_microseconds < 0) {
      throw new ModelConfigError(`dynamic batching max_queue_delay_microseconds must be non-negative for ${c.name}`);
    }
    validatePriorities(c.dynamic_batching, c.name);
  }
  if (c.sequence_batching && c.dynamic_batching) {
    // One `scheduling_choice` oneof in model_config.proto: protobuf itself refuses both.
    throw new ModelConfigError(`'dynamic_batching' and 'sequence_batching' cannot both be set for ${c.name}`);
  }
  if (c.sequence_batching) validateSequenceBatching(c.sequence_batching, c.name);
  for (const g of c.instance_group) {
    if (g.count < 1) throw new ModelConfigError(`instance group ${g.name} of model ${c.name} must have count >= 1`);
    if (g.kind === 'KIND_CPU' && g.gpus.length > 0) {
      throw new ModelConfigError(`instance group ${g.name} of model ${c.name} has kind KIND_CPU but specifies one or more GPUs`);
    }
  }
}

/** Triton's checks of priority levels and queue policies (ValidateModelConfig), with its texts. */
function validatePriorities(db: ModelDynamicBatching, model: string): void {
  const levels = db.priority_levels;
  if (levels !== 0) {
    if (db.default_priority_level === 0 || db.default_priority_level > levels) {
      throw new ModelConfigError(`default priority level must be in range [1, ${levels}] for ${model}`);
    }
    for (const key of Object.keys(db.priority_queue_policy)) {
      const level = Number(key);
      if (!Number.isInteger(level) || level < 1 || level > levels) {
        throw new ModelConfigError(`priority queue policy must have priority level in range [1, ${levels}] for ${model}`);
      }
    }
  }
  // Ordered responses cannot coexist with reordering by priority or by a DELAY timeout.
  if (db.preserve_ordering) {
    if (levels > 1) throw new ModelConfigError(`Only one priority level is allowed when 'preserve_ordering' is true for ${model}`);
    const policies = [db.default_queue_policy, ...Object.values(db.priority_queue_policy)];
    if (policies.some((p) => p && p.default_timeout_microseconds !== 0 && p.timeout_action === 'DELAY')) {
      throw new ModelConfigError(`Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for ${model}`);
    }
  }
}

const CORRID_TYPES: readonly ConfigDataType[] = ['TYPE_UINT64', 'TYPE_INT64', 'TYPE_UINT32', 'TYPE_INT32', 'TYPE_STRING'];

/** Triton's checks of sequence control inputs (GetBoolean/TypedSequenceControlProperties), with its texts. */
function validateSequenceBatching(sb: ModelSequenceBatching, model: string): void {
  const names = new Set<string>();
  const kinds = new Set<SequenceControlKind>();
  for (const ci of sb.control_input) {
    if (ci.name === '') throw new ModelConfigError(`sequence batching control tensor must have a name for ${model}`);
    if (names.has(ci.name)) {
      throw new ModelConfigError(`sequence batching control tensor '${ci.name}' is specified for multiple control kinds for ${model}`);
    }
    names.add(ci.name);
    for (const c of ci.control) {
      if (kinds.has(c.kind)) throw new ModelConfigError(`sequence batching specifies multiple ${c.kind} tensors for ${model}`);
      kinds.add(c.kind);
      const lists = [['int32_false_true', c.int32_false_true.length], ['fp32_false_true', c.fp32_false_true.length],
        ['bool_false_true', c.bool_false_true.length]] as const;
      const given = lists.filter(([, n]) => n > 0);
      if (c.kind === 'CONTROL_SEQUENCE_CORRID') {
        if (given.length > 0) {
          throw new ModelConfigError(`sequence batching must not specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for ${c.kind} for ${model}`);
        }
        if (!CORRID_TYPES.includes(c.data_type)) {
          throw new ModelConfigError(`unexpected control data type, expected TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32, or TYPE_STRING for ${c.kind} for ${model}`);
        }
        continue;
      }
      if (given.length === 0) {
        throw new ModelConfigError(`sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for ${c.kind} for ${model}`);
      }
      if (given.length > 1) {
        throw new ModelConfigError(`sequence batching specifies more than one from 'int32_false_true', 'fp32_false_true' and 'bool_false_true' for ${c.kind} for ${model}`);
      }
      const [field, n] = given[0]!;
      if (n !== 2) throw new ModelConfigError(`sequence batching control '${field}' must have exactly 2 entries for ${c.kind} for ${model}`);
    }
  }
  if (sb.max_sequence_idle_microseconds < 0) {
    throw new ModelConfigError(`sequence batching max_sequence_idle_microseconds must be non-negative for ${model}`);
  }
}

/** The version policy a partial config asks for (Triton's default: latest 1). */
export function versionPolicyOf(partial: PartialConfig): ModelVersionPolicy {
  return toVersionPolicy(obj(partial, 'version_policy'));
}

/** Whether the model file must be read to complete this config (Triton's auto-complete). */
export function needsAutoComplete(partial: PartialConfig): boolean {
  if (!has(partial, 'max_batch_size') || objs(partial, 'input').length === 0 || objs(partial, 'output').length === 0) return true;
  return [...objs(partial, 'input'), ...objs(partial, 'output')]
    .some((io) => !has(io, 'data_type') || nums(io, 'dims').length === 0);
}
