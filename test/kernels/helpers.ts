// Shared setup for kernel tests: one webgpu backend on lavapipe with our kernels registered,
// tfjs-backend-cpu as the reference, a seeded RNG and the tolerance from DESIGN.md §6.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type * as tfType from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { installWebGpuGlobals } from '../../src/kernels/device.js';
import { registerDawnKernels } from '../../src/kernels/register.js';
import { type GpuContext, contextForBackend } from '../../src/kernels/device.js';

export type Tf = typeof tfType;

export interface KernelTestEnv {
  tf: Tf;
  backend: WebGPUBackend;
  dispatches(): number;
  /** The device's kernel context (adapter summary, pipeline cache). */
  ctx: GpuContext;
  teardown(): void;
}

export async function setupWebGpu(): Promise<KernelTestEnv> {
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp/xdg-dawnserve';
  mkdirSync(process.env['XDG_RUNTIME_DIR'], { recursive: true });
  await installWebGpuGlobals();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-webgpu');
  assert.equal(await tf.setBackend('webgpu'), true);
  // Tiny tensors would otherwise run on the CPU inside the webgpu backend.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  await registerDawnKernels();
  const backend = tf.backend() as WebGPUBackend;
  const ctx = contextForBackend(backend);
  backend.device.onuncapturederror = (e) => {
    throw new Error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  };
  return {
    tf, backend,
    dispatches: () => ctx.dispatches,
    ctx,
    teardown: () => backend.device.destroy(),
  };
}

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

/** Runs `f` on the cpu backend and returns its result's values. */
export async function onCpu(tf: Tf, f: () => tfType.Tensor): Promise<Float32Array> {
  await tf.setBackend('cpu');
  try {
    const t = f();
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  } finally {
    await tf.setBackend('webgpu');
  }
}

/** Runs `f` on webgpu inside a validation error scope; fails on any WebGPU error. */
export async function onGpu(env: KernelTestEnv, f: () => tfType.Tensor): Promise<{ values: Float32Array; shape: number[] }> {
  const device = env.backend.device;
  device.pushErrorScope('validation');
  const t = f();
  const values = (await t.data()) as Float32Array;
  const shape = t.shape.slice();
  t.dispose();
  const err = await device.popErrorScope();
  assert.equal(err, null, `WebGPU validation error: ${err?.message}`);
  return { values, shape };
}

/**
 * |a − e| ≤ (1e-4 + 1e-4·|e|)·scale, element by element; `scale` grows with the reduction
 * length (see reductionScale). NaN/±Inf must match exactly.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 1, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    const tol = (1e-4 + 1e-4 * Math.abs(e)) * scale;
    if (!(Math.abs(a - e) <= tol)) assert.fail(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol.toExponential(2)})`);
  }
}

/** Tolerance multiplier for a reduction of length k (fp32 rounding error grows with k). */
export function reductionScale(k: number): number {
  return Math.max(1, k / 64);
}
