// BatchMatMul / _FusedMatMul over tfjs-backend-webgpu, with tfjs's batch broadcasting.
import { type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { type Activation, isActivation } from '../ops/activation.js';
import { matMulDefaults, packKey, pickMatMulVariant, preferTfjsMatMul, recordMatMul } from '../ops/matmul.js';
import { contextForBackend } from '../device.js';
import { kernelOptions } from '../options.js';
import { type WebGPUBackend, isFloat32OnGpuBackend, packSourceFor, runOnBackend, sizeOf } from './bridge.js';

export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: TensorInfo;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Flattened batch of `outer` if it broadcasts to `out` as a right-aligned suffix (or is 1). */
function flatBatch(outer: readonly number[], out: readonly number[]): number | undefined {
  let i = 0;
  while (i < outer.length && outer[i] === 1) i++;
  const core = outer.slice(i);
  const suffix = out.slice(out.length - core.length);
  if (core.length > out.length || core.some((d, j) => d !== suffix[j])) return undefined;
  return sizeOf(core);
}

/** Our kernel, or undefined when this call is outside what it covers (caller uses tfjs's). */
export function matMulOnBackend(backend: WebGPUBackend, a: TensorInfo, b: TensorInfo, o: MatMulOptions = {}): TensorInfo | undefined {
  const inputs = o.bias ? [a, b, o.bias] : [a, b];
  if (!isFloat32OnGpuBackend(backend, inputs) || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const activation = o.activation ?? 'linear';
  if (!isActivation(activation)) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const transA = o.transposeA ?? false;
  const transB = o.transposeB ?? false;
  const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const Kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (K !== Kb) return undefined; // let tfjs raise its own error message
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return undefined;
  }
  const batchA = flatBatch(outerA, outBatch);
  const batchB = flatBatch(outerB, outBatch);
  if (batchA === undefined || batchB === undefined) return undefined;
  let biasLen = 1;
  if (o.bias) {
    biasLen = sizeOf(o.bias.shape);
    if (!(biasLen === 1 || (biasLen === N && o.bias.shape[o.bias.shape.length - 1] === N))) return undefined;
  }
  // Forced variants (tests) and the benchmark's own measurement always run ours.
  if (!kernelOptions.matmul && !kernelOptions.alwaysOurs && preferTfjsMatMul(contextForBackend(backend).adapter, M, N, sizeOf(outBatch))) return undefined;
  const params = matMulDefaults({
    M, N, K, batch: sizeOf(outBatch), batchA, batchB, transA, transB, activation: activation as Activation,
    leakyAlpha: o.leakyreluAlpha ?? 0.2, bias: !!o.bias, biasLen,
  });
  const outs = runOnBackend(backend, inputs, [[...outBatch, M, N]], (batch, ins, [out], ctx) => {
    Object.assign(params, pickMatMulVariant(ctx.adapter, { M, N, K, batch: params.batch, batchB }, kernelOptions.matmul, kernelOptions.tile));
    recordMatMul(batch, packSourceFor(backend, ctx, b, packKey(params)), params, [...ins, out!]);
  });
  return outs?.[0];
}
