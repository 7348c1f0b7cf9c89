// An infer request body (JSON, JSON + binary, or raw binary) → InferenceRequest, and an
// InferenceResponse → the wire (JSON header + binary outputs). Checks are made in the order
// Triton's http_server.cc makes them so the first error reported is the same.
import type { InferenceRequest, InferenceResponse, InferenceRuntime, RequestedOutput } from '../runtime/api.js';
import { invalidArg } from '../runtime/errors.js';
import type { HostTensor, Parameters } from '../runtime/types.js';
import { BinaryCursor, binaryOutputBytes, coreMessage, decodeBinaryTensor, decodeRawInput } from './binary.js';
import { InferRequest, isPlainInferRequest, type InferInput } from './codecs.js';
import { decodeOrThrow } from './decode-error.js';
import { parseRequestJson } from './json.js';
import { checkShape, decodeJsonData, jsonOutputData, parseDataType } from './json-tensors.js';

export interface DecodedInfer {
  request: InferenceRequest;
  /** Output name → binary? for outputs the request listed. */
  listed: Map<string, boolean>;
  /** Kind of outputs the request did not list (binary_data_output, or raw requests). */
  defaultBinary: boolean;
}

export interface InferTarget { model: string; version?: string }

export function jsonTooLarge(size: number, maxInputSize: number) {
  return invalidArg(`request JSON size of ${size} bytes exceeds the maximum allowed input size of ${maxInputSize} bytes. Use --http-max-input-size to increase the limit.`);
}

/**
 * Decodes an infer body. `headerLength` is the parsed Inference-Header-Content-Length:
 * undefined = all JSON, 0 = raw binary (needs the model config to deduce the input).
 */
export function decodeInferBody(
  body: Buffer, headerLength: number | undefined, target: InferTarget,
  runtime: InferenceRuntime, maxInputSize: number,
): DecodedInfer {
  const { model, version } = target;
  if (headerLength === 0) {
    const input = decodeRawInput(runtime.modelConfig(model, version), body, maxInputSize);
    return { request: { model, version, parameters: {}, inputs: [input] }, listed: new Map(), defaultBinary: true };
  }
  const jsonLength = headerLength ?? body.length;
  if (jsonLength > maxInputSize) throw jsonTooLarge(jsonLength, maxInputSize);
  const json = parseRequestJson(body.toString('utf8', 0, jsonLength));
  const req = isPlainInferRequest(json) ? json : decodeOrThrow(InferRequest, json);
  const id = req.id;

  const parameters: Parameters = {};
  let defaultBinary = false;
  const reqParameters = req.parameters;
  if (reqParameters) {
    // for-in over own keys: the order and assignment semantics of Object.entries, no arrays.
    for (const key in reqParameters) {
      if (!Object.hasOwn(reqParameters, key)) continue;
      const value = reqParameters[key];
      if (key === 'binary_data_output') {
        defaultBinary = value === true;
        continue;
      }
      if (key.startsWith('triton_')) {
        throw invalidArg("parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
      }
      parameters[key] = value as Parameters[string];
    }
  }

  const cursor = new BinaryCursor(body, jsonLength, model);
  const inputs: HostTensor[] = [];
  for (const input of req.inputs) inputs.push(decodeInput(input, headerLength, cursor, model, id, maxInputSize));
  cursor.finish();

  const listed = new Map<string, boolean>();
  let outputs: RequestedOutput[] | undefined;
  if (req.outputs) {
    outputs = [];
    for (const out of req.outputs) {
      if (listed.has(out.name)) throw invalidArg(coreMessage(id, `output '${out.name}' already exists in request`));
      const p = out.parameters;
      if (p === undefined) {
        listed.set(out.name, false);
        outputs.push({ name: out.name });
        continue;
      }
      if (p.shared_memory_region !== undefined) throw shmNotFound(p.shared_memory_region);
      listed.set(out.name, p.binary_data === true);
      // binary_data is HTTP's concern; classification and custom parameters go to the runtime.
      let forwarded: Parameters | undefined;
      for (const k in p) {
        if (!Object.hasOwn(p, k) || k === 'binary_data' || k.startsWith('shared_memory_')) continue;
        const v = (p as Record<string, unknown>)[k];
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') (forwarded ??= {})[k] = v;
      }
      outputs.push(forwarded && Object.keys(forwarded).length > 0 ? { name: out.name, parameters: forwarded } : { name: out.name });
    }
  }
  const request: InferenceRequest = { model, version, parameters, inputs };
  if (id !== undefined) request.id = id;
  if (outputs) request.outputs = outputs;
  return { request, listed, defaultBinary };
}

function shmNotFound(region: string) {
  // Client shared memory is disabled, so no region can be registered.
  return invalidArg(`Unable to find shared memory region: '${region}'`);
}

function decodeInput(
  input: InferInput, headerLength: number | undefined, cursor: BinaryCursor,
  model: string, id: string | undefined, maxInputSize: number,
): HostTensor {
  const p = input.parameters;
  const hasData = input.data !== undefined;
  const binarySize = p?.binary_data_size;
  const shmRegion = p?.shared_memory_region;
  const datatype = parseDataType(input.name, input.datatype);
  const shape = checkShape(input.name, datatype, input.shape);
  if (Number(hasData) + Number(binarySize !== undefined) + Number(shmRegion !== undefined) !== 1) {
    const set: string[] = [];
    if (hasData) set.push("'data'");
    if (binarySize !== undefined) set.push("'binary_data_size'");
    if (shmRegion !== undefined) set.push("'shared_memory_region'");
    throw invalidArg("Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', "
      + `'shared_memory_region' in 'parameters'. But ${set.length === 0 ? 'no field is set' : `set ${set.join(' ')}`}`);
  }
  if (shmRegion !== undefined) throw shmNotFound(shmRegion);
  if (binarySize !== undefined) {
    const size = Number(binarySize);
    if (size > 0 && headerLength === undefined) {
      throw invalidArg("must specify valid 'Infer-Header-Content-Length' in request header and 'binary_data_size' when passing inputs in binary data format");
    }
    return decodeBinaryTensor({ name: input.name, datatype, shape, model, id }, cursor.take(input.name, size));
  }
  // Type and shape were checked above, in Triton's order; the data is walked once.
  return decodeJsonData(input.name, datatype, shape, input.data, maxInputSize);
}

// ---- response ----

export interface EncodedInfer {
  /** The JSON part (the whole body when nothing is binary); a string so that Node can send it
   *  together with the headers in one write. */
  json: string;
  jsonLength: number;
  /** Binary outputs in output order, empty ones left out. */
  binary: Buffer[];
  binaryLength: number;
}

export function encodeInferResponse(response: InferenceResponse, decoded: DecodedInfer): EncodedInfer {
  const { listed, defaultBinary } = decoded;
  const id = decoded.request.id;
  // Every piece below is ASCII unless a name needed JSON.stringify or the data is text (BYTES):
  // then the UTF-8 length is the string length, with no pass over the text.
  let ascii = true;
  const quote = (v: string): string => {
    if (PLAIN_TEXT.test(v)) return '"' + v + '"';
    ascii = false;
    return JSON.stringify(v);
  };
  // Triton echoes a non-empty request id only.
  let s = id ? '{"id":' + quote(id) + ',"model_name":' : '{"model_name":';
  s += quote(response.model_name) + ',"model_version":' + quote(response.model_version);
  const parameters = response.parameters;
  if (parameters && Object.keys(parameters).length > 0) {
    s += ',"parameters":' + JSON.stringify(parameters);
    ascii = false;
  }
  s += ',"outputs":[';
  const binary: Buffer[] = [];
  let binaryLength = 0;
  const outputs = response.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const out = outputs[i] as HostTensor;
    if (i > 0) s += ',';
    s += '{"name":' + quote(out.name) + ',"datatype":"' + out.datatype + '","shape":[' + shapeText(out.shape) + '],';
    if (listed.get(out.name) ?? defaultBinary) {
      const bytes = binaryOutputBytes(out);
      s += '"parameters":{"binary_data_size":' + bytes.length + '}}';
      if (bytes.length > 0) {
        binary.push(bytes);
        binaryLength += bytes.length;
      }
    } else {
      if (out.datatype === 'BYTES') ascii = false;
      s += '"data":' + jsonOutputData(out) + '}';
    }
  }
  s += ']}';
  return { json: s, jsonLength: ascii ? s.length : Buffer.byteLength(s), binary, binaryLength };
}

/** Printable ASCII without a quote or backslash: JSON.stringify would write it unchanged. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function shapeText(shape: readonly number[]): string {
  if (shape.length === 0) return '';
  let s = '' + shape[0];
  for (let i = 1; i < shape.length; i++) s += ',' + shape[i];
  return s;
}
