// WebGPU device loss (issues 5 and 8): a driver reset, a GPU that falls off the bus, or
// `device.destroy()` resolves the Dawn device's `lost` promise. tfjs-backend-webgpu cannot carry
// on (its backend instance is bound to that device for life), so the server:
//   1. at once marks every version on webgpu LOADING with DEVICE_LOST_REASON: new requests and
//      those in flight answer 503 UNAVAILABLE with it (model-manager suspendBackend);
//   2. drains and unloads those versions, re-creates the webgpu backend on a new device with our
//      WGSL kernels (backends.ts reinitialiseWebGpu), and loads every version again: READY, or
//      UNAVAILABLE with the load's reason (model-manager reloadBackend);
//   3. if no new device can be created, falls back to the next backend of the auto order that
//      initialises (wasm, then cpu), logs why, and reloads the models there.
// A loss during a recovery queues another recovery after it. The process never exits for a loss.
import type { Logger } from 'pino';
import { onDeviceLost, type DeviceLostInfo } from '../kernels/index.js';
import {
  AUTO_ORDER, initBackend, reinitialiseWebGpu, webGpuDeviceLost, type BackendName, type BackendOptions, type BackendSelection,
} from './backends.js';
import type { TritonRuntime } from './runtime.js';

export const DEVICE_LOST_REASON = 'GPU device lost; reloading models';

/** One recovery, for logs, tests and docs/reliability.md. */
export interface RecoveryRecord {
  /** Dawn's `GPUDeviceLostInfo`: reason `destroyed` or `unknown`, and its message. */
  lost: DeviceLostInfo;
  /** Backend the models were reloaded on: webgpu, or the fallback when no new device could be made. */
  backend: BackendName;
  /** Why the webgpu backend could not be re-created (only when it fell back). */
  error?: string;
  reloaded: number;
  failed: number;
  /** From the loss until every affected version was READY or UNAVAILABLE again. */
  seconds: number;
}

export interface DeviceRecoveryOptions {
  runtime: TritonRuntime;
  /** The server's backend selection; kept current (backend, adapter, WGSL kernels, reasons). */
  selection: BackendSelection;
  log: Logger;
  backendOptions?: BackendOptions;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class DeviceRecovery {
  /** Completed recoveries, oldest first. */
  readonly history: RecoveryRecord[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: DeviceRecoveryOptions) {
    this.unsubscribe = onDeviceLost((info) => this.onLost(info));
  }

  /** True from a loss until its models are loaded again. */
  get recovering(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once no recovery is running or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops reacting to device loss (server shutdown). */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private onLost(info: DeviceLostInfo): void {
    // Devices of kernel tests and benchmarks, or an old device already replaced, are not ours.
    if (this.stopped || !webGpuDeviceLost()) return;
    const { runtime, log } = this.opts;
    const t0 = process.hrtime.bigint();
    runtime.manager.suspendBackend('webgpu', DEVICE_LOST_REASON);
    log.error({ reason: info.reason, message: info.message }, DEVICE_LOST_REASON);
    const run: Promise<void> = (this.running ?? Promise.resolve())
      .then(() => this.recover(info, t0))
      .catch((e: unknown) => { log.error({ err: message(e) }, 'device-loss recovery failed'); })
      .finally(() => { if (this.running === run) this.running = undefined; });
    this.running = run;
  }

  private async recover(lost: DeviceLostInfo, t0: bigint): Promise<void> {
    if (this.stopped) return;
    const { runtime, selection, log } = this.opts;
    let error: string | undefined;
    let backend: BackendName = 'webgpu';
    const { reloaded, failed } = await runtime.manager.reloadBackend('webgpu', async () => {
      try {
        const r = await reinitialiseWebGpu(this.opts.backendOptions);
        if (selection.backend === 'webgpu') {
          if (r.adapter) selection.adapter = r.adapter;
          if (r.wgslKernels) selection.wgslKernels = r.wgslKernels;
        }
        log.info({ detail: r.detail }, 're-created the webgpu backend on a new device');
        return backend;
      } catch (e) {
        error = message(e);
      }
      backend = await this.fallBack(error);
      return backend;
    });
    runtime.metrics.setBackend(selection.backend, selection.adapter);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.history.push({ lost, backend, ...(error !== undefined ? { error } : {}), reloaded, failed, seconds });
    const entry = { backend, reloaded, failed, seconds };
    if (failed > 0) log.error(entry, 'some models failed to reload after GPU device loss');
    else log.info(entry, 'models reloaded after GPU device loss');
  }

  /**
   * No new device: the next backend of the auto order that initialises becomes the server's.
   * When none does, the models are reloaded on webgpu anyway and end UNAVAILABLE with its reason.
   */
  private async fallBack(error: string): Promise<BackendName> {
    const { selection, log } = this.opts;
    const tried: string[] = [];
    for (const name of AUTO_ORDER.slice(AUTO_ORDER.indexOf('webgpu') + 1)) {
      try {
        const next = await initBackend(name, this.opts.backendOptions);
        const wasDefault = selection.backend === 'webgpu';
        if (wasDefault) {
          selection.backend = next.backend;
          delete selection.adapter;
          delete selection.wgslKernels;
        }
        selection.reasons = { ...next.reasons, webgpu: `failed after device loss: ${error}` };
        log.error({ err: error, backend: name }, `could not re-create the webgpu backend after device loss; falling back to '${name}'`);
        return name;
      } catch (e) {
        tried.push(`${name}: ${message(e)}`);
      }
    }
    log.error({ err: error, tried }, 'could not re-create the webgpu backend after device loss, and no backend to fall back to');
    return 'webgpu';
  }
}
