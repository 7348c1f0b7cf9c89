// Request bodies for `dawnserve bench http`: KServe v2 JSON and the binary tensor data extension
// (`Inference-Header-Content-Length`: a JSON header followed by the raw tensor bytes).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The FP32 identity model (dims [-1]) the benchmark binds through the library API. */
export const IDENTITY_MODEL = 'bench_identity';

export interface BenchTensor {
  name: string;
  datatype: 'INT32' | 'FP32';
  shape: number[];
  data: Int32Array | Float32Array;
}

export interface RequestPayload {
  body: Buffer;
  headers: Record<string, string>;
}

/** Plain JSON: every input's `data` as a flat array; every output comes back as JSON. */
export function jsonRequest(inputs: BenchTensor[]): RequestPayload {
  const body = Buffer.from(JSON.stringify({
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: Array.from(t.data) })),
  }));
  return { body, headers: { 'content-type': 'application/json' } };
}

/** Binary extension: inputs as raw little-endian bytes after the header; outputs asked for as binary too. */
export function binaryRequest(inputs: BenchTensor[], outputs: string[]): RequestPayload {
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.data.byteLength } })),
    outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
  }));
  const parts = [header, ...inputs.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
  return {
    body: Buffer.concat(parts),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}

/** Triton's `simple` inputs: INT32 [1, 16] each. */
export function simpleInputs(): BenchTensor[] {
  const a = Int32Array.from({ length: 16 }, (_, i) => i);
  const b = Int32Array.from({ length: 16 }, () => 1);
  return [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
  ];
}

/**
 * An FP32 tensor of `bytes` bytes for the identity model. Values are multiples of 1/8 in
 * [-16, 16), exactly representable, so JSON holds ~6.5 characters per element; real-valued data
 * (random floats print as ~10–20 characters) makes JSON bodies 2–3× larger than measured here.
 */
export function identityInput(bytes: number): BenchTensor {
  const n = Math.floor(bytes / 4);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 37) % 256) / 8 - 16;
  return { name: 'INPUT0', datatype: 'FP32', shape: [n], data };
}

/** One real image from models/digits/samples.json: FP32 [1, 1, 8, 8]. */
export function digitsInput(modelsDir: string): BenchTensor {
  const samples = JSON.parse(readFileSync(join(modelsDir, 'digits', 'samples.json'), 'utf8')) as { images: number[] };
  return { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Float32Array.from(samples.images.slice(0, 64)) };
}
