/// <reference types="@webgpu/types" />
// Runs our kernels on tensors owned by tfjs-backend-webgpu: tfjs's buffers are bound directly
// (no copies), tfjs's pending commands are submitted first and ours right after, so queue order
// matches program order and tfjs may recycle buffers as soon as we return.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { type GpuContext, contextForBackend } from '../device.js';
import { CommandBatch } from '../dispatcher.js';

export type { WebGPUBackend };

/** Uploads `t` if needed and returns its GPUBuffer, or undefined when tfjs keeps it elsewhere. */
export function bufferOf(backend: WebGPUBackend, t: TensorInfo): GPUBuffer | undefined {
  backend.uploadToGPU(t.dataId);
  const resource = backend.tensorMap.get(t.dataId)?.resource;
  return resource instanceof GPUBuffer ? resource : undefined;
}

export function isFloat32OnGpuBackend(backend: unknown, inputs: readonly TensorInfo[]): boolean {
  return typeof (backend as Partial<WebGPUBackend>).uploadToGPU === 'function'
    && inputs.every((t) => t.dtype === 'float32' && t.shape.every((d) => d > 0));
}

/**
 * Allocates float32 outputs, binds inputs and outputs, flushes tfjs's encoder, lets `encode` record
 * dispatches into one batch and submits it. Returns undefined (caller falls back) if an input is
 * not a plain GPU buffer.
 */
export function runOnBackend(
  backend: WebGPUBackend,
  inputs: readonly TensorInfo[],
  outShapes: readonly number[][],
  encode: (batch: CommandBatch, ins: GPUBuffer[], outs: GPUBuffer[], ctx: GpuContext) => void,
): TensorInfo[] | undefined {
  const ins: GPUBuffer[] = [];
  for (const t of inputs) {
    const b = bufferOf(backend, t);
    if (!b) return undefined;
    ins.push(b);
  }
  const outInfos = outShapes.map((s) => backend.makeTensorInfo(s, 'float32'));
  const outs = outInfos.map((t) => bufferOf(backend, t) as GPUBuffer);
  // Order matters: tfjs's uploads and earlier kernels must reach the queue before our pass.
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  const ctx = contextForBackend(backend);
  const batch = new CommandBatch(ctx);
  encode(batch, ins, outs, ctx);
  batch.submit();
  return outInfos;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
