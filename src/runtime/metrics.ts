// Prometheus metrics with Triton's names, HELP texts and labels (protocol notes §1.12), plus
// dawnserve's own. The registry is served by the HTTP layer on the metrics port.
import os from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ComputeTimes } from './statistics.js';

export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

export interface MetricsOptions {
  /** The tfjs backend the server chose (`dawnserve_backend_info{backend}`). */
  backend: string;
  /** Live tfjs tensors; a callback because the runtime core must not import tfjs. */
  tensorsAlive?: () => number;
}

const MV = ['model', 'version'] as const;
const us = (ns: number): number => ns / 1000;

type Labels = { model: string; version: string };

/**
 * One model version's counts since the last scrape. Requests only add to plain numbers; the
 * prom-client metrics are brought up to date when scraped (their `collect`): prom-client hashes
 * the label set on every `inc`, which cost more per request than the statistics themselves.
 * `undefined` = never counted, so that a series appears when it first counts, as with `inc`.
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

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly series = new Map<string, Map<string, Series>>();
  private readonly loadDuration: Gauge<'model' | 'version'>;

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    const counter = (name: string, help: string, field: DeltaField) => {
      const flush = (c: Counter<'model' | 'version'>): void => this.flush(c, field);
      return new Counter({ name, help, labelNames: MV, registers, collect() { flush(this); } });
    };
    counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', 'success');
    const flushFailures = (c: Counter<'model' | 'version' | 'reason'>): void => this.flushFailures(c);
    new Counter({
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
    new Gauge({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution per-model.', labelNames: MV, registers,
      collect() { setPending(this); },
    });
    this.loadDuration = new Gauge({
      name: 'nv_model_load_duration_secs', help: 'Model load time in seconds', labelNames: MV, registers,
    });
    new Gauge({
      name: 'nv_cpu_memory_total_bytes', help: 'CPU total memory (RAM), in bytes', registers,
      collect() { this.set(os.totalmem()); },
    });
    new Gauge({
      name: 'nv_cpu_memory_used_bytes', help: 'CPU used memory (RAM), in bytes', registers,
      collect() { this.set(os.totalmem() - os.freemem()); },
    });
    new Gauge({
      name: 'dawnserve_backend_info', help: 'TensorFlow.js backend the server runs models on (value is always 1)',
      labelNames: ['backend'], registers,
    }).set({ backend: opts.backend }, 1);
    const alive = opts.tensorsAlive;
    if (alive) {
      new Gauge({
        name: 'dawnserve_tensors_alive', help: 'Number of TensorFlow.js tensors currently allocated', registers,
        collect() { this.set(alive()); },
      });
    }
  }

  private seriesFor(model: string, version: string): Series {
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
    return s;
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
    s.success = (s.success ?? 0) + 1;
    s.inferenceCount = (s.inferenceCount ?? 0) + batchSize;
    s.requestUs = (s.requestUs ?? 0) + us(totalNs);
    s.queueUs = (s.queueUs ?? 0) + us(queueNs);
    s.inputUs = (s.inputUs ?? 0) + us(c.inputNs);
    s.inferUs = (s.inferUs ?? 0) + us(c.inferNs);
    s.outputUs = (s.outputUs ?? 0) + us(c.outputNs);
  }

  requestFailure(model: string, version: string, reason: FailureReason, totalNs: number): void {
    const s = this.seriesFor(model, version);
    s.failures[reason] = (s.failures[reason] ?? 0) + 1;
    s.requestUs = (s.requestUs ?? 0) + us(totalNs);
  }

  execution(model: string, version: string): void {
    const s = this.seriesFor(model, version);
    s.exec = (s.exec ?? 0) + 1;
  }

  pendingChanged(model: string, version: string, delta: number): void {
    const s = this.seriesFor(model, version);
    s.pending = (s.pending ?? 0) + delta;
  }

  modelLoaded(model: string, version: string, seconds: number): void {
    this.loadDuration.set({ model, version }, seconds);
  }
}
