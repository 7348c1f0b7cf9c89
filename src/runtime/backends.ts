// tfjs backend initialisation and selection (DESIGN §2: auto = tensorflow → webgpu → wasm → cpu).
//
// Every backend registers itself on the ONE @tensorflow/tfjs-core instance imported here: all the
// tfjs packages resolve to their CommonJS node bundles, which share node_modules' tfjs-core.
// Backend packages are imported lazily because importing one has side effects (webgpu registers
// only if navigator.gpu exists at import time; tfjs-node-gpu is an optional peer).
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { contextForBackend, installWebGpuGlobals, registerDawnKernels, resetWebGpuBackendFactory } from '../kernels/index.js';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type Tf = typeof tf;

/** `auto` tries these in order; the first that initialises wins. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export function isBackendName(s: string): s is BackendName {
  return (AUTO_ORDER as readonly string[]).includes(s);
}

export interface BackendOptions {
  /** Register dawnserve's WGSL kernels over tfjs-backend-webgpu's (default true). */
  wgslKernels?: boolean;
}

/** Dawn adapter description, as src/kernels reports it. */
export type WebGpuAdapterSummary = Awaited<ReturnType<typeof installWebGpuGlobals>>;

export interface BackendSelection {
  backend: BackendName;
  tf: Tf;
  /** For every backend: why it was not chosen (or failed), and for the chosen one why it was. */
  reasons: Record<BackendName, string>;
  /** Dawn adapter when webgpu was initialised. */
  adapter?: WebGpuAdapterSummary;
  /** Names of the WGSL kernels registered over tfjs's (webgpu only). */
  wgslKernels?: string[];
}

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const require = createRequire(import.meta.url);

/** Backends whose initialisation succeeded, with what it produced; a failure is remembered too. */
const initialised = new Map<BackendName, Promise<InitResult>>();
interface InitResult { ok: boolean; detail: string; adapter?: WebGpuAdapterSummary; wgslKernels?: string[] }

let defaultBackend: BackendName | undefined;
let wasmPathsSet = false;

// ---------------------------------------------------------------------------------------------
// CUDA visibility (shared with doctor)

export interface CudaProbe {
  /** `@tensorflow/tfjs-node-gpu` resolvable from this package. */
  tfjsNodeGpuInstalled: boolean;
  /** `/dev/nvidia<N>` device nodes (not nvidiactl/uvm). */
  deviceNodes: string[];
  /** CUDA_VISIBLE_DEVICES hides every device ('' or '-1'). */
  hiddenByEnv: boolean;
  /** A device is visible to CUDA. */
  deviceVisible: boolean;
}

export function isTfjsNodeGpuInstalled(): boolean {
  try {
    require.resolve(TFJS_NODE_GPU);
    return true;
  } catch {
    return false;
  }
}

export function probeCuda(): CudaProbe {
  let deviceNodes: string[] = [];
  try {
    deviceNodes = readdirSync('/dev').filter((f) => /^nvidia\d+$/.test(f)).map((f) => `/dev/${f}`);
  } catch {
    // no /dev (unusual sandbox): no devices
  }
  const env = process.env['CUDA_VISIBLE_DEVICES'];
  const hiddenByEnv = env !== undefined && (env.trim() === '' || env.trim() === '-1');
  return {
    tfjsNodeGpuInstalled: isTfjsNodeGpuInstalled(),
    deviceNodes,
    hiddenByEnv,
    deviceVisible: deviceNodes.length > 0 && !hiddenByEnv,
  };
}

// ---------------------------------------------------------------------------------------------
// Per-backend preparation: make the backend factory registered and its prerequisites met.

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function prepareTensorflow(): Promise<string> {
  if (!isTfjsNodeGpuInstalled()) throw new Error(`${TFJS_NODE_GPU} is not installed (optional; install it in a CUDA image)`);
  const cuda = probeCuda();
  // tfjs-node-gpu silently runs on the CPU when CUDA finds no device; that is not what a user
  // asking for "tensorflow" on a GPU cluster wants, so require a visible device up front.
  if (!cuda.deviceVisible) {
    throw new Error(cuda.hiddenByEnv
      ? 'no CUDA device visible: CUDA_VISIBLE_DEVICES hides all devices'
      : 'no CUDA device visible (no /dev/nvidia* device nodes)');
  }
  const spec: string = TFJS_NODE_GPU; // a variable keeps tsc from resolving the optional module
  await import(spec);
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(`${TFJS_NODE_GPU} registered its backend on another @tensorflow/tfjs-core instance (version mismatch with ${tf.version_core})`);
  }
  return `tfjs-node-gpu with CUDA device(s) ${cuda.deviceNodes.join(', ')}`;
}

async function prepareWebGpu(): Promise<{ detail: string; adapter: WebGpuAdapterSummary }> {
  // navigator.gpu must exist before the backend module is evaluated: it registers only then.
  const adapter = await installWebGpuGlobals();
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') == null) throw new Error('tfjs-backend-webgpu did not register (navigator.gpu missing at import)');
  return { detail: `Dawn adapter ${adapter.vendor}/${adapter.architecture} ${adapter.description}`.trim(), adapter };
}

async function prepareWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  if (!wasmPathsSet) {
    // A file path prefix works in Node: emscripten reads `<prefix>tfjs-backend-wasm*.wasm` with fs.
    if (!existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) throw new Error(`wasm binaries not found in ${dir}`);
    wasm.setWasmPaths(`${dir}${path.sep}`);
    wasmPathsSet = true;
  }
  return `tfjs-backend-wasm from ${dir}`;
}

async function prepareCpu(): Promise<string> {
  await import('@tensorflow/tfjs-backend-cpu');
  return 'tfjs-backend-cpu (always available, slowest)';
}

/**
 * Initialises one backend (once per process; failures are remembered) and leaves it the active
 * tfjs backend when it succeeds. Callers hold the backend lock or are in initBackend.
 */
async function initialiseOne(name: BackendName, opts: BackendOptions): Promise<InitResult> {
  let result = initialised.get(name);
  if (!result) {
    result = initialise(name, opts);
    initialised.set(name, result);
  }
  const r = await result;
  if (r.ok && tf.getBackend() !== name) await tf.setBackend(name);
  return r;
}

/** One initialisation attempt; leaves `name` the active tfjs backend when it succeeds. */
async function initialise(name: BackendName, opts: BackendOptions): Promise<InitResult> {
  const previous = tf.getBackend() as BackendName | undefined;
  try {
    let detail: string;
    let adapter: WebGpuAdapterSummary | undefined;
    switch (name) {
      case 'tensorflow': detail = await prepareTensorflow(); break;
      case 'webgpu': ({ detail, adapter } = await prepareWebGpu()); break;
      case 'wasm': detail = await prepareWasm(); break;
      case 'cpu': detail = await prepareCpu(); break;
    }
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed to initialise the backend`);
    // tfjs-backend-cpu greets Node users with advice to install tfjs-node on first use; the
    // server has already said which backend it chose and why.
    if (name === 'cpu') (tf.engine().registry['cpu'] as unknown as { firstUse?: boolean }).firstUse = false;
    let wgslKernels: string[] | undefined;
    if (name === 'webgpu' && opts.wgslKernels !== false) {
      // Our kernels are an optimisation over tfjs's own, which stay registered as the fallback.
      try {
        wgslKernels = await registerDawnKernels();
      } catch (e) {
        detail += ` (WGSL kernels not registered, using tfjs's: ${errorText(e)})`;
      }
    }
    return { ok: true, detail, adapter, wgslKernels };
  } catch (e) {
    // A failed tf.setBackend leaves tfjs pointing at the failed backend: point it back.
    await restoreActive(previous);
    return { ok: false, detail: errorText(e) };
  }
}

/** True when the device under tfjs's current webgpu backend instance has been lost. */
export function webGpuDeviceLost(): boolean {
  const backend = tf.engine().registry['webgpu'];
  return backend != null && contextForBackend(backend as unknown as WebGPUBackend).lost !== undefined;
}

/** What re-creating the webgpu backend produced (see reinitialiseWebGpu). */
export interface WebGpuReinit { detail: string; adapter?: WebGpuAdapterSummary; wgslKernels?: string[] }

/**
 * Device loss: tfjs-backend-webgpu binds one GPUDevice to its backend instance for life, so the
 * instance is removed, our factory (src/kernels) registered again, and the backend initialised
 * anew, which requests a new device; our kernels are registered over tfjs's again (a no-op for
 * those already wrapped: the kernel registry is keyed by backend name, not instance). Callers
 * first unload every model on webgpu: their tensors belong to the old instance. Rejects with the
 * reason when no device can be created; webgpu then stays failed for later withBackend calls.
 */
export async function reinitialiseWebGpu(opts: BackendOptions = {}): Promise<WebGpuReinit> {
  // Shared with webgpu work, exclusive with other backends: setBackend switches the global one.
  await lock.acquire('webgpu');
  try {
    // Several runtimes in one process each recover from the same loss; re-create the device once.
    const current = initialised.get('webgpu');
    if (current && tf.engine().registry['webgpu'] != null && !webGpuDeviceLost()) {
      const r = await current;
      if (r.ok) return { detail: r.detail, ...(r.adapter ? { adapter: r.adapter } : {}), ...(r.wgslKernels ? { wgslKernels: r.wgslKernels } : {}) };
    }
    const result = (async (): Promise<InitResult> => {
      try {
        await resetWebGpuBackendFactory();
      } catch (e) {
        return { ok: false, detail: `removing the lost webgpu backend failed: ${errorText(e)}` };
      }
      return initialise('webgpu', opts);
    })();
    // Set at once, so concurrent withBackend('webgpu') calls wait for this device, not the old one.
    initialised.set('webgpu', result);
    const r = await result;
    if (!r.ok) throw new Error(r.detail);
    const out: WebGpuReinit = { detail: r.detail };
    if (r.adapter) out.adapter = r.adapter;
    if (r.wgslKernels) out.wgslKernels = r.wgslKernels;
    return out;
  } finally {
    lock.release();
  }
}

/** A backend that tfjs knows and that is initialised, to recover from a failed setBackend. */
async function restoreActive(name: BackendName | undefined): Promise<void> {
  if (name && tf.engine().registry[name] != null) await tf.setBackend(name);
}

/**
 * Initialises `requested` (or the first working backend in AUTO_ORDER for 'auto') and makes it
 * the default tfjs backend. Throws when a forced backend cannot initialise.
 */
export async function initBackend(requested: 'auto' | BackendName, opts: BackendOptions = {}): Promise<BackendSelection> {
  const reasons = {} as Record<BackendName, string>;
  const candidates = requested === 'auto' ? AUTO_ORDER : [requested];
  let chosen: BackendName | undefined;
  let result: InitResult | undefined;
  for (const name of candidates) {
    const r = await initialiseOne(name, opts);
    if (r.ok) {
      chosen = name;
      result = r;
      reasons[name] = `chosen: ${r.detail}`;
      break;
    }
    reasons[name] = `failed: ${r.detail}`;
  }
  for (const name of AUTO_ORDER) {
    reasons[name] ??= requested === 'auto' ? `not tried: '${chosen}' comes first in the auto order` : `not requested (--backend ${requested})`;
  }
  if (!chosen || !result) {
    await restoreActive(defaultBackend);
    const why = requested === 'auto'
      ? candidates.map((n) => `${n}: ${reasons[n]}`).join('; ')
      : reasons[requested].replace(/^failed: /, '');
    throw new Error(`backend '${requested}' is unavailable: ${why}`);
  }
  defaultBackend = chosen;
  const selection: BackendSelection = { backend: chosen, tf, reasons };
  if (result.adapter) selection.adapter = result.adapter;
  if (result.wgslKernels) selection.wgslKernels = result.wgslKernels;
  return selection;
}

/** The backend initBackend chose, if it ran. */
export function getDefaultBackend(): BackendName | undefined {
  return defaultBackend;
}

// ---------------------------------------------------------------------------------------------
// withBackend: run tfjs work on a given backend.
//
// tfjs has ONE global active backend. A model pinned to another backend (`parameters.backend`)
// switches it around each execution. Cost: the switch itself is cheap once a backend is
// initialised (tfjs re-runs the backend's kernel setup functions: ~1.7 ms per switch measured
// alternating wasm and cpu on a 2-core dev machine, wasm's cwrap setup being most of it), but
// executions on *different* backends can no longer overlap — a switch waits until every execution
// on the current backend has finished, and executions on the same backend run concurrently as
// usual. Tensors must never cross backends: tfjs would move them through a synchronous read,
// which webgpu cannot do in Node. So every executor loads and executes inside withBackend.

interface Waiter { name: BackendName; resolve: () => void }

/**
 * Makes an initialised backend the active one. tf.setBackend on an initialised backend completes
 * synchronously (tfjs only awaits when it has to initialise), so the switch is atomic here.
 */
function activate(name: BackendName): void {
  if (tf.getBackend() !== name && tf.engine().registry[name] != null) void tf.setBackend(name);
}

/** Shared by executions on one backend, exclusive between backends, FIFO so none starves. */
class BackendLock {
  private active: BackendName | undefined;
  private holders = 0;
  private readonly queue: Waiter[] = [];

  acquire(name: BackendName): Promise<void> {
    if (this.queue.length === 0 && (this.holders === 0 || this.active === name)) {
      this.enter(name);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.queue.push({ name, resolve }));
  }

  release(): void {
    if (--this.holders > 0) return;
    const next = this.queue[0];
    if (!next) {
      // Idle: leave the server's default active, for code that uses tfjs without withBackend.
      this.active = undefined;
      if (defaultBackend) activate(defaultBackend);
      return;
    }
    while (this.queue[0]?.name === next.name) {
      const w = this.queue.shift()!;
      this.enter(w.name);
      w.resolve();
    }
  }

  private enter(name: BackendName): void {
    this.holders++;
    this.active = name;
    activate(name);
  }
}

const lock = new BackendLock();

/**
 * Runs `fn` with `name` as the active tfjs backend, initialising it first if needed.
 * Executions on the same backend run concurrently; a switch waits for the others to finish.
 */
export async function withBackend<T>(name: BackendName, fn: (tfjs: Tf) => Promise<T> | T, opts: BackendOptions = {}): Promise<T> {
  await lock.acquire(name);
  try {
    if (tf.engine().registry[name] == null) {
      const r = await initialiseOne(name, opts);
      if (!r.ok) throw new Error(`backend '${name}' is unavailable: ${r.detail}`);
    }
    return await fn(tf);
  } finally {
    lock.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

/** Number of live tfjs tensors over all backends (tf.memory().numTensors). */
export function tensorsAlive(): number {
  // The engine's own count: tf.memory() would first initialise a backend.
  return tf.engine().state.numTensors;
}

export interface BackendMemory {
  backend: string;
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
  /** webgpu only: bytes in GPU buffers in use / allocated (pooled). */
  numBytesInGPU?: number;
  numBytesAllocatedInGPU?: number;
  /** True when the backend could not account for every byte (e.g. strings). */
  unreliable: boolean;
}

export function backendMemory(): BackendMemory {
  if (tf.engine().backendName == null || tf.engine().registry[tf.engine().backendName] == null) {
    return { backend: 'none', numTensors: tensorsAlive(), numDataBuffers: 0, numBytes: 0, unreliable: false };
  }
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  const out: BackendMemory = {
    backend: tf.getBackend() ?? 'none',
    numTensors: m.numTensors,
    numDataBuffers: m.numDataBuffers,
    numBytes: m.numBytes,
    unreliable: m.unreliable ?? false,
  };
  if (typeof m.numBytesInGPU === 'number') out.numBytesInGPU = m.numBytesInGPU;
  if (typeof m.numBytesAllocatedInGPU === 'number') out.numBytesAllocatedInGPU = m.numBytesAllocatedInGPU;
  return out;
}
