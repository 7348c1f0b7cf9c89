// A small description of the ModelConfig proto, enough to read both config.pbtxt (text format) and
// the JSON `config` override of the load API (protobuf JSON mapping: int64 may be a string, maps are
// objects) into the same plain snake_case object. Fields dawnserve does not execute but Triton
// accepts (optimization, model_warmup, ...) are read as free-form so valid Triton configs still load.
import { PbIdent, PbMessage, type PbValue } from './pbtxt.js';

export type FieldType =
  | { kind: 'int' }
  | { kind: 'float' }
  | { kind: 'bool' }
  | { kind: 'string' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'message'; schema: MessageSchema }
  | { kind: 'map'; key: 'string' | 'int'; value: FieldType }
  /** Any message, kept as generic JSON. */
  | { kind: 'any' };

export interface FieldSpec { type: FieldType; repeated?: boolean }
export interface MessageSchema { name: string; fields: Record<string, FieldSpec> }

export type PlainValue = string | number | boolean | PlainObject | PlainValue[];
export interface PlainObject { [field: string]: PlainValue }

export class ConfigSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigSchemaError';
  }
}

const int: FieldSpec = { type: { kind: 'int' } };
const ints: FieldSpec = { type: { kind: 'int' }, repeated: true };
const bool: FieldSpec = { type: { kind: 'bool' } };
const str: FieldSpec = { type: { kind: 'string' } };
const strs: FieldSpec = { type: { kind: 'string' }, repeated: true };
const any: FieldSpec = { type: { kind: 'any' } };
const anys: FieldSpec = { type: { kind: 'any' }, repeated: true };
const msg = (schema: MessageSchema, repeated = false): FieldSpec => ({ type: { kind: 'message', schema }, repeated });
const enm = (...values: string[]): FieldSpec => ({ type: { kind: 'enum', values } });

export const DATA_TYPES = [
  'TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8',
  'TYPE_INT16', 'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16',
] as const;

const reshape: MessageSchema = { name: 'ModelTensorReshape', fields: { shape: ints } };

const input: MessageSchema = {
  name: 'ModelInput',
  fields: {
    name: str, data_type: enm(...DATA_TYPES), format: enm('FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'),
    dims: ints, reshape: msg(reshape), is_shape_tensor: bool, allow_ragged_batch: bool, optional: bool,
    is_non_linear_format_io: bool,
  },
};

const output: MessageSchema = {
  name: 'ModelOutput',
  fields: {
    name: str, data_type: enm(...DATA_TYPES), dims: ints, reshape: msg(reshape), label_filename: str,
    is_shape_tensor: bool, is_non_linear_format_io: bool,
  },
};

const versionPolicy: MessageSchema = {
  name: 'ModelVersionPolicy',
  fields: {
    latest: msg({ name: 'Latest', fields: { num_versions: int } }),
    all: msg({ name: 'All', fields: {} }),
    specific: msg({ name: 'Specific', fields: { versions: ints } }),
  },
};

const queuePolicy: MessageSchema = {
  name: 'ModelQueuePolicy',
  fields: {
    timeout_action: enm('REJECT', 'DELAY'), default_timeout_microseconds: int, allow_timeout_override: bool,
    max_queue_size: int,
  },
};

const dynamicBatching: MessageSchema = {
  name: 'ModelDynamicBatching',
  fields: {
    preferred_batch_size: ints, max_queue_delay_microseconds: int, preserve_ordering: bool, priority_levels: int,
    default_priority_level: int, default_queue_policy: msg(queuePolicy),
    priority_queue_policy: { type: { kind: 'map', key: 'int', value: { kind: 'message', schema: queuePolicy } } },
  },
};

const instanceGroup: MessageSchema = {
  name: 'ModelInstanceGroup',
  fields: {
    name: str, kind: enm('KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'), count: int, gpus: ints,
    profile: strs, passive: bool, host_policy: str, rate_limiter: any, secondary_devices: anys,
  },
};

const sequenceControl: MessageSchema = {
  name: 'Control',
  fields: {
    kind: enm('CONTROL_SEQUENCE_START', 'CONTROL_SEQUENCE_READY', 'CONTROL_SEQUENCE_END', 'CONTROL_SEQUENCE_CORRID'),
    int32_false_true: ints, fp32_false_true: { type: { kind: 'float' }, repeated: true },
    bool_false_true: { type: { kind: 'bool' }, repeated: true }, data_type: enm(...DATA_TYPES),
  },
};

// Control inputs are read strictly (the sequence batcher builds tensors from them); the batching
// strategies and implicit state are accepted free-form.
const sequenceBatching: MessageSchema = {
  name: 'ModelSequenceBatching',
  fields: {
    direct: any, oldest: any, max_sequence_idle_microseconds: int,
    control_input: msg({ name: 'ControlInput', fields: { name: str, control: msg(sequenceControl, true) } }, true),
    state: anys, iterative_sequence: bool,
  },
};

const parameter: MessageSchema = { name: 'ModelParameter', fields: { string_value: str } };

export const MODEL_CONFIG_SCHEMA: MessageSchema = {
  name: 'ModelConfig',
  fields: {
    name: str, platform: str, backend: str, runtime: str, version_policy: msg(versionPolicy), max_batch_size: int,
    input: msg(input, true), output: msg(output, true), batch_input: anys, batch_output: anys,
    optimization: any, dynamic_batching: msg(dynamicBatching), sequence_batching: msg(sequenceBatching), ensemble_scheduling: any,
    instance_group: msg(instanceGroup, true), default_model_filename: str,
    cc_model_filenames: { type: { kind: 'map', key: 'string', value: { kind: 'string' } } },
    metric_tags: { type: { kind: 'map', key: 'string', value: { kind: 'string' } } },
    parameters: { type: { kind: 'map', key: 'string', value: { kind: 'message', schema: parameter } } },
    model_warmup: anys, model_operations: any, model_transaction_policy: msg({ name: 'ModelTransactionPolicy', fields: { decoupled: bool } }),
    model_repository_agents: any, response_cache: any, model_metrics: any,
  },
};

// ---------------------------------------------------------------------------------------------
// Text format → plain object

function pbScalarText(v: PbValue): string {
  if (v instanceof PbIdent) return v.name;
  if (v instanceof PbMessage) return '{...}';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function fromPbScalar(v: PbValue, type: FieldType, where: string): PlainValue {
  switch (type.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigSchemaError(`${where}: expected an integer, got ${pbScalarText(v)}`);
      return v;
    case 'float':
      if (typeof v !== 'number') throw new ConfigSchemaError(`${where}: expected a number, got ${pbScalarText(v)}`);
      return v;
    case 'bool':
      if (v instanceof PbIdent && /^(true|True|t)$/.test(v.name)) return true;
      if (v instanceof PbIdent && /^(false|False|f)$/.test(v.name)) return false;
      if (v === 1 || v === 0) return v === 1;
      throw new ConfigSchemaError(`${where}: expected true or false, got ${pbScalarText(v)}`);
    case 'string':
      if (typeof v !== 'string') throw new ConfigSchemaError(`${where}: expected a quoted string, got ${pbScalarText(v)}`);
      return v;
    case 'enum': {
      const name = v instanceof PbIdent ? v.name : typeof v === 'number' ? type.values[v] : undefined;
      if (name === undefined || !type.values.includes(name)) {
        throw new ConfigSchemaError(`${where}: unknown value ${pbScalarText(v)}, expected one of ${type.values.join(', ')}`);
      }
      return name;
    }
    case 'message':
      if (!(v instanceof PbMessage)) throw new ConfigSchemaError(`${where}: expected a message, got ${pbScalarText(v)}`);
      return fromPbMessage(v, type.schema, where);
    case 'any':
      return genericFromPb(v);
    case 'map':
      throw new ConfigSchemaError(`${where}: nested maps are not supported`);
  }
}

/** Free-form conversion: repeated fields become arrays, identifiers strings. */
function genericFromPb(v: PbValue): PlainValue {
  if (v instanceof PbIdent) {
    if (v.name === 'true' || v.name === 'false') return v.name === 'true';
    return v.name;
  }
  if (!(v instanceof PbMessage)) return v;
  const out: PlainObject = {};
  for (const [name, values] of v.fields) {
    out[name] = values.length === 1 ? genericFromPb(values[0]!) : values.map(genericFromPb);
  }
  return out;
}

/** Reads a text-format message against a schema; unknown fields are errors, as in protobuf. */
export function fromPbMessage(m: PbMessage, schema: MessageSchema, where = ''): PlainObject {
  const out: PlainObject = {};
  for (const [name, values] of m.fields) {
    const spec = schema.fields[name];
    const path = where ? `${where}.${name}` : name;
    if (!spec) throw new ConfigSchemaError(`message type "${schema.name}" has no field named "${name}"`);
    if (spec.type.kind === 'map') {
      const obj: PlainObject = out[name] as PlainObject | undefined ?? {};
      for (const entry of values) {
        if (!(entry instanceof PbMessage)) throw new ConfigSchemaError(`${path}: expected { key: ... value: ... }`);
        const key = entry.fields.get('key')?.at(-1);
        const val = entry.fields.get('value')?.at(-1);
        if (key === undefined || (typeof key !== 'string' && typeof key !== 'number')) {
          throw new ConfigSchemaError(`${path}: map entry needs a 'key'`);
        }
        obj[String(key)] = val === undefined ? defaultOf(spec.type.value) : fromPbScalar(val, spec.type.value, `${path}[${String(key)}]`);
      }
      out[name] = obj;
    } else if (spec.repeated) {
      const list = (out[name] as PlainValue[] | undefined) ?? [];
      for (const v of values) list.push(fromPbScalar(v, spec.type, path));
      out[name] = list;
    } else {
      // protobuf text format keeps the last of repeated singular fields
      out[name] = fromPbScalar(values.at(-1)!, spec.type, path);
    }
  }
  return out;
}

function defaultOf(type: FieldType): PlainValue {
  switch (type.kind) {
    case 'int': case 'float': return 0;
    case 'bool': return false;
    case 'string': return '';
    case 'enum': return type.values[0]!;
    default: return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Protobuf JSON mapping → plain object

function describeJson(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

function fromJsonScalar(v: unknown, type: FieldType, where: string): PlainValue {
  switch (type.kind) {
    case 'int': {
      // int64 fields travel as strings in the protobuf JSON mapping ({"max_batch_size":"16"}).
      const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigSchemaError(`${where}: expected an integer, got ${describeJson(v)}`);
      return n;
    }
    case 'float': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || Number.isNaN(n)) throw new ConfigSchemaError(`${where}: expected a number, got ${describeJson(v)}`);
      return n;
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigSchemaError(`${where}: expected true or false, got ${describeJson(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new ConfigSchemaError(`${where}: expected a string, got ${describeJson(v)}`);
      return v;
    case 'enum': {
      const name = typeof v === 'number' ? type.values[v] : v;
      if (typeof name !== 'string' || !type.values.includes(name)) {
        throw new ConfigSchemaError(`${where}: unknown value ${describeJson(v)}, expected one of ${type.values.join(', ')}`);
      }
      return name;
    }
    case 'message':
      return fromJsonMessage(v, type.schema, where);
    case 'any':
      if (v === null || typeof v !== 'object') throw new ConfigSchemaError(`${where}: expected an object, got ${describeJson(v)}`);
      return v as PlainObject;
    case 'map':
      throw new ConfigSchemaError(`${where}: nested maps are not supported`);
  }
}

/** Reads a JSON object against a schema; unknown fields are errors. `null` means "not set". */
export function fromJsonMessage(v: unknown, schema: MessageSchema, where = ''): PlainObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ConfigSchemaError(`${where || schema.name}: expected an object, got ${describeJson(v)}`);
  }
  const out: PlainObject = {};
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    const spec = schema.fields[name];
    const path = where ? `${where}.${name}` : name;
    if (!spec) throw new ConfigSchemaError(`message type "${schema.name}" has no field named "${name}"`);
    if (value === null) continue;
    if (spec.type.kind === 'map') {
      if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigSchemaError(`${path}: expected an object`);
      const obj: PlainObject = {};
      for (const [k, e] of Object.entries(value as Record<string, unknown>)) obj[k] = fromJsonScalar(e, spec.type.value, `${path}[${k}]`);
      out[name] = obj;
    } else if (spec.repeated) {
      if (!Array.isArray(value)) throw new ConfigSchemaError(`${path}: expected an array, got ${describeJson(value)}`);
      const type = spec.type;
      out[name] = value.map((e, i) => fromJsonScalar(e, type, `${path}[${i}]`));
    } else {
      out[name] = fromJsonScalar(value, spec.type, path);
    }
  }
  return out;
}
