/// <reference types="@webgpu/types" />
// Runs our kernels on tensors owned by tfjs-backend-webgpu. tfjs's buffers are bound directly (no
// copies) and our dispatches are recorded into tfjs's own open command encoder and compute pass,
// so they share its submit batching (one submit per WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches,
// or at readback) instead of paying a flush and a submit per kernel. That is only safe because we
// follow tfjs's lifetime rules for commands not yet submitted:
//  - every tensor we read or write joins `commandQueueOwnedIds`, so disposing it defers the
//    buffer's release to the next submit (a recycled buffer could otherwise be overwritten by a
//    `writeBuffer`/mapped upload that reaches the queue before our dispatch runs);
//  - uniform buffers come from tfjs's buffer manager and go to `uniformPendingDisposal`, released
//    after that submit (again because `writeBuffer` is queue-ordered before the pending pass);
//  - scratch buffers are tfjs tensors disposed right after recording (so also deferred).
import { type TensorInfo, env } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { type GpuContext, contextForBackend } from '../device.js';
import { type Binding, CommandBatch, type KernelRecorder, type PassTimestamps, encodeDispatch } from '../dispatcher.js';
import type { KernelProgram } from '../program.js';
import type { PackSource } from '../pack-cache.js';

export type { WebGPUBackend };

const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */

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
 * tfjs-backend-webgpu 4.x's command-queue state. The fields are private in its typings, so they
 * are checked at runtime (`tfjsQueue`); a tfjs without them gets the flush-and-submit path.
 */
interface TfjsQueue {
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  uniformPendingDisposal: GPUBuffer[];
}

function tfjsQueue(backend: WebGPUBackend): TfjsQueue | undefined {
  const q = backend as unknown as Partial<TfjsQueue>;
  const ok = typeof q.dispatchCountInPass === 'number' && Array.isArray(q.uniformPendingDisposal)
    && q.commandQueueOwnedIds instanceof WeakSet && 'commandEncoder' in q && 'computePassEncoder' in q;
  return ok ? (q as TfjsQueue) : undefined;
}

/** Records into tfjs's encoder (see the file comment). `finish()` hands the batch back to tfjs. */
class TfjsRecorder implements KernelRecorder {
  private count = 0;
  private readonly scratchIds: object[] = [];
  private timedPass: GPUComputePassEncoder | undefined;

  constructor(private readonly backend: WebGPUBackend, private readonly q: TfjsQueue, private readonly ctx: GpuContext,
    private readonly timestamps: PassTimestamps | undefined) {}

  dispatch<P>(program: KernelProgram<P>, p: P, buffers: readonly Binding[]): void {
    if (encodeDispatch(this.ctx, () => this.pass(), program, p, buffers, (bytes) => this.uniform(bytes))) this.count++;
  }

  scratch(bytes: number): GPUBuffer {
    const t = this.backend.makeTensorInfo([Math.ceil(bytes / 4)], 'float32');
    const b = bufferOf(this.backend, t) as GPUBuffer;
    this.q.commandQueueOwnedIds.add(t.dataId);
    this.scratchIds.push(t.dataId);
    return b;
  }

  finish(): void {
    for (const id of this.scratchIds) this.backend.disposeData(id);
    if (this.timedPass) {
      // Benchmark: our dispatches had a pass of their own with timestamps; submit so the profiler
      // can read the resolved queries.
      this.timedPass.end();
      this.timestamps?.profiler?.resolve(this.encoder(), this.timestamps);
      this.backend.submitQueue();
      return;
    }
    this.q.dispatchCountInPass += this.count;
    if (this.q.dispatchCountInPass >= Number(env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'))) {
      this.backend.endComputePassEncoder();
      this.backend.submitQueue();
    }
  }

  private encoder(): GPUCommandEncoder {
    this.backend.ensureCommandEncoderReady();
    return this.q.commandEncoder as GPUCommandEncoder;
  }

  private pass(): GPUComputePassEncoder {
    if (this.timestamps) {
      if (!this.timedPass) {
        this.backend.endComputePassEncoder();
        const t = this.timestamps;
        this.timedPass = this.encoder().beginComputePass({
          timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: t.beginIndex, endOfPassWriteIndex: t.endIndex },
        });
      }
      return this.timedPass;
    }
    const enc = this.encoder();
    this.q.computePassEncoder ??= enc.beginComputePass();
    return this.q.computePassEncoder;
  }

  private uniform(bytes: number): GPUBuffer {
    const b = this.backend.bufferManager.acquireBuffer(bytes, UNIFORM_USAGE);
    this.q.uniformPendingDisposal.push(b);
    return b;
  }
}

/**
 * Allocates float32 outputs, binds inputs and outputs and lets `encode` record dispatches into
 * tfjs's open encoder. Returns undefined (caller falls back) if an input is not a plain GPU buffer.
 */
export function runOnBackend(
  backend: WebGPUBackend,
  inputs: readonly TensorInfo[],
  outShapes: readonly number[][],
  encode: (rec: KernelRecorder, ins: GPUBuffer[], outs: GPUBuffer[], ctx: GpuContext) => void,
): TensorInfo[] | undefined {
  const ins: GPUBuffer[] = [];
  for (const t of inputs) {
    const b = bufferOf(backend, t);
    if (!b) return undefined;
    ins.push(b);
  }
  const outInfos = outShapes.map((s) => backend.makeTensorInfo(s, 'float32'));
  const outs = outInfos.map((t) => bufferOf(backend, t) as GPUBuffer);
  const ctx = contextForBackend(backend);
  const q = tfjsQueue(backend);
  if (!q) {
    // Unknown tfjs internals: submit tfjs's pending work, then ours, so queue order is program order.
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    const batch = new CommandBatch(ctx);
    encode(batch, ins, outs, ctx);
    batch.submit();
    return outInfos;
  }
  for (const t of [...inputs, ...outInfos]) q.commandQueueOwnedIds.add(t.dataId);
  const rec = new TfjsRecorder(backend, q, ctx, ctx.profiler?.take());
  try {
    encode(rec, ins, outs, ctx);
  } finally {
    rec.finish();
  }
  return outInfos;
}

/**
 * Where our GEMMs pack the B operand `owner`: kept per tensor (a weight is packed once, see
 * pack-cache.ts) when given, else the shared scratch texture. `key` says what the pack holds.
 */
export function packSourceFor(backend: WebGPUBackend, ctx: GpuContext, owner: TensorInfo | undefined, key: string): PackSource {
  if (!owner) return ctx.packs.scratchSource();
  return (w, h) => ctx.packs.target(owner.dataId, key, w, h, (o) => backend.tensorMap.has(o as TensorInfo['dataId']));
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
