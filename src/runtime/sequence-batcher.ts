// Triton's sequence batcher, for stateful models (`sequence_batching` in config.pbtxt). Every
// request names its sequence by correlation ID (`sequence_id`: a uint64 or a string) and flags the
// first and last request (`sequence_start`, `sequence_end`). From its START a sequence is bound to
// one model instance, which executes the sequence's requests one at a time in arrival order, until
// its END or until it has been idle for `max_sequence_idle_microseconds`. Different sequences
// interleave, on one instance or across instances. The model sees the sequence through the control
// inputs it configures (START, END, READY, CORRID tensors) and through its execute parameters
// (`sequence_id`, `sequence_start`, `sequence_end`), so a JS model can keep per-sequence state.
//
// Unlike Triton's direct/oldest strategies, requests of different sequences are not batched into
// one execution: each execution carries one request, whose parameters name its sequence.
import type { Logger } from 'pino';
import type { Executor } from './executor.js';
import type { ModelConfig, ModelSequenceControl } from './model-config.js';
import type { HostTensor, ParameterValue } from './types.js';
import { toProtocolDataType } from './types.js';
import { invalidArg, unavailable } from './errors.js';
import { ModelScheduler, type JobResult, type Scheduler, type SchedulerJob, type SchedulerObserver } from './scheduler.js';

export type CorrelationId = number | string;

export interface SequenceBatcherOptions {
  /** Monotonic clock in microseconds; tests inject one to drive the idle timeout. */
  clock?: () => number;
  /** Release idle sequences on a timer (default true). Without it, call sweep(). */
  reaper?: boolean;
  log?: Logger;
}

interface ActiveSequence {
  readonly id: CorrelationId;
  /** Index of the instance that executes this sequence. */
  readonly instance: number;
  /** Last arrival or completion of one of its requests, in clock microseconds. */
  lastUs: number;
  /** Its requests queued or executing. */
  inFlight: number;
  /** END was received; the entry stays until its requests finish, so a restart keeps the instance. */
  ended: boolean;
}

interface Control {
  tensor: string;
  control: ModelSequenceControl;
}

const hrtimeUs = (): number => Number(process.hrtime.bigint() / 1000n);
const utf8 = new TextEncoder();

/** Map key of a correlation ID: Triton tells a uint64 ID from a string ID with the same digits. */
const keyOf = (id: CorrelationId): string => (typeof id === 'number' ? `u${id}` : `s${id}`);

export class SequenceBatcher implements Scheduler {
  private readonly instances: ModelScheduler[];
  private readonly sequences = new Map<string, ActiveSequence>();
  private readonly controls: Control[];
  private readonly idleUs: number;
  private readonly clock: () => number;
  private readonly reaper: boolean;
  private readonly log: Logger | undefined;
  private reaperTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly config: ModelConfig,
    executor: Executor,
    observer?: SchedulerObserver,
    opts: SequenceBatcherOptions = {},
  ) {
    const sb = config.sequence_batching;
    if (!sb) throw new Error(`model '${config.name}' has no sequence_batching`);
    this.idleUs = sb.max_sequence_idle_microseconds;
    this.controls = sb.control_input.flatMap((ci) => ci.control.map((control) => ({ tensor: ci.name, control })));
    this.clock = opts.clock ?? hrtimeUs;
    this.reaper = opts.reaper ?? true;
    this.log = opts.log;
    // One FIFO scheduler of concurrency 1 per instance: that is what keeps a sequence in order.
    const count = Math.max(1, config.instance_group.reduce((n, g) => n + g.count, 0));
    const single: ModelConfig = { ...config, instance_group: [{ name: config.name, kind: 'KIND_CPU', count: 1, gpus: [] }] };
    delete single.dynamic_batching;
    this.instances = Array.from({ length: count }, () => new ModelScheduler(single, executor, observer));
  }

  get pending(): number {
    return this.instances.reduce((n, s) => n + s.pending, 0);
  }

  /** Sequences started and not yet ended or released. */
  get activeSequences(): CorrelationId[] {
    return [...this.sequences.values()].filter((s) => !s.ended).map((s) => s.id);
  }

  enqueue(job: SchedulerJob): Promise<JobResult> {
    let routed: { seq: ActiveSequence; job: SchedulerJob };
    try {
      routed = this.route(job);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const { seq } = routed;
    seq.inFlight++;
    return this.instances[seq.instance]!.enqueue(routed.job).finally(() => {
      seq.inFlight--;
      seq.lastUs = this.clock();
      const key = keyOf(seq.id);
      if (seq.ended && seq.inFlight === 0 && this.sequences.get(key) === seq) this.sequences.delete(key);
      this.armReaper();
    });
  }

  /** Triton's SequenceBatchScheduler::Enqueue checks, in its order and with its texts. */
  private route(job: SchedulerJob): { seq: ActiveSequence; job: SchedulerJob } {
    const model = this.config.name;
    if (this.closing) throw unavailable(`model '${model}' is unloading`);
    if (job.batchSize > 1) {
      throw invalidArg(`inference request to model '${model}' must specify batch-size 1 due to requirements of sequence batcher`);
    }
    const id = correlationId(job.parameters.sequence_id, model);
    const start = job.parameters.sequence_start === true;
    const end = job.parameters.sequence_end === true;
    const key = keyOf(id);
    let seq = this.sequences.get(key);
    if (!start && (!seq || seq.ended)) {
      throw invalidArg(`inference request for sequence ${id} to model '${model}' must specify the START flag on the first request of the sequence`);
    }
    // Built before any bookkeeping: a request refused here must not start or touch its sequence.
    const inputs = new Map(job.inputs);
    for (const t of this.controlTensors(id, start, end)) inputs.set(t.name, t);
    const now = this.clock();
    if (start && seq && !seq.ended) {
      this.log?.warn({ model, sequence_id: id },
        'sequence has a conflict: the previous sequence did not end before this sequence start; it is terminated early');
    }
    if (!seq) {
      seq = { id, instance: this.leastLoaded(), lastUs: now, inFlight: 0, ended: false };
      this.sequences.set(key, seq);
    }
    seq.ended = end;
    seq.lastUs = now;
    this.armReaper();
    const parameters: Record<string, ParameterValue> = { ...job.parameters, sequence_id: id, sequence_start: start, sequence_end: end };
    return { seq, job: { ...job, inputs, parameters } };
  }

  /** The instance with the fewest live sequences (then the shortest queue). */
  private leastLoaded(): number {
    const load = this.instances.map(() => 0);
    for (const s of this.sequences.values()) load[s.instance]!++;
    let best = 0;
    for (let i = 1; i < load.length; i++) {
      if (load[i]! < load[best]! || (load[i] === load[best] && this.instances[i]!.pending < this.instances[best]!.pending)) best = i;
    }
    return best;
  }

  private controlTensors(id: CorrelationId, start: boolean, end: boolean): HostTensor[] {
    const shape = this.config.max_batch_size > 0 ? [1, 1] : [1];
    return this.controls.map(({ tensor, control: c }) => {
      if (c.kind === 'CONTROL_SEQUENCE_CORRID') return this.corridTensor(tensor, c, id, shape);
      // READY is false only for the padding slots of a batch, which this batcher never forms.
      const on = c.kind === 'CONTROL_SEQUENCE_START' ? start : c.kind === 'CONTROL_SEQUENCE_END' ? end : true;
      if (c.int32_false_true.length === 2) {
        return { name: tensor, datatype: 'INT32', shape, data: Int32Array.of(c.int32_false_true[on ? 1 : 0]!) };
      }
      if (c.fp32_false_true.length === 2) {
        return { name: tensor, datatype: 'FP32', shape, data: Float32Array.of(c.fp32_false_true[on ? 1 : 0]!) };
      }
      return { name: tensor, datatype: 'BOOL', shape, data: Uint8Array.of(c.bool_false_true[on ? 1 : 0] ? 1 : 0) };
    });
  }

  private corridTensor(name: string, c: ModelSequenceControl, id: CorrelationId, shape: number[]): HostTensor {
    const datatype = toProtocolDataType(c.data_type)!;
    if (datatype === 'BYTES') return { name, datatype, shape, data: [utf8.encode(String(id))] };
    if (typeof id === 'string' && !/^[0-9]+$/.test(id)) {
      throw invalidArg(`sequence ${id} to model '${this.config.name}': the CORRID control of type ${c.data_type} needs a correlation ID that is an integer`);
    }
    // Triton copies the uint64 into the tensor's bytes, so narrower types keep the low bits.
    const v = BigInt(id);
    switch (datatype) {
      case 'UINT64': return { name, datatype, shape, data: BigUint64Array.of(BigInt.asUintN(64, v)) };
      case 'INT64': return { name, datatype, shape, data: BigInt64Array.of(BigInt.asIntN(64, v)) };
      case 'UINT32': return { name, datatype, shape, data: Uint32Array.of(Number(BigInt.asUintN(32, v))) };
      default: return { name, datatype: 'INT32', shape, data: Int32Array.of(Number(BigInt.asIntN(32, v))) };
    }
  }

  /**
   * Releases sequences idle for max_sequence_idle_microseconds; a later request of a released
   * sequence needs START again. Unlike Triton's reaper, which times a sequence from its last
   * arrival, a sequence with a request still queued or executing is never idle here.
   */
  sweep(): CorrelationId[] {
    const now = this.clock();
    const released: CorrelationId[] = [];
    for (const [key, s] of this.sequences) {
      if (s.inFlight === 0 && now - s.lastUs >= this.idleUs) {
        this.sequences.delete(key);
        if (!s.ended) released.push(s.id);
      }
    }
    if (released.length > 0) this.log?.debug({ model: this.config.name, sequences: released }, 'released idle sequences');
    return released;
  }

  private armReaper(): void {
    if (!this.reaper || this.closing || this.reaperTimer) return;
    let next = Infinity;
    for (const s of this.sequences.values()) if (s.inFlight === 0) next = Math.min(next, s.lastUs + this.idleUs);
    if (next === Infinity) return;
    const delayMs = Math.max(0, Math.ceil((next - this.clock()) / 1000));
    this.reaperTimer = setTimeout(() => {
      this.reaperTimer = undefined;
      this.sweep();
      this.armReaper();
    }, delayMs);
    this.reaperTimer.unref();
  }

  async drain(): Promise<void> {
    this.closing = true;
    if (this.reaperTimer) clearTimeout(this.reaperTimer);
    this.reaperTimer = undefined;
    await Promise.all(this.instances.map((s) => s.drain()));
    this.sequences.clear();
  }
}

/** The request's correlation ID; 0 and "" mean "none", as in Triton. */
function correlationId(raw: ParameterValue | undefined, model: string): CorrelationId {
  if (typeof raw === 'number' && (!Number.isInteger(raw) || raw < 0)) {
    throw invalidArg(`'sequence_id' parameter must be an unsigned integer or a string for model '${model}'`);
  }
  if (typeof raw === 'boolean') throw invalidArg(`'sequence_id' parameter must be an unsigned integer or a string for model '${model}'`);
  if (raw === undefined || raw === 0 || raw === '') {
    throw invalidArg(`inference request to model '${model}' must specify a non-zero or non-empty correlation ID`);
  }
  return raw;
}
