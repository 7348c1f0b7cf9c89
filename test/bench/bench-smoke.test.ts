// Smoke test of the two benchmarks in their tiniest mode: they start, finish by themselves and write
// the documented JSON fields with nonzero counts. Timings are never asserted (benchmarks, not tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHttpBench, type HttpBenchReport } from '../../src/bench/http.js';
import { runOverloadBench, type OverloadReport } from '../../src/bench/overload.js';
import { runModelBench, type ModelBenchReport } from '../../src/bench/models.js';

const MACHINE_FIELDS = ['nproc', 'cpuModel', 'node', 'loadAverage1m'];

test('bench http: one scenario, 1 s, c=1 writes results next to the baseline', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const json = join(dir, 'http.json');
    const svg = join(dir, 'http.svg');
    await runHttpBench({ scenarios: ['simple-json'], duration: 1, connections: [1], warmup: 0, backend: 'cpu', json, svg, quiet: true });
    const report = JSON.parse(readFileSync(json, 'utf8')) as HttpBenchReport;
    assert.equal(report.benchmark, 'http');
    for (const f of MACHINE_FIELDS) assert.ok(f in report.machine, `machine.${f}`);
    assert.equal(report.target.mode, 'child');
    assert.match(report.target.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(report.results.length, 1);
    const p = report.results[0]!;
    assert.equal(p.scenario, 'simple-json');
    assert.equal(p.connections, 1);
    for (const m of [p.dawnserve, p.baseline]) {
      assert.ok(m.requests > 0, 'completed requests');
      assert.equal(m.errors, 0);
      for (const k of ['reqPerSec', 'p50_ms', 'p90_ms', 'p99_ms'] as const) assert.equal(typeof m[k], 'number', k);
    }
    assert.equal(typeof p.ratioReqPerSec, 'number');
    assert.ok(report.targets.some((t) => t.id === 'simple-json-latency' && t.met !== null));
    assert.match(readFileSync(svg, 'utf8'), /^<svg /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench http refuses a non-loopback --url', async () => {
  await assert.rejects(runHttpBench({ url: 'http://example.com:8000', quiet: true }), /loopback/);
});

test('bench http --overload: a 2-slot queue offered 2× capacity answers 503s, counted alike by client and server', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const json = join(dir, 'overload.json');
    const returned = await runOverloadBench({ duration: 2, queueSize: 2, warmup: 0, backend: 'cpu', json, quiet: true });
    const report = JSON.parse(readFileSync(json, 'utf8')) as OverloadReport;
    assert.deepEqual(report.checks, returned.checks);
    assert.equal(report.benchmark, 'http-overload');
    for (const f of MACHINE_FIELDS) assert.ok(f in report.machine, `machine.${f}`);
    assert.equal(report.target.queueSize, 2);
    assert.match(report.target.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(report.capacity.measurement.requests > 0, 'capacity measured from answered requests');
    assert.equal(report.overload.factor, 2);
    assert.equal(report.overload.targetRate, Math.max(1, Math.round(report.capacity.okPerSec * 2)));
    assert.ok(report.overload.rejected503 > 0, 'a full queue answers 503');
    assert.deepEqual(report.overload.otherStatuses, {});
    assert.equal(report.server.rejectedByServer, report.overload.rejected503, 'every 503 is a REJECTED failure on the server');
    if (report.server.maxQueueDepth !== null) assert.ok(report.server.maxQueueDepth <= 2);
    for (const m of [report.server.idle, report.server.before, report.server.after]) {
      for (const k of ['rssBytes', 'heapUsedBytes', 'tensors'] as const) assert.equal(typeof m[k], 'number', k);
    }
    for (const k of ['p50_ms', 'p99_ms', 'p99FirstHalf_ms', 'p99SecondHalf_ms'] as const) assert.equal(typeof report.overload.measurement[k], 'number', k);
    assert.deepEqual(report.checks.map((c) => c.id), ['offered', 'queue-bound', 'memory', 'p99-bounded', 'goodput']);
    for (const c of report.checks) assert.equal(typeof c.met, 'boolean', c.id);
    assert.equal(report.passed, report.checks.every((c) => c.met));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench models: one fixture, cpu only, 2 reps, next to onnxruntime-node', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const json = join(dir, 'models.json');
    await runModelBench({ models: ['mlp'], backends: ['cpu'], reps: 2, json, quiet: true });
    const report = JSON.parse(readFileSync(json, 'utf8')) as ModelBenchReport;
    assert.equal(report.benchmark, 'models');
    for (const f of MACHINE_FIELDS) assert.ok(f in report.machine, `machine.${f}`);
    assert.deepEqual(report.unavailable, []);
    for (const impl of ['onnxruntime', 'onnxruntime-1t', 'cpu']) {
      for (const batch of [1, 8]) {
        const row = report.rows.find((r) => r.model === 'mlp' && r.impl === impl && r.batch === batch);
        assert.ok(row, `${impl} batch ${batch}`);
        assert.equal(row.error, undefined);
        assert.equal(row.reps, 2);
        assert.equal(typeof row.p50_ms, 'number');
        assert.equal(typeof row.p90_ms, 'number');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
