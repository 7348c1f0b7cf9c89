// Softmax, layer norm and GELU over tfjs-backend-webgpu tensors.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { geluProgram } from '../ops/elementwise.js';
import { layerNormProgram } from '../ops/layernorm.js';
import { chooseRowVariant } from '../ops/rows.js';
import { softmaxProgram } from '../ops/softmax.js';
import { kernelOptions } from '../options.js';
import type { GpuContext } from '../device.js';
import { type WebGPUBackend, isFloat32OnGpuBackend, runOnBackend, sizeOf } from './bridge.js';

function rowVariant(ctx: GpuContext) {
  return chooseRowVariant(kernelOptions.rows, ctx.adapter.software, ctx.adapter.subgroups);
}

export function softmaxOnBackend(backend: WebGPUBackend, logits: TensorInfo, dim: number): TensorInfo | undefined {
  const rank = logits.shape.length;
  if (!isFloat32OnGpuBackend(backend, [logits]) || rank === 0 || (dim !== -1 && dim !== rank - 1)) return undefined;
  const cols = logits.shape[rank - 1]!;
  const rows = sizeOf(logits.shape) / cols;
  return runOnBackend(backend, [logits], [logits.shape.slice()], (batch, [x], [y], ctx) => {
    batch.dispatch(softmaxProgram, { rows, cols, variant: rowVariant(ctx), inPlace: false }, [x!, y!]);
  })?.[0];
}

/** Whether layerNorm's shapes are covered: gamma/beta (if any) of the last axis' length. */
export function layerNormSupported(x: TensorInfo, gamma?: TensorInfo, beta?: TensorInfo): boolean {
  const cols = x.shape[x.shape.length - 1];
  if (cols === undefined || !!gamma !== !!beta) return false;
  return !gamma || (sizeOf(gamma.shape) === cols && sizeOf(beta!.shape) === cols);
}

export function layerNormOnBackend(backend: WebGPUBackend, x: TensorInfo, gamma: TensorInfo | undefined,
  beta: TensorInfo | undefined, eps: number): TensorInfo | undefined {
  const ins = gamma && beta ? [x, gamma, beta] : [x];
  if (!isFloat32OnGpuBackend(backend, ins) || !layerNormSupported(x, gamma, beta)) return undefined;
  const cols = x.shape[x.shape.length - 1]!;
  const rows = sizeOf(x.shape) / cols;
  return runOnBackend(backend, ins, [x.shape.slice()], (batch, bufs, [y], ctx) => {
    batch.dispatch(layerNormProgram, { rows, cols, eps, variant: rowVariant(ctx), affine: ins.length === 3 }, [...bufs, y!]);
  })?.[0];
}

export function geluOnBackend(backend: WebGPUBackend, x: TensorInfo): TensorInfo | undefined {
  if (!isFloat32OnGpuBackend(backend, [x])) return undefined;
  return runOnBackend(backend, [x], [x.shape.slice()], (batch, [xb], [y]) => {
    batch.dispatch(geluProgram, { size: sizeOf(x.shape) }, [xb!, y!]);
  })?.[0];
}
