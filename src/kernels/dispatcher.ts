/// <reference types="@webgpu/types" />
// Batches kernel dispatches into one command encoder and one compute pass, then submits once.
// Uniform and scratch buffers come from per-device pools and return to them after submit: a
// buffer is only reused by work queued after that submit, so queue order keeps reuse safe.
import type { GpuContext } from './device.js';
import type { KernelProgram } from './program.js';

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */

class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  constructor(private readonly device: GPUDevice, private readonly usage: number, private readonly label: string) {}

  acquire(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) return reused;
    return this.device.createBuffer({ label: this.label, size, usage: this.usage });
  }

  release(buffers: readonly GPUBuffer[]): void {
    for (const b of buffers) {
      let list = this.free.get(b.size);
      if (!list) this.free.set(b.size, (list = []));
      list.push(b);
    }
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}

export class BufferPools {
  readonly uniform: BufferPool;
  readonly scratch: BufferPool;
  constructor(device: GPUDevice) {
    this.uniform = new BufferPool(device, UNIFORM_USAGE, 'dawnserve-uniforms');
    this.scratch = new BufferPool(device, STORAGE_USAGE, 'dawnserve-scratch');
  }
}

export interface PassTimestamps {
  querySet: GPUQuerySet;
  beginIndex: number;
  endIndex: number;
  /** Resolves the pair at submit (set by KernelProfiler.take). */
  profiler?: KernelProfiler;
}

/**
 * GPU time of every batch submitted while installed on a context (timestamp-query): one query
 * pair per batch, around its single compute pass. Used by the benchmark.
 */
export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private next = 0;
  constructor(private readonly device: GPUDevice, private readonly capacity = 256) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity * 2 });
    this.resolveBuf = device.createBuffer({ size: capacity * 16, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 /* COPY_SRC */ });
  }

  /** Query slots for the next batch, or undefined when full. */
  take(): PassTimestamps | undefined {
    if (this.next >= this.capacity) return undefined;
    const i = this.next++;
    return { querySet: this.querySet, beginIndex: 2 * i, endIndex: 2 * i + 1, profiler: this };
  }

  resolve(encoder: GPUCommandEncoder, t: PassTimestamps): void {
    encoder.resolveQuerySet(this.querySet, t.beginIndex, 2, this.resolveBuf, t.beginIndex * 8);
  }

  /** Milliseconds per recorded batch, in order; resets the profiler. */
  async read(): Promise<number[]> {
    const n = this.next;
    this.next = 0;
    if (n === 0) return [];
    const staging = this.device.createBuffer({ size: n * 16, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.resolveBuf, 0, staging, 0, n * 16);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x01 /* READ */);
    const ts = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(Number(ts[2 * i + 1]! - ts[2 * i]!) / 1e6);
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}

/**
 * Where a kernel records its dispatches: a standalone `CommandBatch` (own encoder, own submit) or,
 * for tfjs tensors, tfjs-backend-webgpu's open encoder (`tfjs/bridge.ts`).
 */
/** A texture view bound in a kernel's binding list (sampled or storage, as its WGSL declares). */
export interface TextureBinding { view: GPUTextureView }
/** What a kernel binds at one @binding: a storage buffer or a texture view. */
export type Binding = GPUBuffer | TextureBinding;

function resourceOf(b: Binding): GPUBindingResource {
  return 'view' in b ? b.view : { buffer: b };
}

export interface KernelRecorder {
  /** Encodes one dispatch; `buffers` bind to @binding(0..n-1), the uniforms to @binding(n). */
  dispatch<P>(program: KernelProgram<P>, p: P, buffers: readonly Binding[]): void;
  /** A temporary storage buffer that stays valid until the dispatches that use it have run. */
  scratch(bytes: number): GPUBuffer;
}

/** Dispatches over every device this process had (a context dies with its device). */
let dispatchesTotal = 0;

/** WGSL kernel dispatches encoded since the process started; the runtime exports it on scrape. */
export function kernelDispatches(): number {
  return dispatchesTotal;
}

/**
 * Records one dispatch into the pass `pass()` returns (opened only when there is work). The
 * uniform buffer comes from `uniform(bytes)` and must stay untouched until the submit that reads
 * it: `writeBuffer` runs at queue time, before a command buffer that is still being recorded.
 * Returns false when the dispatch is empty.
 */
export function encodeDispatch<P>(ctx: GpuContext, pass: () => GPUComputePassEncoder, program: KernelProgram<P>, p: P,
  buffers: readonly Binding[], uniform: (bytes: number) => GPUBuffer): boolean {
  const [x, y, z] = program.dispatch(p);
  if (x === 0 || y === 0 || z === 0) return false;
  const max = ctx.adapter.limits['maxComputeWorkgroupsPerDimension'] ?? 65535;
  if (x > max || y > max || z > max) {
    throw new Error(`${program.name}: dispatch ${x}x${y}x${z} exceeds ${max} workgroups per dimension`);
  }
  const device = ctx.device;
  const pipeline = ctx.pipelines.get(program, p);
  const data = program.uniforms(p);
  const ubuf = uniform(data.byteLength);
  device.queue.writeBuffer(ubuf, 0, data);
  const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: resourceOf(b) }));
  entries.push({ binding: buffers.length, resource: { buffer: ubuf, size: data.byteLength } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const enc = pass();
  enc.setPipeline(pipeline);
  enc.setBindGroup(0, bindGroup);
  enc.dispatchWorkgroups(x, y, z);
  ctx.dispatches++;
  dispatchesTotal++;
  return true;
}

/** Standalone batch: one encoder, one compute pass, one submit (raw-buffer tests and tuning benches). */
export class CommandBatch implements KernelRecorder {
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  private readonly usedUniforms: GPUBuffer[] = [];
  private readonly usedScratch: GPUBuffer[] = [];
  private submitted = false;

  private readonly timestamps: PassTimestamps | undefined;

  constructor(private readonly ctx: GpuContext, timestamps?: PassTimestamps) {
    this.encoder = ctx.device.createCommandEncoder({ label: 'dawnserve-kernels' });
    this.timestamps = timestamps ?? ctx.profiler?.take();
  }

  /** Encodes one dispatch; `buffers` bind to @binding(0..n-1), the uniforms to @binding(n). */
  dispatch<P>(program: KernelProgram<P>, p: P, buffers: readonly Binding[]): void {
    if (this.submitted) throw new Error('CommandBatch already submitted');
    encodeDispatch(this.ctx, () => this.openPass(), program, p, buffers, (bytes) => {
      const ubuf = this.ctx.pools.uniform.acquire(bytes);
      this.usedUniforms.push(ubuf);
      return ubuf;
    });
  }

  /** A temporary storage buffer that lives until this batch is submitted. */
  scratch(bytes: number): GPUBuffer {
    const b = this.ctx.pools.scratch.acquire(bytes);
    this.usedScratch.push(b);
    return b;
  }

  /** Lets callers append copies/resolves after the kernels (ends the compute pass). */
  commandEncoder(): GPUCommandEncoder {
    this.closePass();
    return this.encoder;
  }

  submit(): void {
    if (this.submitted) return;
    this.submitted = true;
    this.closePass();
    this.timestamps?.profiler?.resolve(this.encoder, this.timestamps);
    this.ctx.device.queue.submit([this.encoder.finish()]);
    this.ctx.pools.uniform.release(this.usedUniforms);
    this.ctx.pools.scratch.release(this.usedScratch);
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) {
      const desc: GPUComputePassDescriptor = {};
      if (this.timestamps) {
        desc.timestampWrites = {
          querySet: this.timestamps.querySet,
          beginningOfPassWriteIndex: this.timestamps.beginIndex,
          endOfPassWriteIndex: this.timestamps.endIndex,
        };
      }
      this.pass = this.encoder.beginComputePass(desc);
    }
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = undefined;
  }
}
