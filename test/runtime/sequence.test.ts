// The sequence batcher (sequence_batching): routing by correlation ID, order within a sequence,
// isolation between sequences, control tensors, Triton's error texts, and the idle timeout driven
// by an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import { SequenceBatcher } from '../../src/runtime/sequence-batcher.js';
import { completeConfig, parseConfigText } from '../../src/runtime/config/normalize.js';
import type { ExecuteRequest, Executor, ExecutorFactory } from '../../src/runtime/executor.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import type { HostTensor, Parameters } from '../../src/runtime/types.js';
import type { SchedulerJob } from '../../src/runtime/scheduler.js';
import { int32, makeRepo, removeRepo, silentLog } from './fake.js';

const CONTROLS = `
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END, fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY, bool_false_true: [ false, true ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID, data_type: TYPE_UINT64 } ] }
  ]`;

/** START/END/READY only: these sequences use string IDs, which a UINT64 CORRID cannot carry. */
const FLAGS = `
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END, fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY, bool_false_true: [ false, true ] } ] }
  ]`;

const seqConfig = (name: string, sequenceBatching = CONTROLS, instances = 1) => `
name: "${name}"
platform: "acc"
max_batch_size: 8
sequence_batching { ${sequenceBatching} }
input [ { name: "INPUT", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT", data_type: TYPE_INT32, dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU, count: ${instances} } ]
`;

const configOf = (text: string): ModelConfig => completeConfig(parseConfigText(text), { modelName: 'acc', gpu: false });

interface Seen { parameters: Parameters; inputs: Map<string, HostTensor> }

/**
 * A stateful model: OUTPUT = running sum of INPUT within the sequence, reset by the START
 * control. Each execution yields a number of event-loop turns that depends on its input, so two
 * requests of one sequence that ran concurrently would finish out of order and break the sums.
 */
class Accumulator implements Executor {
  readonly seen: Seen[] = [];
  private readonly sums = new Map<string, number>();
  private readonly running = new Map<string, number>();
  maxPerSequence = 0;
  maxOverall = 0;
  private overall = 0;

  async execute(req: ExecuteRequest): Promise<HostTensor[]> {
    this.seen.push({ parameters: req.parameters, inputs: req.inputs });
    const id = `${typeof req.parameters.sequence_id}:${String(req.parameters.sequence_id)}`;
    const now = (this.running.get(id) ?? 0) + 1;
    this.running.set(id, now);
    this.overall++;
    this.maxPerSequence = Math.max(this.maxPerSequence, now);
    this.maxOverall = Math.max(this.maxOverall, this.overall);
    const x = (req.inputs.get('INPUT')!.data as Int32Array)[0]!;
    const start = req.inputs.get('START') ? (req.inputs.get('START')!.data as Int32Array)[0] === 1 : req.parameters.sequence_start === true;
    const before = start ? 0 : this.sums.get(id) ?? 0;
    for (let i = 0; i < (Math.abs(x) % 5) + 1; i++) await new Promise<void>((r) => setImmediate(r));
    const sum = before + x;
    this.sums.set(id, sum);
    if (req.parameters.sequence_end === true) this.sums.delete(id);
    this.running.set(id, now - 1);
    this.overall--;
    return [{ name: 'OUTPUT', datatype: 'INT32', shape: [1, 1], data: Int32Array.of(sum) }];
  }

  async unload(): Promise<void> {}
}

const job = (value: number, parameters: Parameters, batch = 1): SchedulerJob => ({
  inputs: new Map([['INPUT', int32('INPUT', [batch, 1], () => value)]]), outputs: ['OUTPUT'], parameters, batchSize: batch,
});

const out = async (p: Promise<{ outputs: Map<string, HostTensor> }>): Promise<number> =>
  ((await p).outputs.get('OUTPUT')!.data as Int32Array)[0]!;

/** Sends `values` as one sequence without waiting between requests. */
function sequence(b: SequenceBatcher, id: number | string, values: number[]): Promise<number>[] {
  return values.map((v, i) => out(b.enqueue(job(v, { sequence_id: id, sequence_start: i === 0, sequence_end: i === values.length - 1 }))));
}

const runningSums = (values: number[]): number[] => values.map((_, i) => values.slice(0, i + 1).reduce((a, b) => a + b, 0));

function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InferenceServerError, String(e));
    assert.equal(e.code, 'INVALID_ARG');
    assert.equal(e.message, message);
    return true;
  });
}

test('requests of one sequence execute in order, one at a time, even when sent together', async () => {
  const acc = new Accumulator();
  const b = new SequenceBatcher(configOf(seqConfig('acc')), acc, undefined, { reaper: false });
  const values = [0, 11, 7, 5, 3, 2, 0, 1];
  assert.deepEqual(await Promise.all(sequence(b, 1000, values)), runningSums(values));
  assert.equal(acc.maxPerSequence, 1);
  await b.drain();
});

test('interleaved sequences keep their own state; on two instances they run concurrently', async () => {
  const acc = new Accumulator();
  const b = new SequenceBatcher(configOf(seqConfig('acc', FLAGS, 2)), acc, undefined, { reaper: false });
  const a = [1, 2, 3, 4, 5, 6];
  const c = [100, -1, -2, -3, -4, -5];
  const s = [20, 7, 7, 7, 7, 7];
  const [ra, rc, rs] = await Promise.all([
    Promise.all(sequence(b, 1, a)), Promise.all(sequence(b, 2, c)), Promise.all(sequence(b, 'b5c1-uuid', s)),
  ]);
  assert.deepEqual(ra, runningSums(a));
  assert.deepEqual(rc, runningSums(c));
  assert.deepEqual(rs, runningSums(s));
  assert.equal(acc.maxPerSequence, 1, 'a sequence never runs two requests at once');
  assert.equal(acc.maxOverall, 2, 'two instances execute different sequences at the same time');
  // Arrival order of the three sequences alternates, so executions interleave too.
  const order = acc.seen.map((x) => x.parameters.sequence_id);
  assert.notDeepEqual(order, [...order].sort());
  await b.drain();
});

test('control tensors and sequence parameters reach the executor', async () => {
  const acc = new Accumulator();
  const b = new SequenceBatcher(configOf(seqConfig('acc')), acc, undefined, { reaper: false });
  await Promise.all(sequence(b, 42, [5, 6, 7]));
  const start = acc.seen.map((x) => [...(x.inputs.get('START')!.data as Int32Array)]);
  const end = acc.seen.map((x) => [...(x.inputs.get('END')!.data as Float32Array)]);
  const ready = acc.seen.map((x) => [...(x.inputs.get('READY')!.data as Uint8Array)]);
  assert.deepEqual(start, [[1], [0], [0]]);
  assert.deepEqual(end, [[0], [0], [1]]);
  assert.deepEqual(ready, [[1], [1], [1]]);
  const corrid = acc.seen[0]!.inputs.get('CORRID')!;
  assert.equal(corrid.datatype, 'UINT64');
  assert.deepEqual(corrid.shape, [1, 1]);
  assert.deepEqual([...(corrid.data as BigUint64Array)], [42n]);
  assert.deepEqual(acc.seen.map((x) => [x.parameters.sequence_id, x.parameters.sequence_start, x.parameters.sequence_end]),
    [[42, true, false], [42, false, false], [42, false, true]]);
  await b.drain();
});

test('a string CORRID control carries the correlation ID as text', async () => {
  const acc = new Accumulator();
  const sb = 'control_input [ { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID, data_type: TYPE_STRING } ] } ]';
  const b = new SequenceBatcher(configOf(seqConfig('acc', sb)), acc, undefined, { reaper: false });
  await Promise.all(sequence(b, 'abc-123', [1]));
  const corrid = acc.seen[0]!.inputs.get('CORRID')!;
  assert.equal(corrid.datatype, 'BYTES');
  assert.equal(new TextDecoder().decode((corrid.data as Uint8Array[])[0]), 'abc-123');
  await b.drain();
});

test('a string ID that a numeric CORRID cannot carry is refused without starting the sequence', async () => {
  const b = new SequenceBatcher(configOf(seqConfig('acc')), new Accumulator(), undefined, { reaper: false });
  await assert.rejects(b.enqueue(job(1, { sequence_id: 'not-a-number', sequence_start: true })),
    /the CORRID control of type TYPE_UINT64 needs a correlation ID that is an integer/);
  assert.deepEqual(b.activeSequences, []);
  assert.deepEqual(await Promise.all(sequence(b, '12', [1, 2])), [1, 3], 'decimal strings convert');
  await b.drain();
});

test('after END the correlation ID needs START again', async () => {
  const b = new SequenceBatcher(configOf(seqConfig('acc')), new Accumulator(), undefined, { reaper: false });
  await Promise.all(sequence(b, 7, [1, 2]));
  await rejectsWith(b.enqueue(job(1, { sequence_id: 7 })),
    "inference request for sequence 7 to model 'acc' must specify the START flag on the first request of the sequence");
  assert.deepEqual(await Promise.all(sequence(b, 7, [3, 4])), [3, 7]);
  await b.drain();
});

test('idle sequences are released after max_sequence_idle_microseconds (injected clock)', async () => {
  let now = 0;
  const sb = `max_sequence_idle_microseconds: 5000 ${FLAGS}`;
  const b = new SequenceBatcher(configOf(seqConfig('acc', sb)), new Accumulator(), undefined, { reaper: false, clock: () => now });
  assert.equal(await out(b.enqueue(job(10, { sequence_id: 'idle', sequence_start: true }))), 10);
  assert.equal(await out(b.enqueue(job(10, { sequence_id: 'busy', sequence_start: true }))), 10);
  now += 4999;
  assert.deepEqual(b.sweep(), []);
  assert.equal(await out(b.enqueue(job(1, { sequence_id: 'busy' }))), 11, 'a request restarts the idle time');
  now += 1;
  assert.deepEqual(b.sweep(), ['idle']);
  assert.deepEqual(b.activeSequences, ['busy']);
  await rejectsWith(b.enqueue(job(1, { sequence_id: 'idle' })),
    "inference request for sequence idle to model 'acc' must specify the START flag on the first request of the sequence");
  now += 5000;
  assert.deepEqual(b.sweep(), ['busy']);
  assert.deepEqual(b.activeSequences, []);
  await b.drain();
});

test('the default idle time is Triton\'s 1 s', () => {
  assert.equal(configOf(seqConfig('acc')).sequence_batching!.max_sequence_idle_microseconds, 1_000_000);
  assert.equal(configOf(seqConfig('acc', 'max_sequence_idle_microseconds: 0')).sequence_batching!.max_sequence_idle_microseconds, 1_000_000);
});

test('config: control inputs are checked with Triton\'s texts', () => {
  const bad = (sb: string) => () => configOf(seqConfig('acc', sb));
  assert.throws(bad('control_input [ { name: "S" control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1, 2 ] } ] } ]'),
    /^ModelConfigError: sequence batching control 'int32_false_true' must have exactly 2 entries for CONTROL_SEQUENCE_START for acc$/);
  assert.throws(bad('control_input [ { name: "S" control [ { kind: CONTROL_SEQUENCE_START } ] } ]'),
    /sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for CONTROL_SEQUENCE_START for acc/);
  assert.throws(bad(`control_input [ { name: "S" control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] },
    { name: "T" control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] } ]`),
  /sequence batching specifies multiple CONTROL_SEQUENCE_START tensors for acc/);
  assert.throws(bad('control_input [ { name: "C" control [ { kind: CONTROL_SEQUENCE_CORRID, data_type: TYPE_FP32 } ] } ]'),
    /unexpected control data type, expected TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32, or TYPE_STRING/);
  assert.throws(() => configOf(`${seqConfig('acc', FLAGS)}\ndynamic_batching { }`),
    /'dynamic_batching' and 'sequence_batching' cannot both be set for acc/);
});

// ---- through the runtime, as the HTTP layer calls it ----

class AccFactory implements ExecutorFactory {
  readonly platforms = ['acc'];
  readonly defaultFilename = 'model.acc';
  readonly executor = new Accumulator();
  async deriveConfig(): Promise<Record<string, never>> { return {}; }
  async load(): Promise<Executor> { return this.executor; }
}

async function withRuntime(fn: (rt: TritonRuntime) => Promise<void>): Promise<void> {
  const root = await makeRepo({ acc: { config: seqConfig('acc', FLAGS), versions: { 1: { files: { 'model.acc': '' } } } } });
  const rt = new TritonRuntime({ repositoryPath: root, controlMode: 'none', factories: [new AccFactory()], backend: 'cpu', log: silentLog });
  try {
    await rt.start();
    await fn(rt);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
}

const infer = (rt: TritonRuntime, value: number, parameters: Parameters, rows = 1) =>
  rt.infer({ model: 'acc', parameters, inputs: [int32('INPUT', [rows, 1], () => value)] });

test('runtime: Triton\'s errors for a missing correlation ID, a missing START and a batch over 1', async () => {
  await withRuntime(async (rt) => {
    for (const parameters of [{}, { sequence_id: 0 }, { sequence_id: '' }] as Parameters[]) {
      await rejectsWith(infer(rt, 1, parameters), "inference request to model 'acc' must specify a non-zero or non-empty correlation ID");
    }
    await rejectsWith(infer(rt, 1, { sequence_id: 5, sequence_start: false, sequence_end: false }),
      "inference request for sequence 5 to model 'acc' must specify the START flag on the first request of the sequence");
    await rejectsWith(infer(rt, 1, { sequence_id: 5, sequence_start: true }, 2),
      "inference request to model 'acc' must specify batch-size 1 due to requirements of sequence batcher");
    const r = await infer(rt, 4, { sequence_id: 5, sequence_start: true });
    assert.deepEqual([...(r.outputs[0]!.data as Int32Array)], [4]);
    assert.deepEqual(r.outputs[0]!.shape, [1, 1]);
    const s = rt.statistics('acc')[0]!;
    assert.equal(s.inference_stats.success.count, 1);
    assert.equal(s.inference_stats.fail.count, 5);
  });
});

test('runtime: an int ID and a string ID with the same digits are different sequences', async () => {
  await withRuntime(async (rt) => {
    const v = async (value: number, parameters: Parameters) => ((await infer(rt, value, parameters)).outputs[0]!.data as Int32Array)[0];
    assert.equal(await v(1, { sequence_id: 9, sequence_start: true }), 1);
    assert.equal(await v(100, { sequence_id: '9', sequence_start: true }), 100);
    assert.equal(await v(2, { sequence_id: 9 }), 3);
    assert.equal(await v(5, { sequence_id: '9', sequence_end: true }), 105);
  });
});
