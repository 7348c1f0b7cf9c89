// Request priority in the dynamic batcher, with Triton's semantics: `priority_levels` N enables
// levels 1..N (1 highest), a request's `priority` picks its level (0, absent or above N: the
// default level), batches fill from the highest non-empty level first, FIFO within a level, and
// each level has its own queue policy (`priority_queue_policy[level]`, else `default_queue_policy`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import type { InferenceResponse } from '../../src/runtime/api.js';
import type { Parameters } from '../../src/runtime/types.js';
import { type FakeFactory, withFakeRuntime, int32 } from './fake.js';

const model = (name: string, maxBatch: number, dynamicBatching: string) => `
name: "${name}"
platform: "fake"
max_batch_size: ${maxBatch}
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "INPUT1", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 1 ] } ]
dynamic_batching { ${dynamicBatching} }`;

/** Two levels, level 2 the default; one request per execution, so execution order is queue order. */
const TWO_LEVELS = 'priority_levels: 2 default_priority_level: 2';


/** A one-row request tagged `tag` (its INPUT0 value), so executions and responses can be traced to it. */
function request(rt: TritonRuntime, name: string, tag: number, parameters: Parameters = {}): Promise<InferenceResponse> {
  return rt.infer({ model: name, parameters, inputs: [int32('INPUT0', [1, 1], [tag]), int32('INPUT1', [1, 1], [0])] });
}

/** INPUT0 rows of every execution after the first (the one that held the instance), in order. */
const executedTags = (f: FakeFactory): number[][] =>
  f.executions.slice(1).map((e) => [...(e.inputs.get('INPUT0')!.data as Int32Array)]);

/** Occupies the model's only instance with a blocked execution; returns how to let everything run. */
async function occupy(rt: TritonRuntime, f: FakeFactory, name: string): Promise<() => Promise<void>> {
  const release = f.block();
  const started = f.nextExecutionStart();
  const first = request(rt, name, -1);
  await started;
  return async () => { release(); await first; };
}

const queueFull = (e: unknown): boolean => {
  assert.ok(e instanceof InferenceServerError);
  assert.equal(e.code, 'UNAVAILABLE');
  assert.equal(e.message, 'Exceeds maximum queue size');
  return true;
};

test('priority: queued high-priority requests execute before earlier low-priority ones, FIFO within a level', async () => {
  await withFakeRuntime({ p: model('p', 1, TWO_LEVELS) }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const low = [10, 11, 12].map((t) => request(rt, 'p', t, { priority: 2 }));
    const high = [20, 21].map((t) => request(rt, 'p', t, { priority: 1 }));
    await run();
    const rs = await Promise.all([...low, ...high]);
    assert.deepEqual(executedTags(f), [[20], [21], [10], [11], [12]]);
    // Each caller still gets its own answer.
    assert.deepEqual(rs.map((r) => (r.outputs[0]!.data as Int32Array)[0]), [10, 11, 12, 20, 21]);
  });
});

test('priority: a batch fills from the highest level first, then takes lower levels in order', async () => {
  await withFakeRuntime({ p: model('p', 4, TWO_LEVELS) }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const rs = [
      ...[10, 11, 12].map((t) => request(rt, 'p', t, { priority: 2 })),
      ...[20, 21, 22].map((t) => request(rt, 'p', t, { priority: 1 })),
    ];
    await run();
    await Promise.all(rs);
    assert.deepEqual(executedTags(f), [[20, 21, 22, 10], [11, 12]]);
  });
});

test('priority: absent, 0 and above priority_levels all mean default_priority_level (Triton does not reject them)', async () => {
  await withFakeRuntime({ p: model('p', 1, 'priority_levels: 3 default_priority_level: 2') }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const rs = [
      request(rt, 'p', 30, { priority: 3 }),
      request(rt, 'p', 10), // absent → level 2
      request(rt, 'p', 11, { priority: 0 }), // 0 → level 2
      request(rt, 'p', 12, { priority: 99 }), // above 3 → level 2
      request(rt, 'p', 13, { priority: 2 }),
      request(rt, 'p', 1, { priority: 1 }),
    ];
    await run();
    await Promise.all(rs);
    assert.deepEqual(executedTags(f), [[1], [10], [11], [12], [13], [30]]);
  });
});

test('priority: ignored without priority_levels (FIFO as before)', async () => {
  await withFakeRuntime({ p: model('p', 1, '') }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const rs = [request(rt, 'p', 10, { priority: 5 }), request(rt, 'p', 11, { priority: 1 }), request(rt, 'p', 12)];
    await run();
    await Promise.all(rs);
    assert.deepEqual(executedTags(f), [[10], [11], [12]]);
  });
});

test('priority: max_queue_size bounds each level on its own; a full level does not stop the others', async () => {
  const db = `${TWO_LEVELS} default_queue_policy { max_queue_size: 2 } priority_queue_policy { key: 1 value: { max_queue_size: 1 } }`;
  await withFakeRuntime({ p: model('p', 1, db) }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const high = request(rt, 'p', 20, { priority: 1 });
    await assert.rejects(request(rt, 'p', 21, { priority: 1 }), queueFull);
    const low = [request(rt, 'p', 10), request(rt, 'p', 11, { priority: 2 })];
    await assert.rejects(request(rt, 'p', 12), queueFull);
    assert.match(await rt.metricsRegistry.metrics(), /dawnserve_queue_depth\{model="p",version="1"\} 3/);
    await run();
    await Promise.all([high, ...low]);
    assert.deepEqual(executedTags(f), [[20], [10], [11]]);
    // Rejections count as REJECTED failures, as for the single queue.
    assert.match(await rt.metricsRegistry.metrics(), /nv_inference_request_failure\{model="p",version="1",reason="REJECTED"\} 2/);
  });
});

test('priority: each level has its own queue timeout policy', async () => {
  const db = `${TWO_LEVELS} priority_queue_policy { key: 2 value: { default_timeout_microseconds: 2000 } }`;
  await withFakeRuntime({ p: model('p', 1, db) }, async (rt, f) => {
    const run = await occupy(rt, f, 'p');
    const low = request(rt, 'p', 10);
    const high = request(rt, 'p', 20, { priority: 1 });
    await assert.rejects(low, { code: 'UNAVAILABLE', message: 'Request timeout expired' });
    await run();
    await high;
    assert.deepEqual(executedTags(f), [[20]]);
  });
});

test('priority: a non-integer priority from a library caller is INVALID_ARG', async () => {
  await withFakeRuntime({ p: model('p', 1, TWO_LEVELS) }, async (rt) => {
    await assert.rejects(request(rt, 'p', 1, { priority: 1.5 }), { code: 'INVALID_ARG', message: "[request id: <id_unknown>] 'priority' parameter must be a non-negative integer" });
    await assert.rejects(request(rt, 'p', 1, { priority: 'high' }), { code: 'INVALID_ARG' });
  });
});
