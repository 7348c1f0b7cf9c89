// Faults inside the server: JS models that throw, hang, return wrong shapes or leak tensors; model
// loads that fail or hang; SIGTERM during a load and while requests are in flight. Each fault must
// stay with its model or request, be reported clearly (and in the repository index for loads), and
// leave the rest of the server serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { tensorsAlive } from '../../src/runtime/backends.js';
import { jsTensorLeaks } from '../../src/runtime/executors/js.js';
import type { RepositoryIndexEntry } from '../../src/runtime/api.js';
import {
  assertLive, assertSimpleCorrect, checkHostileReply, INT32_16_IO, makeRepo, oneInputBody, request, spawnServe, waitReady, SEQ16,
} from './helpers.js';

/** model.js declares its tensors too (the executor checks them against config.pbtxt). */
const SPECS = `export const inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [16] }];
export const outputs = [{ name: 'OUTPUT0', datatype: 'INT32', shape: [16] }];
export const maxBatchSize = 8;
`;
const ECHO = `export function infer({ INPUT0 }) { return { OUTPUT0: { data: INPUT0.data, shape: INPUT0.shape } }; }`;
const js = (code: string) => ({ config: INT32_16_IO, code: SPECS + code });

const repo = makeRepo({
  throws: js(`export function infer() { const o = null; return o.missing; }`),
  throws_value: js(`export function infer() { throw 42; }`),
  hangs: js(`export function infer() { return new Promise(() => {}); }`),
  wrong_shape: js(`export function infer() { return { OUTPUT0: { data: new Int32Array(3), shape: [1, 3] } }; }`),
  wrong_output: js(`export function infer() { return { NOT_AN_OUTPUT: [1] }; }`),
  leaky: js(`export function infer({ INPUT0 }, { tf }) { tf.tensor([1, 2, 3]); tf.zeros([4]); ${ECHO.replace('export function infer({ INPUT0 }) ', '')} }`),
  load_throws: js(`export function initialize() { throw new Error('weights missing'); }\n${ECHO}`),
  load_hangs: js(`export function initialize() { return new Promise(() => {}); }\n${ECHO}`),
  syntax_error: { config: INT32_16_IO, code: `export const = ;` },
  bad_config: { files: { 'config.pbtxt': 'name: "bad_config"\nbackend: "js"\ninput [ { name: ', '1/model.js': ECHO } },
  no_model_file: { files: { 'config.pbtxt': `name: "no_model_file"\nbackend: "js"\n${INT32_16_IO}`, '1/README': 'empty' } },
});

let server: RunningServer;
let port: number;

before(async () => {
  server = await startDawnserve({
    modelRepository: repo.dir, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu', logLevel: 'silent',
    modelControlMode: 'explicit', loadModel: ['*'], modelLoadTimeoutSecs: 1, httpRequestTimeoutSecs: 1,
  });
  port = server.httpPort;
});
after(async () => {
  await server.close();
  repo.remove();
});

async function index(): Promise<RepositoryIndexEntry[]> {
  const r = await request(port, { path: '/v2/repository/index', body: '{}' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as RepositoryIndexEntry[];
}

const infer = (model: string, body = oneInputBody()) => request(port, { path: `/v2/models/${model}/infer`, body });
const errorOf = (r: { body: Buffer }) => (JSON.parse(r.body.toString()) as { error: string }).error;

test('load faults: each failing model is UNAVAILABLE with its reason in the index; the others serve', async () => {
  const entries = await index();
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const name of ['simple', 'throws', 'hangs', 'wrong_shape', 'leaky']) assert.equal(byName.get(name)?.state, 'READY', name);
  const reasons: Record<string, RegExp> = {
    load_throws: /weights missing/,
    load_hangs: /load did not finish within 1 s \(--model-load-timeout-secs\)/,
    syntax_error: /SyntaxError|Unexpected token/,
    bad_config: /config|parse|expected/i,
    no_model_file: /not found|unable to find|model file/i,
  };
  for (const [name, reason] of Object.entries(reasons)) {
    const e = byName.get(name);
    assert.equal(e?.state, 'UNAVAILABLE', `${name}: ${JSON.stringify(e)}`);
    assert.match(e?.reason ?? '', reason, name);
  }
  await assertSimpleCorrect(port);
  // The server is live but (strictly) not ready, as Triton: some models failed to load.
  await assertLive(port);
  const ready = await request(port, { method: 'GET', path: '/v2/health/ready' });
  assert.equal(ready.status, 400);
});

test('a load that hangs, requested through the API, answers an error after the load timeout', async () => {
  const t0 = Date.now();
  const r = await request(port, { path: '/v2/repository/models/load_hangs/load', body: '{}' });
  assert.ok(Date.now() - t0 < 10_000);
  assert.ok(r.status >= 400, String(r.status));
  assert.match(errorOf(r), /failed to load 'load_hangs' version 1: load did not finish within 1 s/);
  const e = (await index()).find((x) => x.name === 'load_hangs');
  assert.equal(e?.state, 'UNAVAILABLE');
  await assertSimpleCorrect(port);
});

test('a model that throws: 500 with the model\'s message only (no stack, no paths); others unaffected', async () => {
  for (let i = 0; i < 20; i++) {
    const r = await infer(i % 2 ? 'throws' : 'throws_value');
    assert.equal(r.status, 500);
    checkHostileReply({ ...r, status: 400 }, 'model error body');
    assert.match(errorOf(r), i % 2 ? /^model 'throws' infer failed: Cannot read properties of null/ : /^model 'throws_value' infer failed: 42$/);
  }
  await assertSimpleCorrect(port);
});

test('a model that returns a wrong shape or an unknown output: 500 naming the problem', async () => {
  const r = await infer('wrong_shape');
  assert.equal(r.status, 500);
  assert.match(errorOf(r), /output 'OUTPUT0': shape \[1,3\] does not match the declared shape \[1,16\]/);
  const u = await infer('wrong_output');
  assert.equal(u.status, 500);
  assert.match(errorOf(u), /returned unknown output 'NOT_AN_OUTPUT'/);
  await assertSimpleCorrect(port);
});

test('a model that hangs: its requests get 503 at the request timeout, queued ones are dropped, the rest serves', async () => {
  const t0 = Date.now();
  const first = infer('hangs');
  await new Promise((r) => setTimeout(r, 100));
  // Queued behind the hung execution: Triton's `timeout` parameter (µs) rejects it from the queue.
  const queued = request(port, { path: '/v2/models/hangs/infer', body: JSON.stringify({ ...JSON.parse(oneInputBody()), parameters: { timeout: 200_000 } }) });
  const third = infer('hangs');
  // Meanwhile other models are served at full speed.
  await assertSimpleCorrect(port);
  const q = await queued;
  assert.equal(q.status, 503);
  assert.equal(errorOf(q), 'Request timeout expired');
  const [a, c] = await Promise.all([first, third]);
  for (const r of [a, c]) {
    assert.equal(r.status, 503);
    assert.match(errorOf(r), /^Request timeout expired: model 'hangs' did not answer within 1 s/);
  }
  assert.ok(Date.now() - t0 < 8_000, `hung requests answered after ${Date.now() - t0} ms`);
  // The queue holds nothing for the abandoned requests (the hung execution itself stays running).
  const scheduler = server.runtime.manager.get('hangs')?.versions.get(1)?.scheduler;
  assert.equal(scheduler?.pending, 0);
  await assertSimpleCorrect(port);
});

test('a model that leaks tensors: requests succeed, the leak is attributed to the model, others stay clean', async () => {
  const before = tensorsAlive();
  for (let i = 0; i < 5; i++) {
    const r = await infer('leaky');
    assert.equal(r.status, 200, r.body.toString());
  }
  assert.equal(jsTensorLeaks().get('leaky'), 10);
  assert.equal(tensorsAlive() - before, 10);
  const mid = tensorsAlive();
  await assertSimpleCorrect(port);
  assert.equal(tensorsAlive(), mid);
  assert.equal(jsTensorLeaks().get('simple'), undefined);
});

// ---- signals, through the CLI ----

test('SIGTERM while a startup load hangs: the process exits 0 promptly', async () => {
  const r = makeRepo({
    stuck: js(`export function initialize() { process.stderr.write('STUCK-LOADING\\n'); return new Promise(() => {}); }\n${ECHO}`),
  });
  const child = await spawnServe(['--model-repository', r.dir, '--model-control-mode', 'explicit', '--load-model', 'stuck',
    '--load-model', 'simple', '--model-load-timeout-secs', '120', '--log-level', 'warn']);
  try {
    await child.waitFor(/STUCK-LOADING/);
    const t0 = Date.now();
    child.proc.kill('SIGTERM');
    const code = await child.exit();
    assert.equal(code, 0, child.output());
    assert.ok(Date.now() - t0 < 5_000);
    assert.match(child.output(), /SIGTERM during startup/);
  } finally {
    child.kill();
    r.remove();
  }
});

test('SIGTERM drains: every request accepted before the signal gets its answer, then exit 0', async () => {
  const r = makeRepo({
    slow: {
      config: `${INT32_16_IO}\ninstance_group [ { count: 8 kind: KIND_CPU } ]`,
      code: SPECS + `export async function infer({ INPUT0 }) { process.stderr.write('SLOW-START\\n'); await new Promise((r) => setTimeout(r, 1500));
        return { OUTPUT0: { data: INPUT0.data.map((x) => x * 2), shape: INPUT0.shape } }; }`,
    },
  });
  const child = await spawnServe(['--model-repository', r.dir, '--log-level', 'warn']);
  try {
    await waitReady(child.port);
    const N = 6;
    const pending = Array.from({ length: N }, () => request(child.port, { path: '/v2/models/slow/infer', body: oneInputBody(), agent: false }));
    await child.waitFor(new RegExp(`(SLOW-START\\n[^]*){${N}}`));
    child.proc.kill('SIGTERM');
    const replies = await Promise.all(pending);
    for (const reply of replies) {
      assert.equal(reply.status, 200, reply.body.toString());
      const out = JSON.parse(reply.body.toString()) as { outputs: { data: number[] }[] };
      assert.deepEqual(out.outputs[0]?.data, SEQ16.map((x) => x * 2));
    }
    assert.equal(await child.exit(), 0, child.output());
    await assert.rejects(request(child.port, { method: 'GET', path: '/v2/health/live', agent: false }));
  } finally {
    child.kill();
    r.remove();
  }
});
