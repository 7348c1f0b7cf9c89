// `dawnserve bench http`: load tests of dawnserve over the KServe v2 protocol, each measured next to
// a raw node:http baseline (baseline-server.ts) that parses the same payload and answers the same
// bytes, in the same run, so the ratio says what the server costs beyond Node itself.
//
// Both servers run as child processes on 127.0.0.1 (ephemeral ports); autocannon drives them from
// this process, one at a time. With `--url` an already running dawnserve on loopback is measured
// instead (scenarios whose model it does not serve are skipped). Everything is bounded: duration,
// connection counts, per-request timeouts, child start-up.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { BackendChoice } from '../cli/serve-options.js';
import { fmt, forkReady, ask, machineInfo, packageRoot, siblingModule, textTable, type MachineInfo, type ReadyChild, round } from './common.js';
import { runLoad, type LoadMeasurement } from './load.js';
import { IDENTITY_MODEL, binaryRequest, digitsInput, identityInput, jsonRequest, simpleInputs, type RequestPayload } from './payloads.js';
import { barChartSvg } from './svg.js';
import type { BaselineRoute } from './baseline-server.js';
import type { DawnserveChildOptions } from './dawnserve-child.js';

export const CNN_BATCHED = 'digits_batched';
export const CNN_UNBATCHED = 'digits_unbatched';

export const MAX_DURATION_S = 60;
export const MAX_CONNECTIONS = 256;

export interface HttpBenchOptions {
  /** Seconds per measurement (default 8, at most 60). */
  duration?: number;
  /** Connection counts; each scenario keeps those up to its own cap. Default: per scenario. */
  connections?: number[];
  /** Scenario names or groups (simple, identity, cnn). Default: all. */
  scenarios?: string[];
  json?: string;
  svg?: string;
  /** Measure this running dawnserve (loopback only) instead of starting one. */
  url?: string;
  /** tfjs backend of the dawnserve started here (default auto). */
  backend?: BackendChoice;
  /** Model repository whose `simple` and `digits` are copied (default: the bundled models/). */
  modelRepository?: string;
  /** Seconds of warm-up per scenario and server (default 1; 0 disables). */
  warmup?: number;
  /** No table on stdout. */
  quiet?: boolean;
}

interface ScenarioDef {
  name: string;
  group: 'simple' | 'identity' | 'cnn';
  model: string;
  encoding: 'json' | 'binary';
  description: string;
  defaultConnections: number[];
  /** Memory bound: 16 MB JSON bodies at c=64 would hold GBs in flight on the server. */
  maxConnections: number;
  timeoutS: number;
  payload(modelsDir: string): RequestPayload;
}

const MB = 1024 * 1024;
const ALL_C = [1, 4, 16, 64];

export const SCENARIOS: readonly ScenarioDef[] = [
  { name: 'simple-json', group: 'simple', model: 'simple', encoding: 'json', description: 'simple (2×INT32[1,16] add/sub), JSON', defaultConnections: ALL_C, maxConnections: MAX_CONNECTIONS, timeoutS: 10, payload: () => jsonRequest(simpleInputs()) },
  { name: 'simple-binary', group: 'simple', model: 'simple', encoding: 'binary', description: 'simple, binary tensor extension in and out', defaultConnections: ALL_C, maxConnections: MAX_CONNECTIONS, timeoutS: 10, payload: () => binaryRequest(simpleInputs(), ['OUTPUT0', 'OUTPUT1']) },
  { name: 'identity-1mb-json', group: 'identity', model: IDENTITY_MODEL, encoding: 'json', description: 'FP32 identity, 1 MB tensor, JSON', defaultConnections: [1, 4], maxConnections: 16, timeoutS: 30, payload: () => jsonRequest([identityInput(MB)]) },
  { name: 'identity-1mb-binary', group: 'identity', model: IDENTITY_MODEL, encoding: 'binary', description: 'FP32 identity, 1 MB tensor, binary', defaultConnections: [1, 4], maxConnections: 16, timeoutS: 30, payload: () => binaryRequest([identityInput(MB)], ['OUTPUT0']) },
  { name: 'identity-16mb-json', group: 'identity', model: IDENTITY_MODEL, encoding: 'json', description: 'FP32 identity, 16 MB tensor, JSON', defaultConnections: [1, 4], maxConnections: 4, timeoutS: 60, payload: () => jsonRequest([identityInput(16 * MB)]) },
  { name: 'identity-16mb-binary', group: 'identity', model: IDENTITY_MODEL, encoding: 'binary', description: 'FP32 identity, 16 MB tensor, binary', defaultConnections: [1, 4], maxConnections: 4, timeoutS: 60, payload: () => binaryRequest([identityInput(16 * MB)], ['OUTPUT0']) },
  { name: 'cnn-batching', group: 'cnn', model: CNN_BATCHED, encoding: 'json', description: 'digits CNN (ONNX), 1 image/request, dynamic batching on', defaultConnections: ALL_C, maxConnections: MAX_CONNECTIONS, timeoutS: 30, payload: (dir) => jsonRequest([digitsInput(dir)]) },
  { name: 'cnn-nobatch', group: 'cnn', model: CNN_UNBATCHED, encoding: 'json', description: 'digits CNN (ONNX), 1 image/request, dynamic batching off', defaultConnections: ALL_C, maxConnections: MAX_CONNECTIONS, timeoutS: 30, payload: (dir) => jsonRequest([digitsInput(dir)]) },
];

export interface HttpBenchPoint {
  scenario: string;
  description: string;
  model: string;
  encoding: 'json' | 'binary';
  requestBytes: number;
  responseBytes: number;
  connections: number;
  /** `N s` (fixed duration) or `N requests` (fixed count, for requests too slow for the duration). */
  mode: string;
  dawnserve: LoadMeasurement;
  baseline: LoadMeasurement;
  /** dawnserve req/s ÷ baseline req/s, same run. */
  ratioReqPerSec: number;
  /** dawnserve p50 ÷ baseline p50. */
  ratioP50: number;
}

export interface HttpBenchTarget {
  id: string;
  goal: string;
  measured: string;
  /** null: not measured in this run (scenario or connection count not selected). */
  met: boolean | null;
}

export interface HttpBenchReport {
  benchmark: 'http';
  startedAt: string;
  machine: MachineInfo;
  durationS: number;
  warmupS: number;
  target: { mode: 'child' | 'url'; url: string; backend?: string };
  baseline: 'node:http child process: parses the same payload, answers the same response bytes';
  results: HttpBenchPoint[];
  skipped: { scenario: string; connections?: number; reason: string }[];
  targets: HttpBenchTarget[];
}

export function selectScenarios(names: string[] | undefined): ScenarioDef[] {
  if (!names || names.length === 0) return [...SCENARIOS];
  const picked = new Set<ScenarioDef>();
  for (const n of names) {
    const hits = SCENARIOS.filter((s) => s.name === n || s.group === n);
    if (hits.length === 0) throw new Error(`unknown scenario '${n}'; known: ${SCENARIOS.map((s) => s.name).join(', ')} (or a group: simple, identity, cnn)`);
    hits.forEach((h) => picked.add(h));
  }
  return SCENARIOS.filter((s) => picked.has(s));
}

function checkLoopback(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`--url must be http://, got ${u.protocol}`);
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(u.hostname)) {
    throw new Error(`--url must target loopback (127.0.0.1, localhost, ::1), got ${u.hostname}`);
  }
  return u;
}

/** Temp repository: `simple` as bundled, and the digits CNN twice, differing only in dynamic_batching. */
async function buildRepository(modelsDir: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dawnserve-bench-'));
  await cp(join(modelsDir, 'simple'), join(dir, 'simple'), { recursive: true });
  const digitsConfig = await readFile(join(modelsDir, 'digits', 'config.pbtxt'), 'utf8');
  const withoutBatching = digitsConfig.replace(/\ndynamic_batching\s*\{[^}]*\}\s*/m, '\n');
  if (withoutBatching === digitsConfig) throw new Error('models/digits/config.pbtxt has no dynamic_batching block to remove');
  const variants: [string, string][] = [
    [CNN_BATCHED, digitsConfig],
    [CNN_UNBATCHED, withoutBatching],
  ];
  for (const [name, config] of variants) {
    await cp(join(modelsDir, 'digits'), join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'config.pbtxt'), config.replace(/^name:\s*"digits"/m, `name: "${name}"`));
  }
  return dir;
}

interface Sample { status: number; body: Buffer; headerLength?: number; ms: number }

async function sampleRequest(url: string, payload: RequestPayload, timeoutS: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body: payload.body, headers: payload.headers, signal: AbortSignal.timeout(timeoutS * 1000) });
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  const h = res.headers.get('inference-header-content-length');
  return { status: res.status, body, ms, ...(h !== null ? { headerLength: Number(h) } : {}) };
}

/** Requests per connection a measurement should complete at least; slower scenarios switch to a fixed count. */
const MIN_REQUESTS_PER_CONNECTION = 3;

async function modelReady(base: string, model: string): Promise<boolean> {
  try {
    const res = await fetch(`${base}/v2/models/${model}/ready`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function row(p: HttpBenchPoint): string[] {
  return [
    p.scenario, String(p.connections),
    fmt(p.dawnserve.reqPerSec, p.dawnserve.reqPerSec < 10 ? 2 : 1), fmt(p.dawnserve.p50_ms, 3), fmt(p.dawnserve.p90_ms, 3), fmt(p.dawnserve.p99_ms, 3), String(p.dawnserve.errors),
    fmt(p.baseline.reqPerSec, p.baseline.reqPerSec < 10 ? 2 : 1), fmt(p.baseline.p50_ms, 3), fmt(p.baseline.p99_ms, 3), String(p.baseline.errors),
    fmt(p.ratioReqPerSec, 2),
  ];
}

export function formatHttpTable(results: HttpBenchPoint[]): string {
  return textTable([
    ['scenario', 'c', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'err', 'base req/s', 'base p50', 'base p99', 'base err', 'ratio'],
    ...results.map(row),
  ]);
}

function find(results: HttpBenchPoint[], scenario: string, c: number): HttpBenchPoint | undefined {
  return results.find((r) => r.scenario === scenario && r.connections === c);
}

/** The issue's targets, evaluated on what this run measured. */
export function evaluateTargets(results: HttpBenchPoint[]): HttpBenchTarget[] {
  const out: HttpBenchTarget[] = [];
  const s16 = find(results, 'simple-json', 16);
  out.push({
    id: 'simple-json-throughput', goal: 'simple JSON req/s ≥ 70% of raw node:http at c=16',
    measured: s16 ? `${fmt(s16.dawnserve.reqPerSec, 0)} vs ${fmt(s16.baseline.reqPerSec, 0)} req/s = ${(s16.ratioReqPerSec * 100).toFixed(0)}%` : 'not measured',
    met: s16 ? s16.ratioReqPerSec >= 0.7 : null,
  });
  const s1 = find(results, 'simple-json', 1);
  out.push({
    id: 'simple-json-latency', goal: 'simple JSON p50 < 1 ms at c=1',
    measured: s1 ? `p50 ${s1.dawnserve.p50_ms.toFixed(3)} ms (baseline ${s1.baseline.p50_ms.toFixed(3)} ms)` : 'not measured',
    met: s1 ? s1.dawnserve.p50_ms < 1 : null,
  });
  const cs = [...new Set(results.filter((r) => r.scenario === 'identity-16mb-binary').map((r) => r.connections))];
  let any16 = false;
  for (const c of cs) {
    const b = find(results, 'identity-16mb-binary', c);
    const j = find(results, 'identity-16mb-json', c);
    if (!b || !j) continue;
    any16 = true;
    const ratio = j.dawnserve.reqPerSec > 0 ? b.dawnserve.reqPerSec / j.dawnserve.reqPerSec : Number.POSITIVE_INFINITY;
    out.push({
      id: `binary-vs-json-16mb-c${c}`, goal: `binary ≥ 3× JSON req/s for the 16 MB tensor (c=${c})`,
      measured: `${fmt(b.dawnserve.reqPerSec, 2)} vs ${fmt(j.dawnserve.reqPerSec, 2)} req/s = ${fmt(ratio, 1)}×`,
      met: ratio >= 3,
    });
  }
  if (!any16) out.push({ id: 'binary-vs-json-16mb', goal: 'binary ≥ 3× JSON req/s for the 16 MB tensor', measured: 'not measured', met: null });
  const on = find(results, 'cnn-batching', 16);
  const off = find(results, 'cnn-nobatch', 16);
  const speedup = on && off && off.dawnserve.reqPerSec > 0 ? on.dawnserve.reqPerSec / off.dawnserve.reqPerSec : undefined;
  out.push({
    id: 'cnn-dynamic-batching', goal: 'dynamic batching ≥ 2.5× req/s on the CNN at c=16',
    measured: on && off ? `${fmt(on.dawnserve.reqPerSec, 0)} vs ${fmt(off.dawnserve.reqPerSec, 0)} req/s = ${fmt(speedup, 2)}×` : 'not measured',
    met: speedup === undefined ? null : speedup >= 2.5,
  });
  return out;
}

export function formatTargets(targets: HttpBenchTarget[]): string {
  return textTable([
    ['target', 'measured', 'met'],
    ...targets.map((t) => [t.goal, t.measured, t.met === null ? '-' : t.met ? 'yes' : 'NO']),
  ], 2);
}

/** Runs the HTTP benchmark; prints a table, optionally writes JSON and an SVG chart. */
export async function runHttpBench(opts: HttpBenchOptions = {}): Promise<HttpBenchReport> {
  const durationS = Math.min(MAX_DURATION_S, Math.max(1, Math.round(opts.duration ?? 8)));
  const warmupS = Math.min(10, Math.max(0, Math.round(opts.warmup ?? 1)));
  const scenarios = selectScenarios(opts.scenarios);
  const connectionsOverride = opts.connections?.filter((c) => c >= 1 && c <= MAX_CONNECTIONS);
  const modelsDir = opts.modelRepository ?? join(packageRoot(), 'models');
  const log = (s: string) => { if (!opts.quiet) process.stderr.write(s); };
  const report: HttpBenchReport = {
    benchmark: 'http', startedAt: new Date().toISOString(), machine: machineInfo(), durationS, warmupS,
    target: { mode: opts.url ? 'url' : 'child', url: '' },
    baseline: 'node:http child process: parses the same payload, answers the same response bytes',
    results: [], skipped: [], targets: [],
  };

  const work = await mkdtemp(join(tmpdir(), 'dawnserve-bench-http-'));
  let repo: string | undefined;
  let server: ReadyChild<{ port: number; backend: string; models: { name: string; state: string; reason?: string }[] }> | undefined;
  let baseline: ReadyChild<{ port: number }> | undefined;
  try {
    let base: string;
    if (opts.url) {
      const u = checkLoopback(opts.url);
      base = `${u.protocol}//${u.host}`;
    } else {
      repo = await buildRepository(modelsDir);
      const childOpts: DawnserveChildOptions = { repository: repo, backend: opts.backend ?? 'auto' };
      log(`starting dawnserve (backend ${childOpts.backend}) …\n`);
      server = await forkReady(siblingModule('dawnserve-child'), [JSON.stringify(childOpts)], 120_000);
      base = `http://127.0.0.1:${server.ready.port}`;
      report.target.backend = server.ready.backend;
      for (const m of server.ready.models) {
        if (m.state !== 'READY') log(`model ${m.name} is ${m.state}: ${m.reason ?? ''}\n`);
      }
    }
    report.target.url = base;
    baseline = await forkReady(siblingModule('baseline-server'), [], 30_000);
    const baseUrl = `http://127.0.0.1:${baseline.ready.port}`;

    for (const s of scenarios) {
      if (!(await modelReady(base, s.model))) {
        report.skipped.push({ scenario: s.name, reason: `model '${s.model}' is not ready on ${base}` });
        log(`skip ${s.name}: model '${s.model}' not ready\n`);
        continue;
      }
      const payload = s.payload(modelsDir);
      const path = `/v2/models/${s.model}/infer`;
      const sample = await sampleRequest(base + path, payload, s.timeoutS);
      if (sample.status !== 200) {
        report.skipped.push({ scenario: s.name, reason: `dawnserve answered ${sample.status}: ${sample.body.subarray(0, 300).toString('utf8')}` });
        log(`skip ${s.name}: status ${sample.status}\n`);
        continue;
      }
      const responseFile = join(work, `${s.name}.response`);
      await writeFile(responseFile, sample.body);
      const route: BaselineRoute = { path, responseFile, ...(sample.headerLength !== undefined ? { binaryHeaderLength: sample.headerLength } : {}) };
      const ack = await ask<{ ok: boolean; error?: string }>(baseline.child, route, 30_000);
      if (!ack.ok) throw new Error(`baseline could not load the ${s.name} response: ${ack.error ?? ''}`);

      const wanted = connectionsOverride && connectionsOverride.length > 0 ? connectionsOverride : s.defaultConnections;
      const levels = wanted.filter((c) => c <= s.maxConnections);
      for (const c of wanted.filter((c) => c > s.maxConnections)) {
        report.skipped.push({ scenario: s.name, connections: c, reason: `above this scenario's cap of ${s.maxConnections} connections (memory in flight)` });
      }
      if (warmupS > 0 && levels.length > 0 && sample.ms < warmupS * 1000) {
        const c = Math.min(4, levels[levels.length - 1]!);
        for (const url of [baseUrl + path, base + path]) await runLoad({ url, payload, connections: c, durationS: warmupS, timeoutS: s.timeoutS });
      }
      // The sample (cold) request's time says whether a fixed duration would complete enough requests.
      const slow = (sample.ms / 1000) * MIN_REQUESTS_PER_CONNECTION > durationS;
      for (const c of levels) {
        const amount = slow ? c * MIN_REQUESTS_PER_CONNECTION : undefined;
        log(`${s.name} c=${c}${amount ? ` (${amount} requests)` : ''}: baseline … `);
        const b = await runLoad({ url: baseUrl + path, payload, connections: c, durationS, timeoutS: s.timeoutS, ...(amount ? { amount } : {}) });
        log(`${fmt(b.reqPerSec, 1)} req/s; dawnserve … `);
        const d = await runLoad({ url: base + path, payload, connections: c, durationS, timeoutS: s.timeoutS, ...(amount ? { amount } : {}) });
        log(`${fmt(d.reqPerSec, 1)} req/s\n`);
        report.results.push({
          scenario: s.name, description: s.description, model: s.model, encoding: s.encoding,
          requestBytes: payload.body.length, responseBytes: sample.body.length, connections: c,
          mode: amount ? `${amount} requests` : `${durationS} s`,
          dawnserve: d, baseline: b,
          ratioReqPerSec: round(b.reqPerSec > 0 ? d.reqPerSec / b.reqPerSec : 0, 3),
          ratioP50: round(b.p50_ms > 0 ? d.p50_ms / b.p50_ms : Number.NaN, 3),
        });
      }
    }
  } finally {
    await baseline?.stop();
    await server?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }

  report.targets = evaluateTargets(report.results);
  if (!opts.quiet) {
    const m = report.machine;
    process.stdout.write(`dawnserve bench http — ${m.nproc} × ${m.cpuModel}, Node ${m.node}, load ${m.loadAverage1m}, ${durationS} s per point, backend ${report.target.backend ?? 'n/a (--url)'}\n\n`);
    process.stdout.write(formatHttpTable(report.results) + '\n' + formatTargets(report.targets));
    for (const s of report.skipped) process.stdout.write(`skipped ${s.scenario}${s.connections ? ` c=${s.connections}` : ''}: ${s.reason}\n`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  if (opts.svg) {
    writeFileSync(opts.svg, barChartSvg({
      title: `dawnserve vs raw node:http, req/s (log scale) — ${report.machine.nproc} × ${report.machine.cpuModel}, Node ${report.machine.node}`,
      rows: report.results.map((r) => ({ label: `${r.scenario} c=${r.connections}`, values: [r.dawnserve.reqPerSec, r.baseline.reqPerSec], note: `${(r.ratioReqPerSec * 100).toFixed(0)}%` })),
      series: ['dawnserve', 'raw node:http'],
      unit: 'req/s',
      log: true,
    }));
  }
  return report;
}
