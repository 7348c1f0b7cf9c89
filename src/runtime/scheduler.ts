// Per-model-version scheduler: a queue in front of the model's instances. Without
// `dynamic_batching` each request executes alone (Triton's default scheduler); with it, queued
// requests that agree on non-batch shapes and parameters are concatenated along dim 0, executed
// once and split back in order (Triton's dynamic batcher). The queue is FIFO, or with
// `priority_levels` one FIFO per level, higher levels first (priority-queue.ts). A queue timeout
// rejects the request, or under `timeout_action: DELAY` sends it behind the rest of its level.
import type { Executor } from './executor.js';
import type { ModelConfig, ModelOutput, ModelQueuePolicy } from './model-config.js';
import { PriorityQueue, levelSize, type QueueLevel } from './priority-queue.js';
import type { HostTensor, Parameters, TensorData } from './types.js';
import { allocateTensorData, elementCount, toProtocolDataType } from './types.js';
import { InferenceServerError, internal, unavailable } from './errors.js';
import type { ComputeTimes } from './statistics.js';

export interface SchedulerJob {
  /** Validated inputs (batch dim included for batching models). */
  inputs: Map<string, HostTensor>;
  /** Outputs to produce, in config order. */
  outputs: string[];
  parameters: Parameters;
  /** Batch items in this request (1 for non-batching models). */
  batchSize: number;
  signal?: AbortSignal;
  /** Queue timeout from the request's `timeout` parameter, in microseconds. */
  timeoutUs?: number;
  /** The request's `priority` parameter (1 = highest; 0 or absent = the model's default level). */
  priority?: number;
}

export interface JobResult {
  outputs: Map<string, HostTensor>;
  queueNs: number;
  /** Durations of the execution this request was part of. */
  compute: ComputeTimes;
  /** Items in that execution (≥ this request's batch size when batched with others). */
  executionBatchSize: number;
}

export interface SchedulerObserver {
  execution(batchSize: number, compute: ComputeTimes): void;
  pendingChanged(delta: number): void;
}

/** What the runtime enqueues into: this file's ModelScheduler, or the SequenceBatcher. */
export interface Scheduler {
  enqueue(job: SchedulerJob): Promise<JobResult>;
  /** Stops accepting work and resolves once everything queued or running has finished. */
  drain(): Promise<void>;
  /** Requests waiting for an instance. */
  readonly pending: number;
}

export const QUEUE_FULL = 'Exceeds maximum queue size';
export const TIMEOUT_EXPIRED = 'Request timeout expired';

interface Pending {
  job: SchedulerJob;
  enqueuedNs: bigint;
  /** The priority level it waits in (removal on cancel/timeout looks only there). */
  level: QueueLevel<Pending> | undefined;
  /** Non-batch shapes, datatypes and parameters: requests batch together only when these agree. */
  key: string;
  resolve(r: JobResult): void;
  reject(e: Error): void;
  cleanup(): void;
}

const nowNs = (): bigint => process.hrtime.bigint();
const elapsedNs = (from: bigint, to: bigint = nowNs()): number => Number(to - from);

/** Parameters that steer scheduling rather than the model; they do not prevent batching. */
const SCHEDULING_PARAMS = new Set(['timeout', 'priority', 'binary_data_output']);

function batchKey(job: SchedulerJob): string {
  const shapes = [...job.inputs.values()].map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`).sort();
  const params = Object.entries(job.parameters).filter(([k]) => !SCHEDULING_PARAMS.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([shapes, params]);
}

function concat(name: string, parts: HostTensor[]): HostTensor {
  const first = parts[0]!;
  const rows = parts.reduce((n, t) => n + t.shape[0]!, 0);
  const shape = [rows, ...first.shape.slice(1)];
  if (first.datatype === 'BYTES') {
    return { name, datatype: 'BYTES', shape, data: parts.flatMap((t) => t.data as Uint8Array[]) };
  }
  const data = allocateTensorData(first.datatype, elementCount(shape)) as Exclude<TensorData, Uint8Array[]>;
  let offset = 0;
  for (const t of parts) {
    (data as Float32Array).set(t.data as Float32Array, offset);
    offset += t.data.length;
  }
  return { name, datatype: first.datatype, shape, data };
}

function sliceRows(t: HostTensor, start: number, rows: number): HostTensor {
  const per = t.shape[0] === 0 ? 0 : t.data.length / t.shape[0]!;
  const data = t.data.slice(start * per, (start + rows) * per) as TensorData;
  return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
}

interface OutputSpec { cfg: ModelOutput; datatype: string | undefined; want: number[] }

const noop = (): void => undefined;

const dimsMatch = (want: readonly number[], got: readonly number[]): boolean =>
  want.length === got.length && want.every((d, i) => d === -1 || d === got[i]);

export class ModelScheduler implements Scheduler {
  private readonly queue: PriorityQueue<Pending>;
  private running = 0;
  private closing = false;
  private delayTimer: NodeJS.Timeout | undefined;
  private delayImmediate: NodeJS.Immediate | undefined;
  /** When the batch now waiting for max_queue_delay must run (hrtime ns). */
  private delayDeadlineNs = 0n;
  private idleWaiters: (() => void)[] = [];
  private readonly instances: number;
  private readonly batching: boolean;
  private readonly maxBatch: number;
  private readonly preferred: number[];
  private readonly delayNs: number;
  /** Per output name: its config, protocol datatype and dims as executors must produce them. */
  private readonly outputSpecs: Map<string, OutputSpec>;
  private readonly outputOrder: string[];

  constructor(
    private readonly config: ModelConfig,
    private readonly executor: Executor,
    private readonly observer?: SchedulerObserver,
  ) {
    this.instances = Math.max(1, config.instance_group.reduce((n, g) => n + g.count, 0));
    const db = config.dynamic_batching;
    this.batching = db !== undefined && config.max_batch_size > 0;
    this.maxBatch = config.max_batch_size;
    this.preferred = [...(db?.preferred_batch_size ?? [])].sort((a, b) => a - b);
    this.delayNs = (db?.max_queue_delay_microseconds ?? 0) * 1000;
    this.queue = new PriorityQueue(db);
    const lead = config.max_batch_size > 0 ? [-1] : [];
    this.outputSpecs = new Map(config.output.map((o) => [o.name, {
      cfg: o, datatype: toProtocolDataType(o.data_type), want: [...lead, ...o.dims],
    }]));
    this.outputOrder = config.output.map((o) => o.name);
  }

  /** Requests waiting for an instance. */
  get pending(): number {
    return this.queue.size;
  }

  enqueue(job: SchedulerJob): Promise<JobResult> {
    if (this.closing) return Promise.reject(unavailable(`model '${this.config.name}' is unloading`));
    if (job.signal?.aborted) return Promise.reject(new InferenceServerError('CANCELLED', 'Request was cancelled'));
    if (!this.batching && this.queue.size === 0 && this.running < this.instances) {
      // Triton's default scheduler with an idle instance: the request runs now, so it needs no
      // queue entry, no abort listener, no queue timer and no pending-count update.
      return new Promise<JobResult>((resolve, reject) => {
        this.start([{ job, enqueuedNs: nowNs(), level: undefined, key: '', resolve, reject, cleanup: noop }]);
      });
    }
    const level = this.queue.levelFor(job.priority);
    // max_queue_size bounds each level on its own, delayed requests included, as Triton's per-level
    // PolicyQueue does.
    const maxQueue = level.policy?.max_queue_size ?? 0;
    if (maxQueue > 0 && levelSize(level) >= maxQueue) return Promise.reject(unavailable(QUEUE_FULL));
    return new Promise<JobResult>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const onAbort = () => this.drop(p, new InferenceServerError('CANCELLED', 'Request was cancelled'));
      const p: Pending = {
        job, enqueuedNs: nowNs(), level, key: this.batching ? batchKey(job) : '', resolve, reject,
        cleanup: () => {
          for (const t of timers) clearTimeout(t);
          job.signal?.removeEventListener('abort', onAbort);
        },
      };
      job.signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutUs = this.timeoutFor(job, level.policy);
      if (timeoutUs > 0) {
        const expire = level.policy?.timeout_action === 'DELAY'
          ? () => this.delay(p) : () => this.drop(p, unavailable(TIMEOUT_EXPIRED));
        timers.push(setTimeout(expire, timeoutUs / 1000));
      }
      this.queue.push(level, p);
      this.observer?.pendingChanged(1);
      this.pump();
    });
  }

  /** Stops accepting work and resolves once everything queued or running has finished. */
  async drain(): Promise<void> {
    this.closing = true;
    // Remaining requests run now rather than wait for a batch that will not grow.
    this.clearDelay();
    this.pump();
    if (this.queue.size === 0 && this.running === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * The queue timeout of a request waiting in a level with `policy`. Whichever timeout wins, what
   * happens when it expires is the policy's timeout_action (REJECT without a policy).
   */
  private timeoutFor(job: SchedulerJob, policy: ModelQueuePolicy | undefined): number {
    const fromPolicy = policy?.default_timeout_microseconds ?? 0;
    const requested = job.timeoutUs ?? 0;
    if (requested <= 0) return fromPolicy;
    // Without a default timeout the request's own applies (Triton ignores it there; a client that
    // sends one wants it honoured). With one, allow_timeout_override lets a request shorten it but,
    // as in Triton's PolicyQueue::Enqueue, never lengthen it.
    if (fromPolicy === 0) return requested;
    return policy?.allow_timeout_override ? Math.min(requested, fromPolicy) : fromPolicy;
  }

  /**
   * DELAY: the expired request stays queued, behind its level's unexpired requests. It may now
   * belong in a batch other than the one waiting, so the batcher looks again.
   */
  private delay(p: Pending): void {
    if (p.level && this.queue.delay(p.level, p)) this.pump();
  }

  private drop(p: Pending, error: Error): void {
    if (!p.level || !this.queue.remove(p.level, p)) return;
    this.observer?.pendingChanged(-1);
    p.cleanup();
    p.reject(error);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queue.size === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private pump(): void {
    while (this.running < this.instances && this.queue.size > 0) {
      const batch = this.formBatch();
      if (!batch) return;
      this.clearDelay();
      this.queue.shift(batch.length);
      this.observer?.pendingChanged(-batch.length);
      for (const p of batch) p.cleanup();
      this.start(batch);
    }
  }

  private start(batch: Pending[]): void {
    this.running++;
    void this.execute(batch).finally(() => {
      this.running--;
      this.pump();
      this.checkIdle();
    });
  }

  private clearDelay(): void {
    if (this.delayTimer) { clearTimeout(this.delayTimer); this.delayTimer = undefined; }
    if (this.delayImmediate) { clearImmediate(this.delayImmediate); this.delayImmediate = undefined; }
  }

  /**
   * Wakes the batcher when the head request has waited max_queue_delay. setTimeout has 1 ms
   * granularity and fires 1–2 ms late, which for the usual sub-millisecond delays tripled a lone
   * request's latency; so a timer covers all but the last ~2 ms, and setImmediate polls the rest
   * (I/O is still served between polls, and a request that completes the batch runs it at once).
   */
  private armDelay(remainingNs: number): void {
    if (this.delayTimer || this.delayImmediate) return;
    this.delayDeadlineNs = nowNs() + BigInt(remainingNs);
    const remainingMs = remainingNs / 1e6;
    if (remainingMs >= 3) {
      this.delayTimer = setTimeout(() => { this.delayTimer = undefined; this.pump(); }, Math.floor(remainingMs) - 2);
    } else {
      this.delayImmediate = setImmediate(() => this.pollDelay());
    }
  }

  private pollDelay(): void {
    this.delayImmediate = undefined;
    if (nowNs() < this.delayDeadlineNs) this.delayImmediate = setImmediate(() => this.pollDelay());
    else this.pump();
  }

  /**
   * The requests to execute next, or undefined when the dynamic batcher should wait. Candidates are
   * taken in queue order (highest priority level first, FIFO within a level, a level's delayed
   * requests after its unexpired ones) up to the first one that does not fit, so a batch is always a
   * prefix of the queue.
   */
  private formBatch(): Pending[] | undefined {
    const head = this.queue.first()!;
    if (!this.batching) return [head];
    const candidates: Pending[] = [];
    const prefix: number[] = [];
    let total = 0;
    let closed = false;
    // With priorities the head need not be the oldest; Triton times max_queue_delay from the oldest
    // request in the pending batch.
    let oldestNs = head.enqueuedNs;
    for (const p of this.queue.inOrder()) {
      if (p.key !== head.key || total + p.job.batchSize > this.maxBatch) { closed = true; break; }
      candidates.push(p);
      total += p.job.batchSize;
      prefix.push(total);
      if (p.enqueuedNs < oldestNs) oldestNs = p.enqueuedNs;
    }
    if (total >= this.maxBatch) closed = true;
    let best = -1;
    for (let i = 0; i < prefix.length; i++) if (this.preferred.includes(prefix[i]!)) best = i;
    const maxPreferred = this.preferred.at(-1);
    if (best >= 0 && prefix[best] === maxPreferred) return candidates.slice(0, best + 1);
    if (closed || this.closing) return candidates;
    const waited = elapsedNs(oldestNs);
    if (this.delayNs === 0 || waited >= this.delayNs) {
      return best >= 0 ? candidates.slice(0, best + 1) : candidates;
    }
    this.armDelay(this.delayNs - waited);
    return undefined;
  }

  private async execute(batch: Pending[]): Promise<void> {
    const startNs = nowNs();
    const total = batch.reduce((n, p) => n + p.job.batchSize, 0);
    try {
      // A job's outputs are already in config order.
      const outputNames = batch.length === 1 ? batch[0]!.job.outputs
        : this.outputOrder.filter((n) => batch.some((p) => p.job.outputs.includes(n)));
      const inputs = batch.length === 1 ? batch[0]!.job.inputs : this.concatInputs(batch);
      const inferStart = nowNs();
      let produced: HostTensor[];
      try {
        produced = await this.executor.execute({ inputs, outputs: outputNames, parameters: batch[0]!.job.parameters });
      } catch (e) {
        throw e instanceof InferenceServerError ? e : internal((e as Error).message ?? String(e));
      }
      const outputStart = nowNs();
      const checked = this.checkOutputs(produced, outputNames, this.config.max_batch_size > 0 ? total : undefined);
      const results: Map<string, HostTensor>[] = [];
      let row = 0;
      if (batch.length === 1 && batch[0]!.job.outputs.length === checked.size) results.push(checked);
      else for (const p of batch) {
        const m = new Map<string, HostTensor>();
        for (const name of p.job.outputs) {
          const t = checked.get(name)!;
          m.set(name, batch.length === 1 ? t : sliceRows(t, row, p.job.batchSize));
        }
        row += p.job.batchSize;
        results.push(m);
      }
      const endNs = nowNs();
      const compute: ComputeTimes = {
        inputNs: elapsedNs(startNs, inferStart), inferNs: elapsedNs(inferStart, outputStart), outputNs: elapsedNs(outputStart, endNs),
      };
      this.observer?.execution(this.config.max_batch_size > 0 ? total : 1, compute);
      batch.forEach((p, i) => p.resolve({
        outputs: results[i]!, queueNs: elapsedNs(p.enqueuedNs, startNs), compute, executionBatchSize: total,
      }));
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
    }
  }

  private concatInputs(batch: Pending[]): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const name of batch[0]!.job.inputs.keys()) {
      out.set(name, concat(name, batch.map((p) => p.job.inputs.get(name)!)));
    }
    return out;
  }

  /** Every requested output present, with the config's datatype and shape; reshape applied. */
  private checkOutputs(produced: HostTensor[], names: string[], rows: number | undefined): Map<string, HostTensor> {
    const model = this.config.name;
    const out = new Map<string, HostTensor>();
    for (const name of names) {
      let t: HostTensor | undefined;
      for (const p of produced) if (p.name === name) { t = p; break; }
      if (!t) throw internal(`model '${model}' did not produce output '${name}'`);
      const spec = this.outputSpecs.get(name)!;
      const { cfg, datatype: expected } = spec;
      if (t.datatype !== expected) {
        throw internal(`output '${name}' of model '${model}' has datatype ${t.datatype}, but the model config says ${expected ?? cfg.data_type}`);
      }
      const shaped = this.shapeOutput(t, spec);
      if (rows !== undefined && shaped.shape[0] !== rows) {
        throw internal(`output '${name}' of model '${model}' has batch size ${shaped.shape[0] ?? 'none'}, expected ${rows}`);
      }
      out.set(name, shaped);
    }
    return out;
  }

  private shapeOutput(t: HostTensor, { cfg, want }: OutputSpec): HostTensor {
    if (dimsMatch(want, t.shape)) return t;
    const batching = this.config.max_batch_size > 0;
    const lead = batching ? [-1] : [];
    if (cfg.reshape && dimsMatch([...lead, ...cfg.reshape.shape], t.shape)) {
      const inner = batching ? t.shape.slice(1) : t.shape;
      const count = elementCount(inner);
      const known = cfg.dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
      const dims = cfg.dims.map((d) => (d === -1 ? (known === 0 ? 0 : count / known) : d));
      return { ...t, shape: batching ? [t.shape[0]!, ...dims] : dims };
    }
    throw internal(`output '${t.name}' of model '${this.config.name}' has shape [${t.shape.join(',')}], `
      + `but the model config says [${want.join(',')}]`);
  }
}
