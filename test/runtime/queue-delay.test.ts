// Queue policy `timeout_action: DELAY`, with Triton's semantics (core scheduler_utils.cc,
// PriorityQueue::PolicyQueue): a request whose queue timeout expires is not rejected but moves to its
// level's delayed queue; a level schedules its unexpired requests, then its delayed ones, and only
// then the next level; max_queue_size counts delayed requests too. REJECT answers 503 as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import type { InferenceResponse } from '../../src/runtime/api.js';
import type { Parameters } from '../../src/runtime/types.js';
import { type FakeFactory, withFakeRuntime, int32 } from './fake.js';

const model = (maxBatch: number, dynamicBatching: string) => `
name: "q"
platform: "fake"
max_batch_size: ${maxBatch}
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "INPUT1", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 1 ] } ]
dynamic_batching { ${dynamicBatching} }`;

/**
 * A queue timeout long enough that requests sent together right before the instance frees up never
 * reach it (on a loaded 2-core machine too), and short enough for a test. EXPIRED_MS is past it.
 */
const TIMEOUT_US = 100_000;
const EXPIRED_MS = 250;


/** A one-row request tagged `tag` (its INPUT0 value; OUTPUT0 = INPUT0 + INPUT1 = tag). */
function request(rt: TritonRuntime, tag: number, parameters: Parameters = {}): Promise<InferenceResponse> {
  return rt.infer({ model: 'q', parameters, inputs: [int32('INPUT0', [1, 1], [tag]), int32('INPUT1', [1, 1], [0])] });
}

const output0 = (r: InferenceResponse): number => (r.outputs[0]!.data as Int32Array)[0]!;

/** INPUT0 rows of every execution after the one that held the instance, in order. */
const executedTags = (f: FakeFactory): number[][] =>
  f.executions.slice(1).map((e) => [...(e.inputs.get('INPUT0')!.data as Int32Array)]);

/** Occupies the model's only instance with a blocked execution; returns how to let everything run. */
async function occupy(rt: TritonRuntime, f: FakeFactory): Promise<() => Promise<void>> {
  const release = f.block();
  const started = f.nextExecutionStart();
  const first = request(rt, -1);
  await started;
  return async () => { release(); await first; };
}

const queueDepth = async (rt: TritonRuntime): Promise<number> => {
  const m = /dawnserve_queue_depth\{model="q",version="1"\} (\d+)/.exec(await rt.metricsRegistry.metrics());
  return Number(m?.[1]);
};

test('DELAY: a timed-out request is not rejected; it runs after later requests of its level, with its own output', async () => {
  await withFakeRuntime({ q: model(1, `default_queue_policy { timeout_action: DELAY default_timeout_microseconds: ${TIMEOUT_US} }`) }, async (rt, f) => {
    const run = await occupy(rt, f);
    const late = request(rt, 10);
    await sleep(EXPIRED_MS);
    assert.equal(await queueDepth(rt), 1, 'the delayed request still waits in the queue');
    const next = [request(rt, 11), request(rt, 12)];
    await run();
    const rs = await Promise.all([late, ...next]);
    assert.deepEqual(executedTags(f), [[11], [12], [10]]);
    assert.deepEqual(rs.map(output0), [10, 11, 12]);
    assert.equal(rs[0]!.executionBatchSize, 1);
    assert.doesNotMatch(await rt.metricsRegistry.metrics(), /reason="REJECTED"\} [1-9]/);
  });
});

test('DELAY: batches take the unexpired requests first and the delayed one last', async () => {
  await withFakeRuntime({ q: model(4, `default_queue_policy { timeout_action: DELAY default_timeout_microseconds: ${TIMEOUT_US} }`) }, async (rt, f) => {
    const run = await occupy(rt, f);
    const late = request(rt, 10);
    await sleep(EXPIRED_MS);
    const next = [11, 12, 13, 14, 15].map((t) => request(rt, t));
    await run();
    const rs = await Promise.all([late, ...next]);
    assert.deepEqual(executedTags(f), [[11, 12, 13, 14], [15, 10]]);
    assert.deepEqual(rs.map(output0), [10, 11, 12, 13, 14, 15]);
  });
});

test('DELAY with priorities: level 1 unexpired, then level 1 delayed, then level 2 (Triton\'s order)', async () => {
  const db = 'priority_levels: 2 default_priority_level: 2 '
    + `priority_queue_policy { key: 1 value: { timeout_action: DELAY default_timeout_microseconds: ${TIMEOUT_US} } }`;
  await withFakeRuntime({ q: model(1, db) }, async (rt, f) => {
    const run = await occupy(rt, f);
    const late = request(rt, 10, { priority: 1 });
    await sleep(EXPIRED_MS);
    const rs = [request(rt, 20, { priority: 2 }), request(rt, 11, { priority: 1 }), request(rt, 21)];
    await run();
    await Promise.all([late, ...rs]);
    assert.deepEqual(executedTags(f), [[11], [10], [20], [21]]);
  });
});

test('REJECT (the default action) is unchanged: the timed-out request is answered 503 and the others run', async () => {
  await withFakeRuntime({ q: model(1, `default_queue_policy { default_timeout_microseconds: ${TIMEOUT_US} }`) }, async (rt, f) => {
    const run = await occupy(rt, f);
    const late = request(rt, 10);
    const rejected = assert.rejects(late, (e: unknown) => {
      assert.ok(e instanceof InferenceServerError);
      assert.equal(e.code, 'UNAVAILABLE');
      assert.equal(e.message, 'Request timeout expired');
      return true;
    });
    await sleep(EXPIRED_MS);
    await rejected;
    const next = [request(rt, 11), request(rt, 12)];
    await run();
    assert.deepEqual((await Promise.all(next)).map(output0), [11, 12]);
    assert.deepEqual(executedTags(f), [[11], [12]]);
    assert.match(await rt.metricsRegistry.metrics(), /nv_inference_request_failure\{model="q",version="1",reason="REJECTED"\} 1/);
  });
});

test('allow_timeout_override shortens the default timeout but never lengthens it (Triton)', async () => {
  const policy = `default_queue_policy { default_timeout_microseconds: ${TIMEOUT_US} allow_timeout_override: true }`;
  await withFakeRuntime({ q: model(1, policy) }, async (rt, f) => {
    const run = await occupy(rt, f);
    // Asks for 60 s; the default 100 ms still applies.
    const late = request(rt, 10, { timeout: 60_000_000 });
    const rejected = assert.rejects(late, (e: unknown) => e instanceof InferenceServerError && e.message === 'Request timeout expired');
    await sleep(EXPIRED_MS);
    await rejected;
    await run();
  });
});

test('DELAY: a request\'s own timeout (allow_timeout_override) delays it too, instead of rejecting it', async () => {
  await withFakeRuntime({ q: model(1, 'default_queue_policy { timeout_action: DELAY allow_timeout_override: true }') }, async (rt, f) => {
    const run = await occupy(rt, f);
    const late = request(rt, 10, { timeout: 1000 });
    await sleep(50);
    // No timeout of their own and none by default: these never expire.
    const next = [request(rt, 11), request(rt, 12)];
    await run();
    const rs = await Promise.all([late, ...next]);
    assert.deepEqual(executedTags(f), [[11], [12], [10]]);
    assert.deepEqual(rs.map(output0), [10, 11, 12]);
  });
});

test('DELAY: max_queue_size counts delayed requests; a delayed request can still be cancelled', async () => {
  const db = 'default_queue_policy { timeout_action: DELAY allow_timeout_override: true max_queue_size: 2 }';
  await withFakeRuntime({ q: model(1, db) }, async (rt, f) => {
    const run = await occupy(rt, f);
    const ac = new AbortController();
    const cancelled = rt.infer({
      model: 'q', parameters: { timeout: 1000 }, signal: ac.signal,
      inputs: [int32('INPUT0', [1, 1], [9]), int32('INPUT1', [1, 1], [0])],
    });
    const late = request(rt, 10, { timeout: 1000 });
    await sleep(50);
    await assert.rejects(request(rt, 11), { code: 'UNAVAILABLE', message: 'Exceeds maximum queue size' });
    ac.abort();
    await assert.rejects(cancelled, { code: 'CANCELLED' });
    assert.equal(await queueDepth(rt), 1);
    const next = request(rt, 12);
    await run();
    await Promise.all([late, next]);
    assert.deepEqual(executedTags(f), [[12], [10]]);
  });
});
