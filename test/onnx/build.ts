// Builds small ONNX models in TypeScript (through the same onnx.proto) for op and parser tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOnnxModel, OnnxType } from '../../src/runtime/onnx/model.js';

export type AttrSpec =
  | { f: number } | { i: number } | { s: string } | { ints: number[] } | { floats: number[] } | { t: TensorSpec } | { g: GraphSpec };

/** A subgraph (If branches, Loop body): it may read any value of the graphs around it by name. */
export interface GraphSpec { nodes: NodeSpec[]; inputs: IoSpec[]; outputs: IoSpec[]; initializers?: TensorSpec[] }

export interface TensorSpec {
  name?: string;
  dataType: number;
  dims: number[];
  floatData?: number[];
  int32Data?: number[];
  int64Data?: (number | string)[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
}

export interface NodeSpec { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrSpec>; name?: string; domain?: string }
export interface IoSpec { name: string; type?: number; dims?: (number | string)[] }

function attribute(name: string, a: AttrSpec): Record<string, unknown> {
  if ('f' in a) return { name, type: 1, f: a.f };
  if ('i' in a) return { name, type: 2, i: a.i };
  if ('s' in a) return { name, type: 3, s: Buffer.from(a.s) };
  if ('t' in a) return { name, type: 4, t: a.t };
  if ('g' in a) return { name, type: 5, g: graph(a.g) };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  return { name, type: 7, ints: a.ints };
}

const io = (v: IoSpec) => ({
  name: v.name,
  type: { tensorType: { elemType: v.type ?? OnnxType.FLOAT, ...(v.dims ? { shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}) } },
});

function graph(spec: GraphSpec): Record<string, unknown> {
  return {
    name: 'g',
    node: spec.nodes.map((n, i) => ({
      name: n.name ?? `${n.op}_${i}`, opType: n.op, domain: n.domain ?? '', input: n.inputs, output: n.outputs,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    })),
    initializer: spec.initializers ?? [],
    input: spec.inputs.map(io),
    output: spec.outputs.map(io),
  };
}

export function buildModel(spec: GraphSpec & { opset?: number; ir?: number }): Uint8Array {
  return encodeOnnxModel({
    irVersion: spec.ir ?? 8,
    producerName: 'dawnserve-tests',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: graph(spec),
  });
}

/** An int64 initializer (shape-like constants). */
export const ints = (name: string, values: number[]): TensorSpec =>
  ({ name, dataType: OnnxType.INT64, dims: [values.length], int64Data: values });
export const floats = (name: string, dims: number[], values: number[]): TensorSpec =>
  ({ name, dataType: OnnxType.FLOAT, dims, floatData: values });

/** Writes a model into a fresh temp folder as model.onnx; returns its path. */
export function writeModel(bytes: Uint8Array, extra: Record<string, Uint8Array> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dawnserve-onnx-'));
  for (const [name, data] of Object.entries(extra)) writeFileSync(join(dir, name), data);
  const path = join(dir, 'model.onnx');
  writeFileSync(path, bytes);
  return path;
}

/** Deterministic pseudo-random floats in [-2, 2). */
export function randomFloats(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}
