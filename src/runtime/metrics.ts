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

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly success: Counter<'model' | 'version'>;
  private readonly failure: Counter<'model' | 'version' | 'reason'>;
  private readonly inferenceCount: Counter<'model' | 'version'>;
  private readonly execCount: Counter<'model' | 'version'>;
  private readonly requestDuration: Counter<'model' | 'version'>;
  private readonly queueDuration: Counter<'model' | 'version'>;
  private readonly computeInput: Counter<'model' | 'version'>;
  private readonly computeInfer: Counter<'model' | 'version'>;
  private readonly computeOutput: Counter<'model' | 'version'>;
  private readonly pending: Gauge<'model' | 'version'>;
  private readonly loadDuration: Gauge<'model' | 'version'>;

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: MV, registers });
    this.success = counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes');
    this.failure = new Counter({
      name: 'nv_inference_request_failure', help: 'Number of failed inference requests, all batch sizes',
      labelNames: [...MV, 'reason'], registers,
    });
    this.inferenceCount = counter('nv_inference_count', 'Number of inferences performed (does not include cached requests)');
    this.execCount = counter('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)');
    this.requestDuration = counter('nv_inference_request_duration_us',
      'Cumulative inference request duration in microseconds (includes cached requests)');
    this.queueDuration = counter('nv_inference_queue_duration_us',
      'Cumulative inference queuing duration in microseconds (includes cached requests)');
    this.computeInput = counter('nv_inference_compute_input_duration_us',
      'Cumulative compute input duration in microseconds (does not include cached requests)');
    this.computeInfer = counter('nv_inference_compute_infer_duration_us',
      'Cumulative compute inference duration in microseconds (does not include cached requests)');
    this.computeOutput = counter('nv_inference_compute_output_duration_us',
      'Cumulative inference compute output duration in microseconds (does not include cached requests)');
    this.pending = new Gauge({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution per-model.', labelNames: MV, registers,
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

  requestSuccess(model: string, version: string, batchSize: number, totalNs: number, queueNs: number, c: ComputeTimes): void {
    const l = { model, version };
    this.success.inc(l);
    this.inferenceCount.inc(l, batchSize);
    this.requestDuration.inc(l, us(totalNs));
    this.queueDuration.inc(l, us(queueNs));
    this.computeInput.inc(l, us(c.inputNs));
    this.computeInfer.inc(l, us(c.inferNs));
    this.computeOutput.inc(l, us(c.outputNs));
  }

  requestFailure(model: string, version: string, reason: FailureReason, totalNs: number): void {
    this.failure.inc({ model, version, reason });
    this.requestDuration.inc({ model, version }, us(totalNs));
  }

  execution(model: string, version: string): void {
    this.execCount.inc({ model, version });
  }

  pendingChanged(model: string, version: string, delta: number): void {
    this.pending.inc({ model, version }, delta);
  }

  modelLoaded(model: string, version: string, seconds: number): void {
    this.loadDuration.set({ model, version }, seconds);
  }
}
