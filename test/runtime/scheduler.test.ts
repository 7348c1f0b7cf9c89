import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import type { InferenceResponse } from '../../src/runtime/api.js';
import { FakeFactory, makeRepo, removeRepo, silentLog, withFakeRuntime, int32 } from './fake.js';

const model = (name: string, extra: string, dims = '[ -1 ]') => `
name: "${name}"
platform: "fake"
max_batch_size: 8
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: ${dims} }, { name: "INPUT1", data_type: TYPE_INT32, dims: ${dims} } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: ${dims} }, { name: "OUTPUT1", data_type: TYPE_INT32, dims: ${dims} } ]
${extra}`;


/** A request whose INPUT0 rows are `base, base+1, ...` so every response can be traced to its request. */
function request(rt: TritonRuntime, name: string, rows: number, base: number, width = 2, extra: { signal?: AbortSignal; timeout?: number } = {}) {
  return rt.infer({
    model: name, parameters: extra.timeout !== undefined ? { timeout: extra.timeout } : {},
    inputs: [int32('INPUT0', [rows, width], (i) => base + i), int32('INPUT1', [rows, width], () => 0)],
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

const values = (r: InferenceResponse) => [...(r.outputs[0]!.data as Int32Array)];

test('dynamic batcher: queued requests run as one execution and are split back in order', async () => {
  await withFakeRuntime({ db: model('db', 'dynamic_batching { }') }, async (rt, f) => {
    const release = f.block();
    const started = f.nextExecutionStart();
    const first = request(rt, 'db', 1, 0);
    await started;
    const queued = [request(rt, 'db', 2, 100), request(rt, 'db', 1, 200), request(rt, 'db', 3, 300)];
    release();
    const [r0, ...rs] = await Promise.all([first, ...queued]);
    assert.deepEqual(f.executions.map((e) => e.batch), [1, 6]);
    assert.deepEqual(values(r0!), [0, 1]);
    assert.deepEqual(values(rs[0]!), [100, 101, 102, 103]);
    assert.deepEqual(rs[0]!.outputs[0]!.shape, [2, 2]);
    assert.deepEqual(values(rs[1]!), [200, 201]);
    assert.deepEqual(values(rs[2]!), [300, 301, 302, 303, 304, 305]);
    const s = rt.statistics('db')[0]!;
    assert.equal(s.execution_count, 2);
    assert.equal(s.inference_count, 7);
    assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[1, 1], [6, 1]]);
  });
});

test('dynamic batcher: requests with different shapes or parameters are never mixed', async () => {
  await withFakeRuntime({ db: model('db', 'dynamic_batching { }') }, async (rt, f) => {
    const release = f.block();
    const started = f.nextExecutionStart();
    const first = request(rt, 'db', 1, 0);
    await started;
    const a = request(rt, 'db', 1, 10, 2);
    const b = request(rt, 'db', 1, 20, 3);
    const c = request(rt, 'db', 1, 30, 3);
    const d = rt.infer({ model: 'db', parameters: { custom: 'x' }, inputs: [int32('INPUT0', [1, 3], [40, 41, 42]), int32('INPUT1', [1, 3], [0, 0, 0])] });
    release();
    const rs = await Promise.all([first, a, b, c, d]);
    assert.deepEqual(f.executions.map((e) => e.batch), [1, 1, 2, 1]);
    assert.deepEqual(rs.map(values), [[0, 1], [10, 11], [20, 21, 22], [30, 31, 32], [40, 41, 42]]);
  });
});

test('dynamic batcher: preferred batch size and max batch size bound the batch', async () => {
  await withFakeRuntime({ pref: model('pref', 'dynamic_batching { preferred_batch_size: [ 2 ] }'),
    full: model('full', 'dynamic_batching { max_queue_delay_microseconds: 60000000 }') }, async (rt, f) => {
    const release = f.block();
    const started = f.nextExecutionStart();
    const first = request(rt, 'pref', 1, 0);
    await started;
    const queued = [1, 2, 3, 4, 5].map((i) => request(rt, 'pref', 1, i * 10));
    release();
    await Promise.all([first, ...queued]);
    assert.deepEqual(f.executions.map((e) => e.batch), [1, 2, 2, 1]);

    // A long queue delay: the batch goes as soon as it is full (8), without waiting for the delay.
    f.executions.length = 0;
    const eight = Array.from({ length: 8 }, (_, i) => request(rt, 'full', 1, i));
    const rs = await Promise.all(eight);
    assert.deepEqual(f.executions.map((e) => e.batch), [8]);
    assert.deepEqual(rs.map((r) => values(r)[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

test('queue policy: a full queue answers UNAVAILABLE "Exceeds maximum queue size"', async () => {
  await withFakeRuntime({ q: model('q', 'dynamic_batching { default_queue_policy { max_queue_size: 1 } }') }, async (rt, f) => {
    const release = f.block();
    const started = f.nextExecutionStart();
    const first = request(rt, 'q', 1, 0);
    await started;
    const second = request(rt, 'q', 1, 10);
    await assert.rejects(request(rt, 'q', 1, 20), (e: unknown) => {
      assert.ok(e instanceof InferenceServerError);
      assert.equal(e.code, 'UNAVAILABLE');
      assert.equal(e.message, 'Exceeds maximum queue size');
      return true;
    });
    release();
    assert.deepEqual(values(await second), [10, 11]);
    await first;
    const text = await rt.metricsRegistry.metrics();
    assert.match(text, /nv_inference_request_failure\{model="q",version="1",reason="REJECTED"\} 1/);
  });
});

test('aborted and timed-out requests are dropped from the queue without executing', async () => {
  await withFakeRuntime({ plain: model('plain', '') }, async (rt, f) => {
    const release = f.block();
    const started = f.nextExecutionStart();
    const first = request(rt, 'plain', 1, 0);
    await started;
    const ac = new AbortController();
    const aborted = request(rt, 'plain', 1, 10, 2, { signal: ac.signal });
    const timed = request(rt, 'plain', 1, 20, 2, { timeout: 1000 });
    const kept = request(rt, 'plain', 1, 30);
    ac.abort();
    await assert.rejects(aborted, { code: 'CANCELLED' });
    await assert.rejects(timed, { code: 'UNAVAILABLE', message: 'Request timeout expired' });
    release();
    await first;
    assert.deepEqual(values(await kept), [30, 31]);
    assert.equal(f.executions.length, 2);
    // Without dynamic_batching every request executes alone.
    assert.deepEqual(f.executions.map((e) => e.batch), [1, 1]);
  });
});

test('instance_group count: that many executions run at once', async () => {
  await withFakeRuntime({ two: model('two', 'instance_group [ { count: 2, kind: KIND_CPU } ]') }, async (rt, f) => {
    const release = f.block();
    const rs = [request(rt, 'two', 1, 0), request(rt, 'two', 1, 10), request(rt, 'two', 1, 20)];
    await f.untilExecutions(2);
    assert.equal(f.executions.length, 2, 'third request waits for a free instance');
    release();
    await Promise.all(rs);
    assert.equal(f.executions.length, 3);
  });
});

test('close() lets queued requests finish before unloading', async () => {
  const root = await makeRepo({ m: { config: model('m', ''), versions: { 1: {} } } });
  const f = new FakeFactory();
  const rt = new TritonRuntime({ repositoryPath: root, controlMode: 'none', factories: [f], backend: 'cpu', log: silentLog });
  await rt.start();
  const release = f.block();
  const started = f.nextExecutionStart();
  const a = request(rt, 'm', 1, 0);
  await started;
  const b = request(rt, 'm', 1, 10);
  const closing = rt.close();
  assert.deepEqual(f.unloads, [], 'not unloaded while requests are in flight');
  release();
  await closing;
  assert.deepEqual(values(await a), [0, 1]);
  assert.deepEqual(values(await b), [10, 11]);
  assert.deepEqual(f.unloads, ['m:1']);
  assert.equal(rt.isLive(), false);
  await removeRepo(root);
});
