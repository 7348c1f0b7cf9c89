// Observability over real HTTP (issue 6, item 3): the statistics extension and the Prometheus
// metrics count exactly the requests sent — successes, failures by reason, batch items,
// executions under dynamic batching — and the structured log has one line per request at debug
// level (with its id) and none at info level for a request that succeeded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import type { JsModelDefinition } from '../../src/runtime/executors/index.js';
import type { ModelStatistics } from '../../src/runtime/api.js';
import { bundledModels } from '../helpers/paths.js';

/** pino destination that keeps the JSON lines. */
class MemoryLog {
  readonly lines: Record<string, unknown>[] = [];
  write(msg: string): void {
    for (const line of msg.split('\n')) if (line) this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  find(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}

const MAX_BATCH = 8;
let executions = 0;

/** Doubles X; a request with parameter `fail` makes its execution throw (a BACKEND failure). */
const batched: JsModelDefinition & { name: string } = {
  name: 'batched',
  inputs: [{ name: 'X', datatype: 'FP32', shape: [4] }],
  outputs: [{ name: 'Y', datatype: 'FP32', shape: [4] }],
  maxBatchSize: MAX_BATCH,
  // Long enough that the concurrent requests below queue together, short enough for a test.
  dynamicBatching: { maxQueueDelayMicroseconds: 50_000 },
  infer: (inputs, ctx) => {
    executions++;
    if (ctx.parameters.fail === true) throw new Error('asked to fail');
    const x = inputs.X!;
    return { Y: { data: (x.data as Float32Array).map((v) => v * 2), shape: x.shape } };
  },
};

let server: RunningServer;
let base: string;
let metricsBase: string;
const debugLog = new MemoryLog();

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPortEphemeral: true,
    backend: 'cpu', logLevel: 'debug', logDestination: debugLog, modelControlMode: 'explicit', loadModel: ['simple'],
    boundModels: [batched],
  });
  base = `http://127.0.0.1:${server.httpPort}`;
  metricsBase = `http://127.0.0.1:${server.metricsPort}`;
});
after(async () => { await server.close(); });

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}

const seq16 = Array.from({ length: 16 }, (_, i) => i);
const simpleBody = (extra: Record<string, unknown> = {}, n = 16) => ({
  inputs: [
    { name: 'INPUT0', shape: [1, n], datatype: 'INT32', data: seq16.slice(0, n) },
    { name: 'INPUT1', shape: [1, n], datatype: 'INT32', data: seq16.slice(0, n) },
  ],
  ...extra,
});
const batchedBody = (rows: number, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'X', shape: [rows, 4], datatype: 'FP32', data: Array.from({ length: rows * 4 }, (_, i) => i) }],
  ...extra,
});

async function stats(model: string): Promise<ModelStatistics> {
  const res = await fetch(`${base}/v2/models/${model}/stats`);
  assert.equal(res.status, 200);
  const body = await res.json() as { model_stats: ModelStatistics[] };
  assert.equal(body.model_stats.length, 1);
  return body.model_stats[0]!;
}

interface Sample { name: string; labels: Record<string, string>; value: number }

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${metricsBase}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { text, samples };
}

/** The value of the sample with exactly these labels; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  const hit = samples.find((s) => s.name === name && Object.keys(s.labels).length === want.length
    && want.every(([k, v]) => s.labels[k] === v));
  return hit?.value;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

const HELP: Record<string, string> = {
  nv_inference_request_success: 'Number of successful inference requests, all batch sizes',
  nv_inference_request_failure: 'Number of failed inference requests, all batch sizes',
  nv_inference_count: 'Number of inferences performed (does not include cached requests)',
  nv_inference_exec_count: 'Number of model executions performed (does not include cached requests)',
  nv_inference_request_duration_us: 'Cumulative inference request duration in microseconds (includes cached requests)',
  nv_inference_queue_duration_us: 'Cumulative inference queuing duration in microseconds (includes cached requests)',
  nv_inference_compute_input_duration_us: 'Cumulative compute input duration in microseconds (does not include cached requests)',
  nv_inference_compute_infer_duration_us: 'Cumulative compute inference duration in microseconds (does not include cached requests)',
  nv_inference_compute_output_duration_us: 'Cumulative inference compute output duration in microseconds (does not include cached requests)',
  nv_inference_pending_request_count: 'Instantaneous number of pending requests awaiting execution per-model.',
  nv_model_load_duration_secs: 'Model load time in seconds',
  nv_cpu_memory_total_bytes: 'CPU total memory (RAM), in bytes',
  nv_cpu_memory_used_bytes: 'CPU used memory (RAM), in bytes',
};

test('metrics exist from load on, at 0, with Triton\'s HELP texts, types and labels', async () => {
  const { text, samples } = await scrape();
  for (const [name, help] of Object.entries(HELP)) {
    assert.ok(text.includes(`# HELP ${name} ${help}\n`), `HELP of ${name}`);
    const type = name.endsWith('_count') && name !== 'nv_inference_count' && name !== 'nv_inference_exec_count' ? 'gauge'
      : /_(secs|bytes)$/.test(name) ? 'gauge' : 'counter';
    assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `TYPE of ${name}`);
  }
  for (const model of ['simple', 'batched']) {
    const mv = { model, version: '1' };
    for (const name of ['nv_inference_request_success', 'nv_inference_count', 'nv_inference_exec_count',
      'nv_inference_request_duration_us', 'nv_inference_queue_duration_us', 'nv_inference_pending_request_count']) {
      assert.equal(value(samples, name, mv), 0, `${name}{model="${model}"}`);
    }
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']) {
      assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason }), 0, `failure ${reason} of ${model}`);
    }
    assert.ok(value(samples, 'nv_model_load_duration_secs', mv)! >= 0);
    assert.equal(value(samples, 'dawnserve_queue_depth', mv), 0);
  }
  assert.equal(value(samples, 'dawnserve_backend_info', { backend: 'cpu', adapter_vendor: '', adapter_architecture: '' }), 1);
  assert.ok(value(samples, 'nv_cpu_memory_total_bytes')! > 0);
  assert.ok(value(samples, 'nv_cpu_memory_used_bytes')! > 0);
  assert.ok(value(samples, 'dawnserve_tensors_alive')! >= 0);
  assert.ok(value(samples, 'dawnserve_kernel_dispatches_total')! >= 0);
  // No GPU figure off webgpu rather than a misleading 0.
  assert.equal(samples.filter((s) => s.name === 'dawnserve_gpu_memory_bytes').length, 0);
  assert.match(text, /# TYPE dawnserve_kernel_dispatches_total counter\n/);
});

test('simple: statistics and metrics match N successes and M failures exactly', async () => {
  const N = 7;
  const M = 3;
  for (let i = 0; i < N; i++) assert.equal((await post('/v2/models/simple/infer', simpleBody({ id: `s${i}` }))).status, 200);
  // Wrong shape: rejected by the model's validation → a failure with reason OTHER.
  for (let i = 0; i < M; i++) assert.equal((await post('/v2/models/simple/infer', simpleBody({}, 15))).status, 400);
  // Requests that never reach a model version are not its statistics (as in Triton, where a
  // malformed body is a 500: protocol notes §1.2).
  assert.equal((await post('/v2/models/simple/infer', '{not json')).status, 500);
  assert.equal((await post('/v2/models/simple/versions/9/infer', simpleBody())).status, 404);

  const s = await stats('simple');
  assert.equal(s.name, 'simple');
  assert.equal(s.version, '1');
  assert.equal(s.inference_stats.success.count, N);
  assert.equal(s.inference_stats.fail.count, M);
  assert.equal(s.inference_count, N);
  assert.equal(s.execution_count, N, 'no dynamic batching: one execution per request');
  for (const k of ['queue', 'compute_input', 'compute_infer', 'compute_output'] as const) {
    assert.equal(s.inference_stats[k].count, N, `${k}.count`);
    assert.ok(s.inference_stats[k].ns > 0, `${k}.ns`);
  }
  assert.ok(s.inference_stats.success.ns >= s.inference_stats.compute_infer.ns);
  assert.ok(s.inference_stats.fail.ns > 0);
  assert.deepEqual(s.inference_stats.cache_hit, { count: 0, ns: 0 });
  assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[1, N]]);
  assert.ok(s.last_inference > Date.now() - 60_000 && s.last_inference <= Date.now());

  const { samples } = await scrape();
  const mv = { model: 'simple', version: '1' };
  assert.equal(value(samples, 'nv_inference_request_success', mv), N);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'OTHER' }), M);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'BACKEND' }), 0);
  assert.equal(value(samples, 'nv_inference_count', mv), N);
  assert.equal(value(samples, 'nv_inference_exec_count', mv), N);
  // Whole microseconds per request, as Triton adds them: within N µs of the statistics' ns.
  const near = (name: string, ns: number) => {
    const v = value(samples, name, mv)!;
    assert.ok(v <= ns / 1000 && v >= Math.floor(ns / 1000) - N, `${name} ${v} vs ${ns} ns`);
  };
  near('nv_inference_request_duration_us', s.inference_stats.success.ns);
  near('nv_inference_queue_duration_us', s.inference_stats.queue.ns);
  near('nv_inference_compute_infer_duration_us', s.inference_stats.compute_infer.ns);
  assert.equal(value(samples, 'nv_inference_pending_request_count', mv), 0);
});

test('dynamic batching: fewer executions than requests; stats, batch_stats and metrics agree', async () => {
  const before = executions;
  // 12 one-row and 4 two-row requests at once: 20 items, at most 8 per execution.
  const rows = [...Array.from({ length: 12 }, () => 1), ...Array.from({ length: 4 }, () => 2)];
  const answers = await Promise.all(rows.map((r, i) => post('/v2/models/batched/infer', batchedBody(r, { id: `b${i}` }))));
  for (const [i, a] of answers.entries()) {
    assert.equal(a.status, 200);
    assert.equal(a.json.id, `b${i}`);
    const out = (a.json.outputs as { shape: number[]; data: number[] }[])[0]!;
    assert.deepEqual(out.shape, [rows[i], 4], 'each request gets its own rows back');
    assert.deepEqual(out.data, Array.from({ length: rows[i]! * 4 }, (_, k) => k * 2));
  }
  const N = rows.length;
  const items = sum(rows);
  const execs = executions - before;
  assert.ok(execs < N, `batched: ${execs} executions for ${N} requests`);
  assert.ok(execs >= Math.ceil(items / MAX_BATCH));

  // Failures, one reason each: the model throws (BACKEND, 500), the queue timeout expires
  // (REJECTED, 503), a wrong datatype (OTHER, 400). Sent one at a time so none batches with another.
  const backend = await post('/v2/models/batched/infer', batchedBody(1, { id: 'fails', parameters: { fail: true } }));
  assert.equal(backend.status, 500);
  assert.equal((await post('/v2/models/batched/infer', batchedBody(2, { parameters: { fail: true } }))).status, 500);
  const rejected = await post('/v2/models/batched/infer', batchedBody(1, { id: 'late', parameters: { timeout: 1000 } }));
  assert.equal(rejected.status, 503);
  assert.equal(rejected.json.error, 'Request timeout expired');
  const other = await post('/v2/models/batched/infer', {
    inputs: [{ name: 'X', shape: [1, 4], datatype: 'INT32', data: [1, 2, 3, 4] }],
  });
  assert.equal(other.status, 400);

  const s = await stats('batched');
  assert.equal(s.inference_stats.success.count, N);
  assert.equal(s.inference_stats.fail.count, 4);
  assert.equal(s.inference_count, items, 'inference_count counts batch items');
  assert.equal(s.execution_count, execs, 'execution_count counts successful executions');
  assert.ok(s.execution_count < s.inference_stats.success.count);
  // One batch_stats entry per execution size; together they are the executions and the items.
  assert.equal(sum(s.batch_stats.map((b) => b.compute_infer.count)), s.execution_count);
  assert.equal(sum(s.batch_stats.map((b) => b.batch_size * b.compute_infer.count)), s.inference_count);
  for (const b of s.batch_stats) {
    assert.ok(b.batch_size >= 1 && b.batch_size <= MAX_BATCH);
    assert.equal(b.compute_input.count, b.compute_infer.count);
    assert.equal(b.compute_output.count, b.compute_infer.count);
  }
  // Per request: each request counts its execution's compute times.
  for (const k of ['queue', 'compute_input', 'compute_infer', 'compute_output'] as const) {
    assert.equal(s.inference_stats[k].count, N, `${k}.count`);
  }
  assert.ok(s.inference_stats.queue.ns > 0);

  const { samples } = await scrape();
  const mv = { model: 'batched', version: '1' };
  assert.equal(value(samples, 'nv_inference_request_success', mv), N);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'BACKEND' }), 2);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'REJECTED' }), 1);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'OTHER' }), 1);
  assert.equal(value(samples, 'nv_inference_request_failure', { ...mv, reason: 'CANCELED' }), 0);
  assert.equal(value(samples, 'nv_inference_count', mv), items);
  assert.equal(value(samples, 'nv_inference_exec_count', mv), execs);
  assert.equal(value(samples, 'nv_inference_pending_request_count', mv), 0);
  assert.equal(value(samples, 'dawnserve_queue_depth', mv), 0);

  // The debug log: one line per request with its id, model, version, status, duration, batch size.
  const lines = debugLog.find('inference request').filter((l) => l.model === 'batched');
  assert.equal(lines.length, N);
  const b13 = lines.find((l) => l.requestId === 'b13')!;
  assert.equal(b13.level, 20);
  assert.equal(b13.version, '1');
  assert.equal(b13.status, 200);
  assert.equal(b13.batchSize, 2);
  assert.ok((b13.executionBatchSize as number) >= 2);
  assert.equal(typeof b13.durationMs, 'number');
  const failed = debugLog.find('inference request failed');
  const warn500 = failed.find((l) => l.requestId === 'fails')!;
  assert.equal(warn500.level, 40, '5xx answers are logged at warn');
  assert.equal(warn500.status, 500);
  const warn503 = failed.find((l) => l.requestId === 'late')!;
  assert.equal(warn503.level, 40);
  assert.equal(warn503.status, 503);
  // A 400 is the client's fault: debug, with a generated id where the request had none.
  const debug400 = failed.filter((l) => l.model === 'batched' && l.status === 400);
  assert.equal(debug400.length, 1);
  assert.equal(debug400[0]!.level, 20);
  assert.match(debug400[0]!.requestId as string, /^[0-9a-f]{6}-[0-9a-z]+$/);
});

test('GET /v2/models/stats lists every READY version, and only those', async () => {
  const res = await fetch(`${base}/v2/models/stats`);
  assert.equal(res.status, 200);
  const body = await res.json() as { model_stats: ModelStatistics[] };
  assert.deepEqual(body.model_stats.map((m) => `${m.name}/${m.version}`), ['batched/1', 'simple/1']);
  const s = body.model_stats[0]!;
  assert.deepEqual(Object.keys(s), ['name', 'version', 'last_inference', 'inference_count', 'execution_count',
    'inference_stats', 'response_stats', 'batch_stats', 'memory_usage']);
});

test('at info level a successful request logs nothing; lifecycle events are logged with durations', async () => {
  const log = new MemoryLog();
  const s = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
    backend: 'cpu', logLevel: 'info', logDestination: log, modelControlMode: 'explicit', loadModel: ['simple'],
  });
  try {
    assert.equal(s.metricsPort, 0, 'metricsPort 0 still disables metrics');
    const ready = log.find('model version ready').find((l) => l.model === 'simple')!;
    assert.equal(typeof ready.seconds, 'number');
    assert.equal(ready.backend, 'cpu');
    assert.equal(log.find("using tfjs backend 'cpu'").length, 1);
    const count = log.lines.length;
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/v2/models/simple/infer`, {
      method: 'POST', body: JSON.stringify(simpleBody({ id: 'quiet' })),
    });
    assert.equal(res.status, 200);
    const bad = await fetch(`http://127.0.0.1:${s.httpPort}/v2/models/simple/infer`, {
      method: 'POST', body: JSON.stringify(simpleBody({}, 3)),
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(log.lines.slice(count), [], 'nothing logged for a success or a client error at info');
  } finally {
    await s.close();
  }
  const unloaded = log.find('model version unloaded').find((l) => l.model === 'simple')!;
  assert.equal(typeof unloaded.seconds, 'number');
});
