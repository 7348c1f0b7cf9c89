// Per-version counters in the exact shape of Triton's statistics extension (protocol notes §1.9).
import type { ModelStatistics, StatDuration } from './api.js';

/** Nanosecond durations of one execution's phases. */
export interface ComputeTimes { inputNs: number; inferNs: number; outputNs: number }

const zero = (): StatDuration => ({ count: 0, ns: 0 });
const add = (d: StatDuration, ns: number, count = 1): void => { d.count += count; d.ns += ns; };

interface BatchStat { compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration }

export class VersionStatistics {
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly stats = {
    success: zero(), fail: zero(), queue: zero(), compute_input: zero(), compute_infer: zero(),
    compute_output: zero(), cache_hit: zero(), cache_miss: zero(),
  };
  private readonly batches = new Map<number, BatchStat>();

  constructor(readonly name: string, readonly version: string) {}

  /** A request that completed; `batchSize` items (1 for non-batching models). */
  success(batchSize: number, totalNs: number, queueNs: number, compute: ComputeTimes): void {
    this.inferenceCount += batchSize;
    add(this.stats.success, totalNs);
    add(this.stats.queue, queueNs);
    add(this.stats.compute_input, compute.inputNs);
    add(this.stats.compute_infer, compute.inferNs);
    add(this.stats.compute_output, compute.outputNs);
  }

  /** A failed request; like Triton, it leaves `last_inference` alone (only executions set it). */
  failure(totalNs: number): void {
    add(this.stats.fail, totalNs);
  }

  /** One model execution over `batchSize` items (Triton's UpdateInferBatchStats). */
  execution(batchSize: number, compute: ComputeTimes, nowMs = Date.now()): void {
    if (nowMs > this.lastInference) this.lastInference = nowMs;
    this.executionCount++;
    let b = this.batches.get(batchSize);
    if (!b) {
      b = { compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(batchSize, b);
    }
    add(b.compute_input, compute.inputNs);
    add(b.compute_infer, compute.inferNs);
    add(b.compute_output, compute.outputNs);
  }

  snapshot(): ModelStatistics {
    const copy = (d: StatDuration): StatDuration => ({ count: d.count, ns: d.ns });
    const s = this.stats;
    return {
      name: this.name,
      version: this.version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: copy(s.success), fail: copy(s.fail), queue: copy(s.queue), compute_input: copy(s.compute_input),
        compute_infer: copy(s.compute_infer), compute_output: copy(s.compute_output), cache_hit: copy(s.cache_hit),
        cache_miss: copy(s.cache_miss),
      },
      response_stats: {},
      batch_stats: [...this.batches.entries()].sort((a, b) => a[0] - b[0]).map(([batch_size, b]) => ({
        batch_size,
        compute_input: copy(b.compute_input),
        compute_infer: copy(b.compute_infer),
        compute_output: copy(b.compute_output),
      })),
      memory_usage: [],
    };
  }
}
