// Routing, health, metadata, repository, logging, shm, restricted APIs — over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
before(async () => { s = await startTestServer(); });
after(async () => { await s.close(); });

const get = (path: string) => request(s.port, { path });

test('health live/ready: 200 with an empty body, 400 when not ready', async () => {
  const live = await get('/v2/health/live');
  assert.equal(live.status, 200);
  assert.equal(live.body.length, 0);
  s.runtime.ready = false;
  const notReady = await get('/v2/health/ready');
  s.runtime.ready = true;
  assert.equal(notReady.status, 400);
  assert.equal(notReady.body.length, 0);
  assert.equal((await get('/v2/health/ready')).status, 200);
});

test('routing: trailing slash and unknown paths 404, wrong method 405, JSON bodies', async () => {
  for (const path of ['/v2/health/live/', '/v2/foo', '/v2/', '/v2/models/simple/', '/v2/models/simple/versions/abc', '/v2/models/simple/versions/1/trace/setting', '/v3']) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.equal(r.text, '{"error":"Not Found"}', path);
    assert.match(String(r.headers['content-type']), /application\/json/);
  }
  for (const [method, path] of [['POST', '/v2/health/live'], ['GET', '/v2/models/simple/infer'], ['DELETE', '/v2'], ['HEAD', '/v2/health/ready'], ['PUT', '/v2/repository/index']]) {
    const r = await request(s.port, { method: method as string, path: path as string });
    assert.equal(r.status, 405, `${method} ${path}`);
    if (method !== 'HEAD') assert.equal(r.text, '{"error":"Method Not Allowed"}');
  }
});

test('server metadata, model metadata, config; query strings ignored, names URL-decoded', async () => {
  const meta = await get('/v2?test_1=1&test_2=2');
  assert.equal(meta.status, 200);
  assert.equal(meta.json<{ name: string }>().name, 'triton');
  const m = await get('/v2/models/simple');
  assert.deepEqual(m.json(), {
    name: 'simple', versions: ['1'], platform: 'js',
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] }],
  });
  assert.equal((await get('/v2/models/%73imple/versions/1')).status, 200);
  const cfg = await get('/v2/models/simple/config');
  assert.equal(cfg.json<{ max_batch_size: number }>().max_batch_size, 8);
  const unknown = await get('/v2/models/foo');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.text, `{"error":"Request for unknown model: 'foo' is not found"}`);
  const v99 = await get('/v2/models/simple/versions/99');
  assert.equal(v99.status, 404);
  assert.match(v99.text, /'simple' version 99 is not found/);
  assert.equal((await get('/v2/models/simple/ready')).status, 200);
  assert.equal((await get('/v2/models/simple/versions/2/ready')).status, 400);
});

test('statistics: all models and one model', async () => {
  const all = await get('/v2/models/stats');
  assert.equal(all.json<{ model_stats: unknown[] }>().model_stats.length, s.runtime.models.size);
  const one = await get('/v2/models/simple/stats');
  assert.equal(one.json<{ model_stats: { name: string }[] }>().model_stats[0]?.name, 'simple');
});

test('repository: index (with and without body), bad ready, load, unload, named repository', async () => {
  const idx = await request(s.port, { method: 'POST', path: '/v2/repository/index' });
  assert.equal(idx.status, 200);
  const entries = idx.json<{ name: string; version?: string }[]>();
  assert.equal(entries.length, s.runtime.models.size + 1);
  assert.ok(!('version' in (entries.find((e) => e.name === 'broken') as object)));
  const ready = await postJson(s.port, '/v2/repository/index', { ready: true });
  assert.equal(ready.json<unknown[]>().length, s.runtime.models.size);
  const bad = await postJson(s.port, '/v2/repository/index', { ready: [[[true]]] });
  assert.equal(bad.status, 400);
  assert.equal(bad.text, `{"error":"Invalid value for 'ready': expected a boolean"}`);
  const load = await postJson(s.port, '/v2/repository/models/simple/load', {
    parameters: { config: '{"max_batch_size":16}', 'file:1/model.onnx': Buffer.from('abc').toString('base64') },
  });
  assert.equal(load.status, 200);
  assert.equal(load.body.length, 0);
  const last = s.runtime.loads.at(-1);
  assert.equal(last?.params.config, '{"max_batch_size":16}');
  assert.equal(Buffer.from(last?.params.files?.['1/model.onnx'] ?? []).toString(), 'abc');
  const missing = await request(s.port, { method: 'POST', path: '/v2/repository/models/missing/load', body: '{}' });
  assert.equal(missing.status, 500);
  assert.match(missing.text, /failed to load 'missing', failed to poll from model repository/);
  const unload = await postJson(s.port, '/v2/repository/models/simple/unload', { parameters: { unload_dependents: true } });
  assert.equal(unload.status, 200);
  assert.deepEqual(s.runtime.unloads.at(-1), { name: 'simple', unloadDependents: true });
  const badUnload = await postJson(s.port, '/v2/repository/models/simple/unload', { parameters: { unload_dependents: 1 } });
  assert.equal(badUnload.status, 400);
  assert.match(badUnload.text, /Unable to parse 'unload_dependents'/);
  const named = await request(s.port, { method: 'POST', path: '/v2/repository/myrepo/index' });
  assert.equal(named.status, 501);
  assert.equal(named.text, `{"error":"'repository_name' specification is not supported"}`);
});

test('logging and trace settings', async () => {
  const log = await get('/v2/logging');
  assert.deepEqual(log.json(), { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' });
  const upd = await postJson(s.port, '/v2/logging', { log_verbose_level: 1, log_info: false });
  assert.equal(upd.json<{ log_verbose_level: number }>().log_verbose_level, 1);
  assert.equal(upd.json<{ log_info: boolean }>().log_info, false);
  const file = await postJson(s.port, '/v2/logging', { log_file: '/tmp/x' });
  assert.equal(file.status, 400);
  assert.equal(file.text, '{"error":"log file location can not be updated through network protocol"}');
  await postJson(s.port, '/v2/logging', { log_verbose_level: 0, log_info: true });

  const trace = await get('/v2/trace/setting');
  assert.deepEqual(Object.keys(trace.json() as object).sort(), ['log_frequency', 'trace_count', 'trace_file', 'trace_level', 'trace_mode', 'trace_rate']);
  const t2 = await postJson(s.port, '/v2/models/simple/trace/setting', { trace_level: ['TIMESTAMPS'], trace_rate: '1' });
  assert.deepEqual(t2.json<{ trace_level: string[] }>().trace_level, ['TIMESTAMPS']);
  assert.deepEqual((await get('/v2/trace/setting')).json<{ trace_level: string[] }>().trace_level, ['OFF']);
  const reset = await postJson(s.port, '/v2/models/simple/trace/setting', { trace_level: null });
  assert.deepEqual(reset.json<{ trace_level: string[]; trace_rate: string }>().trace_level, ['OFF']);
  assert.equal(reset.json<{ trace_rate: string }>().trace_rate, '1');
  const badRate = await postJson(s.port, '/v2/trace/setting', { trace_rate: 'abc' });
  assert.equal(badRate.status, 400);
  assert.equal(badRate.text, `{"error":"Unable to parse 'trace_rate', got: abc"}`);
  const file2 = await postJson(s.port, '/v2/trace/setting', { trace_file: 'x' });
  assert.match(file2.text, /trace file location can not be updated through network protocol/);
});

test('shared memory: status lists nothing, register is disabled', async () => {
  for (const kind of ['systemsharedmemory', 'cudasharedmemory']) {
    const st = await get(`/v2/${kind}/status`);
    assert.equal(st.status, 200);
    assert.equal(st.text, '[]');
    const reg = await postJson(s.port, `/v2/${kind}/region/r0/register`, { key: 'k', byte_size: 8 });
    assert.equal(reg.status, 501);
    assert.equal(reg.text, `{"error":"Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable."}`);
  }
});

test('restricted API groups answer 403 without the header', async () => {
  const r = await startTestServer({ restrictedApis: [{ groups: ['model-repository', 'health'], header: 'k1', value: 'v1' }] });
  try {
    const denied = await request(r.port, { path: '/v2/health/live' });
    assert.equal(denied.status, 403);
    assert.equal(denied.text, `{"error":"This API is restricted, expecting header 'k1'"}`);
    assert.equal((await request(r.port, { method: 'POST', path: '/v2/repository/index' })).status, 403);
    assert.equal((await request(r.port, { path: '/v2/health/live', headers: { k1: 'v1' } })).status, 200);
    assert.equal((await request(r.port, { path: '/v2/health/live', headers: { k1: 'nope' } })).status, 403);
    assert.equal((await request(r.port, { path: '/v2/models/simple' })).status, 200);
  } finally {
    await r.close();
  }
});

test('unexpected exceptions are 500 without stack traces', async () => {
  const original = s.runtime.statistics.bind(s.runtime);
  s.runtime.statistics = () => { throw new TypeError('boom'); };
  try {
    const r = await get('/v2/models/stats');
    assert.equal(r.status, 500);
    assert.equal(r.text, '{"error":"boom"}');
  } finally {
    s.runtime.statistics = original;
  }
});
