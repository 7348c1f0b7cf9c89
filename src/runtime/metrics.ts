// Prometheus metrics with Triton's names, HELP texts and labels (protocol notes §1.12), plus
// dawnserve's own. The registry is served by the HTTP layer on the metrics port.
import os from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ComputeTimes } from './statistics.js';

export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

export const FAILURE_REASONS: readonly FailureReason[] = ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'];

/** The Dawn adapter behind the webgpu backend, as `dawnserve_backend_info` labels it. */
export interface AdapterLabels { vendor: string; architecture: string }

/** One loaded model version's scheduler queue, for `dawnserve_queue_depth`. */
export interface QueueDepth { model: string; version: string; depth: number }

/**
 * Everything read at scrape time comes through callbacks: the runtime core must not import tfjs
 * or src/kernels, and nothing here may cost a request anything.
 */
export interface MetricsOptions {
  /** The tfjs backend the server chose (`dawnserve_backend_info{backend}`); see setBackend. */
  backend: string;
  adapter?: AdapterLabels;
  /** Live tfjs tensors. */
  tensorsAlive?: () => number;
  /** Bytes in GPU buffers in use by tfjs (`tf.memory().numBytesInGPU`); undefined off webgpu. */
  gpuMemoryBytes?: () => number | undefined;
  /** WGSL kernel dispatches since the process started (monotonic). */
  kernelDispatches?: () => number;
  /** Requests waiting in each loaded version's scheduler queue. */
  queueDepths?: () => Iterable<QueueDepth>;
}

const MV = ['model', 'version'] as const;
// Triton adds whole microseconds per request (ns / 1000 in integer arithmetic, infer_stats.cc).
const us = (ns: number): number => Math.floor(ns / 1000);

type Labels = { model: string; version: string };

/** A metric labelled by model and version only. */
interface PerVersion { remove(labels: Labels): void }

/**
 * One model version's counts since the last scrape. Requests only add to plain numbers; the
 * prom-client metrics are brought up to date when scraped (their `collect`): prom-client hashes
 * the label set on every `inc`, which cost more per request than the statistics themselves.
 * `undefined` = no series yet; versionLoaded makes every series of a loaded version appear at 0.
 */
interface Series {
  labels: Labels;
  success?: number;
  inferenceCount?: number;
  exec?: number;
  requestUs?: number;
  queueUs?: number;
  inputUs?: number;
  inferUs?: number;
  outputUs?: number;
  pending?: number;
  failures: Partial<Record<FailureReason, number>>;
}

type DeltaField = 'success' | 'inferenceCount' | 'exec' | 'requestUs' | 'queueUs' | 'inputUs' | 'inferUs' | 'outputUs';
const DELTA_FIELDS: readonly DeltaField[] = ['success', 'inferenceCount', 'exec', 'requestUs', 'queueUs', 'inputUs', 'inferUs', 'outputUs'];

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly series = new Map<string, Map<string, Series>>();
  /** Every metric labelled by model and version (failures aside): unloading a version removes its series from each. */
  private readonly perVersion: PerVersion[] = [];
  private readonly failures: Counter<'model' | 'version' | 'reason'>;
  private readonly loadDuration: Gauge<'model' | 'version'>;
  private readonly backendInfo: Gauge<'backend' | 'adapter_vendor' | 'adapter_architecture'>;
  private backend = '';

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    const counter = (name: string, help: string, field: DeltaField): void => {
      const flush = (c: Counter<'model' | 'version'>): void => this.flush(c, field);
      this.perVersion.push(new Counter({ name, help, labelNames: MV, registers, collect() { flush(this); } }));
    };
    counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', 'success');
    const flushFailures = (c: Counter<'model' | 'version' | 'reason'>): void => this.flushFailures(c);
    this.failures = new Counter({
      name: 'nv_inference_request_failure', help: 'Number of failed inference requests, all batch sizes',
      labelNames: [...MV, 'reason'], registers, collect() { flushFailures(this); },
    });
    counter('nv_inference_count', 'Number of inferences performed (does not include cached requests)', 'inferenceCount');
    counter('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', 'exec');
    counter('nv_inference_request_duration_us',
      'Cumulative inference request duration in microseconds (includes cached requests)', 'requestUs');
    counter('nv_inference_queue_duration_us',
      'Cumulative inference queuing duration in microseconds (includes cached requests)', 'queueUs');
    counter('nv_inference_compute_input_duration_us',
      'Cumulative compute input duration in microseconds (does not include cached requests)', 'inputUs');
    counter('nv_inference_compute_infer_duration_us',
      'Cumulative compute inference duration in microseconds (does not include cached requests)', 'inferUs');
    counter('nv_inference_compute_output_duration_us',
      'Cumulative inference compute output duration in microseconds (does not include cached requests)', 'outputUs');
    const setPending = (g: Gauge<'model' | 'version'>): void => {
      for (const s of this.allSeries()) if (s.pending !== undefined) g.set(s.labels, s.pending);
    };
    this.perVersion.push(new Gauge({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution per-model.', labelNames: MV, registers,
      collect() { setPending(this); },
    }));
    this.loadDuration = new Gauge({
      name: 'nv_model_load_duration_secs', help: 'Model load time in seconds', labelNames: MV, registers,
    });
    this.perVersion.push(this.loadDuration);
    new Gauge({
      name: 'nv_cpu_memory_total_bytes', help: 'CPU total memory (RAM), in bytes', registers,
      collect() { this.set(os.totalmem()); },
    });
    new Gauge({
      name: 'nv_cpu_memory_used_bytes', help: 'CPU used memory (RAM), in bytes', registers,
      collect() { this.set(os.totalmem() - os.freemem()); },
    });
    this.backendInfo = new Gauge({
      name: 'dawnserve_backend_info',
      help: 'TensorFlow.js backend the server runs models on, and the Dawn adapter behind webgpu (value is always 1)',
      labelNames: ['backend', 'adapter_vendor', 'adapter_architecture'], registers,
    });
    this.setBackend(opts.backend, opts.adapter);
    const alive = opts.tensorsAlive;
    if (alive) {
      new Gauge({
        name: 'dawnserve_tensors_alive', help: 'Number of TensorFlow.js tensors currently allocated', registers,
        collect() { this.set(alive()); },
      });
    }
    const gpuBytes = opts.gpuMemoryBytes;
    if (gpuBytes) {
      const backend = (): string => this.backend;
      new Gauge({
        name: 'dawnserve_gpu_memory_bytes',
        help: 'Bytes of GPU memory in use by TensorFlow.js tensors and dawnserve kernel pack textures (webgpu backend only)',
        labelNames: ['backend'], registers,
        collect() {
          this.reset();
          const bytes = gpuBytes();
          if (bytes !== undefined) this.set({ backend: backend() }, bytes);
        },
      });
    }
    const dispatches = opts.kernelDispatches;
    if (dispatches) {
      let seen = 0;
      new Counter({
        name: 'dawnserve_kernel_dispatches_total', help: "Number of dawnserve WGSL kernel dispatches (tfjs's own kernels not included)",
        registers,
        collect() {
          const now = dispatches();
          this.inc(Math.max(0, now - seen));
          seen = Math.max(seen, now);
        },
      });
    }
    const depths = opts.queueDepths;
    if (depths) {
      new Gauge({
        name: 'dawnserve_queue_depth', help: "Requests waiting in the model version's scheduler queue",
        labelNames: MV, registers,
        collect() {
          this.reset();
          for (const d of depths()) this.set({ model: d.model, version: d.version }, d.depth);
        },
      });
    }
  }

  /**
   * The backend now serving (device-loss recovery re-creates webgpu on a new adapter or falls
   * back to another backend): `dawnserve_backend_info` keeps one series, the current one.
   */
  setBackend(backend: string, adapter?: AdapterLabels): void {
    this.backend = backend;
    this.backendInfo.reset();
    this.backendInfo.set({
      backend, adapter_vendor: adapter?.vendor ?? '', adapter_architecture: adapter?.architecture ?? '',
    }, 1);
  }

  /**
   * A version was loaded: its series exist from now on at 0, failures under each reason, as
   * Triton's MetricModelReporter creates them when the model loads.
   */
  versionLoaded(model: string, version: string): void {
    let byVersion = this.series.get(model);
    if (!byVersion) {
      byVersion = new Map();
      this.series.set(model, byVersion);
    }
    let s = byVersion.get(version);
    if (!s) {
      s = { labels: { model, version }, failures: {} };
      byVersion.set(version, s);
    }
    for (const f of DELTA_FIELDS) s[f] ??= 0;
    for (const r of FAILURE_REASONS) s.failures[r] ??= 0;
    s.pending ??= 0;
  }

  /**
   * A version was unloaded: its series leave the metrics page, as Triton's MetricModelReporter
   * removes them from every family when the unloaded model drops it; a later load starts them at 0.
   * Explicit-mode load/unload cycles would otherwise grow the page without bound.
   */
  versionUnloaded(model: string, version: string): void {
    const byVersion = this.series.get(model);
    byVersion?.delete(version);
    if (byVersion?.size === 0) this.series.delete(model);
    const labels = { model, version };
    for (const m of this.perVersion) m.remove(labels);
    for (const reason of FAILURE_REASONS) this.failures.remove({ ...labels, reason });
  }

  /**
   * The series of a loaded version. Undefined after its unload: a request the unload drained may
   * finish after it, and must not bring the removed series back.
   */
  private seriesFor(model: string, version: string): Series | undefined {
    return this.series.get(model)?.get(version);
  }

  private *allSeries(): Iterable<Series> {
    for (const byVersion of this.series.values()) yield* byVersion.values();
  }

  private flush(c: Counter<'model' | 'version'>, field: DeltaField): void {
    for (const s of this.allSeries()) {
      const delta = s[field];
      if (delta === undefined) continue;
      c.inc(s.labels, delta);
      s[field] = 0;
    }
  }

  private flushFailures(c: Counter<'model' | 'version' | 'reason'>): void {
    for (const s of this.allSeries()) {
      for (const [reason, delta] of Object.entries(s.failures)) {
        c.inc({ ...s.labels, reason }, delta);
        s.failures[reason as FailureReason] = 0;
      }
    }
  }

  requestSuccess(model: string, version: string, batchSize: number, totalNs: number, queueNs: number, c: ComputeTimes): void {
    const s = this.seriesFor(model, version);
    if (!s) return;
    s.success = (s.success ?? 0) + 1;
    s.inferenceCount = (s.inferenceCount ?? 0) + batchSize;
    s.requestUs = (s.requestUs ?? 0) + us(totalNs);
    s.queueUs = (s.queueUs ?? 0) + us(queueNs);
    s.inputUs = (s.inputUs ?? 0) + us(c.inputNs);
    s.inferUs = (s.inferUs ?? 0) + us(c.inferNs);
    s.outputUs = (s.outputUs ?? 0) + us(c.outputNs);
  }

  /** A failed request: counted by reason only; Triton's request duration covers successes. */
  requestFailure(model: string, version: string, reason: FailureReason): void {
    const s = this.seriesFor(model, version);
    if (!s) return;
    s.failures[reason] = (s.failures[reason] ?? 0) + 1;
  }

  execution(model: string, version: string): void {
    const s = this.seriesFor(model, version);
    if (!s) return;
    s.exec = (s.exec ?? 0) + 1;
  }

  pendingChanged(model: string, version: string, delta: number): void {
    const s = this.seriesFor(model, version);
    if (!s) return;
    s.pending = (s.pending ?? 0) + delta;
  }

  modelLoaded(model: string, version: string, seconds: number): void {
    this.loadDuration.set({ model, version }, seconds);
  }
}
