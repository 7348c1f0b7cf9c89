// An infer request body (JSON, JSON + binary, or raw binary) → InferenceRequest, and an
// InferenceResponse → the wire (JSON header + binary outputs). Checks are made in the order
// Triton's http_server.cc makes them so the first error reported is the same.
import type { InferenceRequest, InferenceResponse, InferenceRuntime, RequestedOutput } from '../runtime/api.js';
import { invalidArg } from '../runtime/errors.js';
import type { HostTensor, Parameters } from '../runtime/types.js';
import { BinaryCursor, binaryOutputBytes, coreMessage, decodeBinaryTensor, decodeRawInput } from './binary.js';
import { InferRequest, type InferInput } from './codecs.js';
import { decodeOrThrow } from './decode-error.js';
import { parseRequestJson } from './json.js';
import { checkShape, decodeJsonTensor, jsonOutputData, parseDataType } from './json-tensors.js';

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
  const req = decodeOrThrow(InferRequest, json);
  const id = req.id;

  const parameters: Parameters = {};
  let defaultBinary = false;
  if (req.parameters) {
    for (const [key, value] of Object.entries(req.parameters)) {
      if (key === 'binary_data_output') {
        defaultBinary = value === true;
        continue;
      }
      if (key.startsWith('triton_')) {
        throw invalidArg("parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
      }
      parameters[key] = value;
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
      const p = out.parameters ?? {};
      if (p.shared_memory_region !== undefined) throw shmNotFound(p.shared_memory_region);
      listed.set(out.name, p.binary_data === true);
      // binary_data is HTTP's concern; classification and custom parameters go to the runtime.
      const forwarded: Parameters = {};
      for (const [k, v] of Object.entries(p)) {
        if (k === 'binary_data' || k.startsWith('shared_memory_')) continue;
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') forwarded[k] = v;
      }
      outputs.push(Object.keys(forwarded).length > 0 ? { name: out.name, parameters: forwarded } : { name: out.name });
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
  const p = input.parameters ?? {};
  const set: string[] = [];
  if (input.data !== undefined) set.push("'data'");
  if (p.binary_data_size !== undefined) set.push("'binary_data_size'");
  if (p.shared_memory_region !== undefined) set.push("'shared_memory_region'");
  const datatype = parseDataType(input.name, input.datatype);
  const shape = checkShape(input.name, datatype, input.shape);
  if (set.length !== 1) {
    throw invalidArg("Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', "
      + `'shared_memory_region' in 'parameters'. But ${set.length === 0 ? 'no field is set' : `set ${set.join(' ')}`}`);
  }
  if (p.shared_memory_region !== undefined) throw shmNotFound(p.shared_memory_region);
  if (p.binary_data_size !== undefined) {
    const size = Number(p.binary_data_size);
    if (size > 0 && headerLength === undefined) {
      throw invalidArg("must specify valid 'Infer-Header-Content-Length' in request header and 'binary_data_size' when passing inputs in binary data format");
    }
    return decodeBinaryTensor({ name: input.name, datatype, shape, model, id }, cursor.take(input.name, size));
  }
  return decodeJsonTensor(input, maxInputSize);
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
  let s = '{';
  // Triton echoes a non-empty request id only.
  if (id) s += `"id":${JSON.stringify(id)},`;
  s += `"model_name":${JSON.stringify(response.model_name)},"model_version":${JSON.stringify(response.model_version)}`;
  if (response.parameters && Object.keys(response.parameters).length > 0) s += `,"parameters":${JSON.stringify(response.parameters)}`;
  s += ',"outputs":[';
  const binary: Buffer[] = [];
  let binaryLength = 0;
  response.outputs.forEach((out, i) => {
    if (i > 0) s += ',';
    s += `{"name":${JSON.stringify(out.name)},"datatype":"${out.datatype}","shape":[${out.shape.join(',')}],`;
    if (listed.get(out.name) ?? defaultBinary) {
      const bytes = binaryOutputBytes(out);
      s += `"parameters":{"binary_data_size":${bytes.length}}}`;
      if (bytes.length > 0) {
        binary.push(bytes);
        binaryLength += bytes.length;
      }
    } else {
      s += `"data":${jsonOutputData(out)}}`;
    }
  });
  s += ']}';
  return { json: s, jsonLength: Buffer.byteLength(s), binary, binaryLength };
}
