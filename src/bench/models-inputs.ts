// Inputs for `dawnserve bench models`: the first recorded case of each ONNX fixture (or a real
// digits image), tiled along each input's batch axis to batch 8. Computed the same way in every
// worker, so onnxruntime and every tfjs backend see identical tensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../runtime/types.js';
import { loadOnnxModel } from '../runtime/onnx/model.js';

export interface BenchModel {
  name: string;
  /** The .onnx file. */
  path: string;
  /** A fixture's .json (first case used), or the digits samples.json. */
  inputsFile: string;
  kind: 'fixture' | 'digits';
}

export interface BatchInputs {
  batch: number;
  inputs: HostTensor[];
}

interface FixtureTensor { name: string; dtype: 'float32' | 'int64' | 'int32' | 'bool'; shape: number[]; data: string }

function decodeFixtureTensor(t: FixtureTensor): HostTensor {
  const buf = Buffer.from(t.data, 'base64');
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (t.dtype) {
    case 'float32': return { name: t.name, datatype: 'FP32', shape: t.shape, data: new Float32Array(bytes) };
    case 'int64': return { name: t.name, datatype: 'INT64', shape: t.shape, data: new BigInt64Array(bytes) };
    case 'int32': return { name: t.name, datatype: 'INT32', shape: t.shape, data: new Int32Array(bytes) };
    case 'bool': return { name: t.name, datatype: 'BOOL', shape: t.shape, data: new Uint8Array(bytes) };
  }
}

/** Fixtures in `fixtureDir` (each .json names its .onnx) plus the bundled digits CNN. */
export function listBenchModels(fixtureDir: string, modelsDir: string, fixtureNames: string[]): BenchModel[] {
  const out: BenchModel[] = fixtureNames.map((name) => {
    const json = JSON.parse(readFileSync(join(fixtureDir, `${name}.json`), 'utf8')) as { model: string };
    return { name, path: join(fixtureDir, json.model), inputsFile: join(fixtureDir, `${name}.json`), kind: 'fixture' };
  });
  out.push({ name: 'digits', path: join(modelsDir, 'digits', '1', 'model.onnx'), inputsFile: join(modelsDir, 'digits', 'samples.json'), kind: 'digits' });
  return out;
}

type Typed = Exclude<HostTensor['data'], Uint8Array[]>;

/** Repeats a tensor whose batch axis has size 1 `times` times along that axis. */
function tile(t: HostTensor, axis: number, times: number): HostTensor {
  const data = t.data as Typed;
  const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const Ctor = data.constructor as new (n: number) => Typed;
  const out = new Ctor(data.length * times);
  for (let o = 0; o < outer; o++) {
    const block = data.subarray(o * inner, (o + 1) * inner);
    for (let r = 0; r < times; r++) (out as Float32Array).set(block as Float32Array, (o * times + r) * inner);
  }
  const shape = t.shape.slice();
  shape[axis] = times;
  return { ...t, shape, data: out };
}

/**
 * Batch 1 (or the fixture's static batch) and batch 8 when every input has a symbolic batch axis
 * (the dim named `batch`, else the first symbolic one).
 */
export async function benchInputs(m: BenchModel): Promise<BatchInputs[]> {
  if (m.kind === 'digits') {
    const s = JSON.parse(readFileSync(m.inputsFile, 'utf8')) as { images: number[] };
    const image = (n: number): HostTensor => ({ name: 'image', datatype: 'FP32', shape: [n, 1, 8, 8], data: Float32Array.from(s.images.slice(0, n * 64)) });
    return [{ batch: 1, inputs: [image(1)] }, { batch: 8, inputs: [image(8)] }];
  }
  const json = JSON.parse(readFileSync(m.inputsFile, 'utf8')) as { cases: { inputs: FixtureTensor[] }[] };
  const inputs = json.cases[0]!.inputs.map(decodeFixtureTensor);
  const model = await loadOnnxModel(m.path);
  const axes = inputs.map((t) => {
    const dims = model.graph.inputs.find((v) => v.name === t.name)?.dims ?? [];
    const named = dims.findIndex((d) => d === 'batch');
    const axis = named >= 0 ? named : dims.findIndex((d) => typeof d === 'string');
    return axis >= 0 && t.shape[axis] === 1 ? axis : -1;
  });
  const native = inputs[0]?.shape[0] ?? 1;
  const out: BatchInputs[] = [{ batch: axes.every((a) => a >= 0) ? 1 : native, inputs }];
  if (axes.every((a) => a >= 0)) out.push({ batch: 8, inputs: inputs.map((t, i) => tile(t, axes[i]!, 8)) });
  return out;
}

export const fixtureDirOf = (root: string) => join(root, 'test', 'fixtures', 'onnx');
