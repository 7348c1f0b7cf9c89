/// <reference types="@webgpu/types" />
// The one Dawn device of the process. We create it ourselves (instead of letting tfjs's stock
// factory do it) so that it carries the features our kernels want (subgroups, shader-f16,
// timestamp-query) and hand it to tfjs-backend-webgpu through a replacement backend factory:
// tfjs and our kernels then share buffers and queue order on the same device.
import { readdirSync } from 'node:fs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { BufferPools, type KernelProfiler } from './dispatcher.js';
import { PipelineCache } from './pipeline-cache.js';
import { PackTextures } from './pack-cache.js';

/** Adapter description reported by `doctor` and used to choose kernel variants. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  /** lavapipe/SwiftShader: CPU-backed, where register blocking beats shared memory. */
  software: boolean;
  subgroups: boolean;
  shaderF16: boolean;
  timestampQuery: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  limits: Record<string, number>;
}

/** What a lost device reports to the runtime (`reason` is `destroyed` or `unknown`). */
export interface DeviceLostInfo { reason: string; message: string }
export type DeviceLostHandler = (info: DeviceLostInfo) => void;

// Limits we raise to the adapter maximum (tfjs's stock factory does the same).
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
  'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxTextureDimension2D',
] as const;
const OPTIONAL_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16', 'bgra8unorm-storage'] as const;

const REPORTED_LIMITS = [
  ...RAISED_LIMITS, 'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
] as const;

let installed: Promise<AdapterSummary> | undefined;
let gpuInstance: GPU | undefined;
const lostHandlers = new Set<DeviceLostHandler>();
const watchedDevices = new WeakSet<GPUDevice>();

function summarize(adapter: GPUAdapter, device?: GPUDevice): AdapterSummary {
  const info = adapter.info;
  const features = [...(device ?? adapter).features] as string[];
  const limitsSrc = (device ?? adapter).limits;
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) {
    const v = (limitsSrc as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') limits[name] = v;
  }
  const infoExt = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const summary: AdapterSummary = {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    features, software: isSoftwareAdapter(info.vendor, info.architecture, info.device),
    subgroups: features.includes('subgroups'), shaderF16: features.includes('shader-f16'),
    timestampQuery: features.includes('timestamp-query'), limits,
  };
  if (typeof infoExt.subgroupMinSize === 'number') summary.subgroupMinSize = infoExt.subgroupMinSize;
  if (typeof infoExt.subgroupMaxSize === 'number') summary.subgroupMaxSize = infoExt.subgroupMaxSize;
  return summary;
}

/** lavapipe reports vendor `mesa`, architecture `software`; SwiftShader says `swiftshader`. */
export function isSoftwareAdapter(vendor: string, architecture: string, device = ''): boolean {
  const s = `${vendor} ${architecture} ${device}`.toLowerCase();
  return architecture === 'software' || s.includes('llvmpipe') || s.includes('swiftshader') || s.includes('lavapipe');
}

function gpu(): GPU {
  if (!gpuInstance) throw new Error('installWebGpuGlobals() has not been called');
  return gpuInstance;
}

/**
 * Installs the Dawn WebGPU globals (`navigator.gpu`, GPU* classes) on globalThis and replaces
 * tfjs-backend-webgpu's backend factory with one that uses our device. Resolves to the adapter
 * info, or rejects with the reason WebGPU is unavailable.
 */
export function installWebGpuGlobals(): Promise<AdapterSummary> {
  installed ??= (async () => {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    // Unquantized timestamps: Dawn otherwise rounds them to 65 536 ns, useless for kernel timing.
    gpuInstance = create(['disable-dawn-features=timestamp_quantization']);
    // Node >= 21 has a getter-only navigator; defineProperty works on every version.
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuInstance }, configurable: true, writable: true });
    const adapter = await gpuInstance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error(noAdapterMessage());
    await installBackendFactory();
    return summarize(adapter);
  })();
  return installed;
}

// The backend module registers its stock factory at import time when navigator.gpu exists, so it
// must be imported after the globals; we then swap in our factory at the same priority.
// Device-loss recovery calls it again: removing the backend drops tfjs's instance (bound to the
// lost device for life) and the next tf.setBackend('webgpu') runs our factory on a new device.
export async function installBackendFactory(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { WebGPUBackend: Backend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const { device, adapter } = await createDevice();
    const backend = new Backend(device, adapter.info);
    const ctx = attachContext(device, summarize(adapter, device));
    ctx.ownedByFactory = true;
    return backend;
  }, 3);
}

/** Requests a fresh adapter (an adapter is single-use in dawn.node) and a device with our features. */
export async function createDevice(): Promise<{ device: GPUDevice; adapter: GPUAdapter }> {
  const adapter = await gpu().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter');
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  return { device, adapter };
}

/** Per-device state shared by the kernels: adapter summary, pipeline cache, pools, counters. */
export class GpuContext {
  ownedByFactory = false;
  /** Kernel dispatches encoded since start (exported as a metric by the runtime). */
  dispatches = 0;
  lost: DeviceLostInfo | undefined;
  /** Set by the benchmark: every batch then records GPU timestamps around its pass. */
  profiler: KernelProfiler | undefined;
  readonly pipelines: PipelineCache;
  readonly pools: BufferPools;
  /** Pack textures of the lavapipe GEMM core (scratch and kept weights). */
  readonly packs: PackTextures;
  constructor(readonly device: GPUDevice, readonly adapter: AdapterSummary) {
    this.pipelines = new PipelineCache(device);
    this.pools = new BufferPools(device);
    this.packs = new PackTextures(device);
  }
}

const contexts = new WeakMap<GPUDevice, GpuContext>();

function attachContext(device: GPUDevice, adapter: AdapterSummary): GpuContext {
  let ctx = contexts.get(device);
  if (!ctx) {
    ctx = new GpuContext(device, adapter);
    contexts.set(device, ctx);
    watchDevice(device, ctx);
  }
  return ctx;
}

function watchDevice(device: GPUDevice, ctx: GpuContext): void {
  if (watchedDevices.has(device)) return;
  watchedDevices.add(device);
  void device.lost.then((info) => {
    ctx.lost = { reason: info.reason, message: info.message };
    ctx.packs.lost();
    for (const h of lostHandlers) {
      try { h(ctx.lost); } catch { /* a failing handler must not hide the others */ }
    }
  });
}

/**
 * The context of a tfjs WebGPU backend's device. Works for backends made by our factory and,
 * with features read from the device itself, for ones made by tfjs's stock factory.
 */
export function contextForBackend(backend: WebGPUBackend): GpuContext {
  const device = backend.device;
  const existing = contexts.get(device);
  if (existing) return existing;
  const info = backend.adapterInfo as unknown as { vendor?: string; architecture?: string };
  const features = [...device.features] as string[];
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) limits[name] = device.limits[name];
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  return attachContext(device, {
    vendor, architecture, device: '', description: '', features,
    software: isSoftwareAdapter(vendor, architecture), subgroups: features.includes('subgroups'),
    shaderF16: features.includes('shader-f16'), timestampQuery: features.includes('timestamp-query'), limits,
  });
}

/** Context for a device created outside tfjs (tests, benchmarks of raw kernels). */
export function contextForDevice(device: GPUDevice, adapter: GPUAdapter): GpuContext {
  return attachContext(device, summarize(adapter, device));
}

/**
 * Registers a callback for device loss (driver reset, `destroy()`). The runtime uses it to mark
 * webgpu models unavailable and re-create the backend. Returns an unsubscribe function.
 */
export function onDeviceLost(handler: DeviceLostHandler): () => void {
  lostHandlers.add(handler);
  return () => lostHandlers.delete(handler);
}

/**
 * Why there is no adapter, with the fix that worked on a headless NVIDIA host: its stock ICD file names
 * libGLX_nvidia.so.0, which cannot create a Vulkan instance without a display; libEGL_nvidia.so.0 can.
 */
function noAdapterMessage(): string {
  const base = 'no WebGPU adapter (is a Vulkan loader and driver installed? Mesa lavapipe without a GPU)';
  let nvidia = false;
  try {
    nvidia = readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f));
  } catch { /* no /dev listing: not Linux */ }
  return nvidia
    ? `${base}; an NVIDIA GPU is present: point VK_ICD_FILENAMES at an ICD file naming libEGL_nvidia.so.0 (images/vulkan/nvidia_icd.json)`
    : base;
}
