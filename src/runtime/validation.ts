// Core request validation, in Triton's order and with its texts (protocol notes §1.4): input count,
// unknown inputs, batch dimension, datatype, shape, element count; then the requested outputs.
import type { InferenceRequest } from './api.js';
import type { ModelConfig, ModelInput } from './model-config.js';
import type { HostTensor } from './types.js';
import { ELEMENT_SIZE, elementCount, toProtocolDataType } from './types.js';
import { invalidArg } from './errors.js';

export interface ValidatedRequest {
  /** Inputs as the executor sees them (config reshape applied; batch dim kept for batching models). */
  inputs: Map<string, HostTensor>;
  /** Batch items in this request: shape[0] for batching models, 1 otherwise. */
  batchSize: number;
  /** Output names to produce, in config order. */
  outputs: string[];
  /** Output name → top-K of the classification extension. */
  classification: Map<string, number>;
}

export const requestLabel = (id: string | undefined): string => `[request id: ${id ? id : '<id_unknown>'}] `;

const dimsText = (dims: readonly number[]): string => `[${dims.join(',')}]`;
const quotedList = (names: readonly string[]): string =>
  (names.length === 0 ? '[]' : `[${names.map((n) => `'${n}'`).join(',')}]`);

const BATCH_NOTE = 'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be '
  + 'prepended to each input shape. If you want to specify the full shape including the batch dim in your input '
  + 'dims config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

function shapeMatches(config: readonly number[], got: readonly number[]): boolean {
  return config.length === got.length && config.every((d, i) => d === -1 || d === got[i]);
}

/** `reshape` target with its -1 (if any) resolved from the element count. */
function resolveReshape(target: readonly number[], count: number): number[] {
  const known = target.reduce((p, d) => (d === -1 ? p : p * d), 1);
  return target.map((d) => (d === -1 ? (known === 0 ? 0 : count / known) : d));
}

function checkCount(t: HostTensor, model: string, label: string): void {
  const expected = elementCount(t.shape);
  if (t.datatype === 'BYTES') {
    const got = (t.data as Uint8Array[]).length;
    if (got < expected) {
      throw invalidArg(`${label}expected ${expected} string elements for inference input '${t.name}' for model '${model}', got ${got}`);
    }
    if (got > expected) {
      throw invalidArg(`${label}unexpected number of string elements ${got} for inference input '${t.name}' for model '${model}', expecting ${expected}`);
    }
    return;
  }
  const size = ELEMENT_SIZE[t.datatype];
  const got = t.data.length * size;
  if (got !== expected * size) {
    throw invalidArg(`${label}input byte size mismatch for input '${t.name}' for model '${model}'. Expected ${expected * size}, got ${got}`);
  }
}

export function validateRequest(config: ModelConfig, request: InferenceRequest): ValidatedRequest {
  const model = config.name;
  const label = requestLabel(request.id);
  const byName = new Map<string, HostTensor>();
  for (const t of request.inputs) {
    if (byName.has(t.name)) throw invalidArg(`${label}input '${t.name}' already exists in request`);
    byName.set(t.name, t);
  }

  const required = config.input.filter((i) => !i.optional);
  // The count error also covers a missing required input when every given input is known.
  const missingRequired = required.some((i) => !byName.has(i.name));
  if (byName.size > config.input.length || byName.size < required.length
      || (missingRequired && [...byName.keys()].every((n) => config.input.some((c) => c.name === n)))) {
    const missing = required.filter((i) => !byName.has(i.name)).map((i) => i.name);
    const got = quotedList([...byName.keys()]);
    const head = required.length === config.input.length
      ? `expected ${config.input.length} inputs but got ${byName.size} inputs`
      : `expected number of inputs between ${required.length} and ${config.input.length} but got ${byName.size} inputs`;
    throw invalidArg(`${label}${head} for model '${model}'. Got input(s) ${got}, but missing required input(s) `
      + `${quotedList(missing)}. Please provide all required input(s).`);
  }
  const configs = new Map<string, ModelInput>();
  for (const name of byName.keys()) {
    const c = config.input.find((i) => i.name === name);
    if (!c) throw invalidArg(`${label}unexpected inference input '${name}' for model '${model}'`);
    configs.set(name, c);
  }

  const batching = config.max_batch_size > 0;
  let batchSize = 0;
  if (batching) {
    for (const t of byName.values()) {
      if (t.shape.length === 0) {
        throw invalidArg(`${label}input '${t.name}' has no shape but model requires batch dimension for '${model}'`);
      }
      if (batchSize === 0) batchSize = t.shape[0]!;
      else if (t.shape[0] !== batchSize) {
        throw invalidArg(`${label}input '${t.name}' batch size does not match other inputs for '${model}'`);
      }
    }
    if (batchSize > config.max_batch_size) {
      throw invalidArg(`${label}inference request batch-size must be <= ${config.max_batch_size} for '${model}'`);
    }
  }

  const inputs = new Map<string, HostTensor>();
  for (const [name, t] of byName) {
    const c = configs.get(name)!;
    const expected = toProtocolDataType(c.data_type);
    if (t.datatype !== expected) {
      throw invalidArg(`${label}inference input '${name}' data-type is '${t.datatype}', but model '${model}' expects '${expected ?? c.data_type}'`);
    }
    const dims = batching ? t.shape.slice(1) : t.shape;
    if (!shapeMatches(c.dims, dims)) {
      const full = batching ? [-1, ...c.dims] : c.dims;
      throw invalidArg(`${label}unexpected shape for input '${name}' for model '${model}'. Expected ${dimsText(full)}, `
        + `got ${dimsText(t.shape)}. ${batching ? BATCH_NOTE : ''}`.trimEnd());
    }
    checkCount(t, model, label);
    if (c.reshape) {
      const inner = resolveReshape(c.reshape.shape, elementCount(dims));
      inputs.set(name, { ...t, shape: batching ? [t.shape[0]!, ...inner] : inner });
    } else {
      inputs.set(name, t);
    }
  }

  const classification = new Map<string, number>();
  let outputs: string[];
  if (request.outputs === undefined) {
    outputs = config.output.map((o) => o.name);
  } else {
    const wanted = new Set<string>();
    for (const o of request.outputs) {
      if (wanted.has(o.name)) throw invalidArg(`${label}output '${o.name}' already exists in request`);
      if (!config.output.some((c) => c.name === o.name)) {
        throw invalidArg(`${label}unexpected inference output '${o.name}' for model '${model}'`);
      }
      wanted.add(o.name);
      const k = o.parameters?.classification;
      if (k !== undefined) {
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0) {
          throw invalidArg(`${label}'classification' parameter of output '${o.name}' must be a non-negative integer`);
        }
        if (k > 0) classification.set(o.name, k);
      }
    }
    outputs = config.output.map((o) => o.name).filter((n) => wanted.has(n));
  }
  return { inputs, batchSize: batching ? batchSize : 1, outputs, classification };
}
