// `dawnserve bench http --overload`: issue 6's "under 2× overload the queue bound holds: 503s, no
// memory growth, p99 of accepted requests bounded". dawnserve runs as a child on 127.0.0.1 serving the
// bundled digits CNN with its dynamic batcher and a bounded queue (a temporary copy whose config adds
// `default_queue_policy { max_queue_size: N }`). The run first measures capacity (answered req/s with
// autocannon at a concurrency the queue can hold), then offers `factor` × that rate, evenly paced
// (paced.ts), over more connections than queue + batch can absorb, for a bounded time, while sampling
// the child's RSS, heap and live tensors (IPC) and its queue depth (/metrics).
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendChoice } from '../cli/serve-options.js';
import type { ModelConfig } from '../runtime/model-config.js';
import { ask, fmt, forkReady, machineInfo, packageRoot, round, siblingModule, textTable, type MachineInfo, type ReadyChild } from './common.js';
import type { ChildMemory, DawnserveChildOptions } from './dawnserve-child.js';
import { runLoad, type LoadMeasurement } from './load.js';
import { runPaced, type PacedMeasurement } from './paced.js';
import { digitsInput, jsonRequest } from './payloads.js';

export const OVERLOAD_MODEL = 'digits_overload';
export const MAX_OVERLOAD_DURATION_S = 60;
const MAX_CONNECTIONS = 256;
const REQUEST_TIMEOUT_S = 10;
/** The JS leak test: the heap after a full GC, before and after the overload, may differ by this much (%). */
export const HEAP_GROWTH_LIMIT_PCT = 10;
/**
 * The native leak test: RSS growth beyond what V8's committed heap grew (%). RSS follows the heap as it
 * grows between major GCs, 60–90 MiB (20–30% of the process) within a 12 s run here, while the heap
 * after a full GC came back to the same size; the rest (buffers, GPU staging, malloc) must stay flat.
 */
export const RSS_GROWTH_LIMIT_PCT = 10;
/** p99 of requests sent in the second half may be at most this multiple of the first half's. */
export const P99_GROWTH_LIMIT = 2;
/** Answered req/s under overload must stay at least this share of capacity (no congestion collapse). */
export const GOODPUT_MIN_SHARE = 0.75;
/** The client must manage at least this share of the rate it was asked to offer, or the run proves nothing. */
const OFFERED_MIN_SHARE = 0.9;
const SAMPLE_EVERY_MS = 500;

export interface OverloadOptions {
  /** Seconds of the measured overload (default 15, at most 60); capacity is measured for a third of it (1–5 s). */
  duration?: number;
  /** max_queue_size of the model's queue (default 64). */
  queueSize?: number;
  /** Offered rate as a multiple of the measured capacity (default 2). */
  factor?: number;
  /** Connections for the capacity measurement (default: what queue + one batch hold, at most 16). */
  capacityConnections?: number;
  /** Connections for the overload (default: 4 × (queue + batch), at least 64, at most 256). */
  overloadConnections?: number;
  /** tfjs backend of the dawnserve started here (default auto). */
  backend?: BackendChoice;
  /** Repository whose `digits` is copied (default: the bundled models/). */
  modelRepository?: string;
  /** Seconds of warm-up before each phase (default 2: on webgpu the first batches of each size compile pipelines; 0 disables). */
  warmup?: number;
  json?: string;
  quiet?: boolean;
}

export interface ServerSample {
  /** Seconds since the overload started. */
  tS: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  tensors: number;
  /** `dawnserve_queue_depth` of the model; null when the scrape failed. */
  queueDepth: number | null;
}

export interface OverloadPhase {
  connections: number;
  durationS: number;
  /** Paced rate asked for (req/s); null for the unthrottled capacity run. */
  targetRate: number | null;
  /** Requests the client sent per second. */
  sentPerSec: number;
  /** 200 responses per second (= measurement.reqPerSec). */
  okPerSec: number;
  /** 503 "Exceeds maximum queue size" answers. */
  rejected503: number;
  /** Statuses other than 200 and 503 (should be none). */
  otherStatuses: Record<string, number>;
  measurement: LoadMeasurement;
}

export interface OverloadCheck { id: string; goal: string; measured: string; met: boolean }

export interface OverloadReport {
  benchmark: 'http-overload';
  startedAt: string;
  machine: MachineInfo;
  /** 1-minute load average when the run ended (the machine is shared; see machine.loadAverage1m). */
  loadAverageEnd1m: number;
  target: {
    url: string; backend: string; model: string; maxBatchSize: number; maxQueueDelayUs: number;
    queueSize: number; instances: number;
  };
  capacity: OverloadPhase;
  overload: OverloadPhase & { factor: number; measurement: PacedMeasurement };
  server: {
    /** After start-up, before any load (after a full GC, as the next two). */
    idle: ChildMemory;
    /** After the overload warm-up, when the measured overload starts. */
    before: ChildMemory;
    /** One second after the overload ended. */
    after: ChildMemory;
    /** Median RSS of the last quarter of the samples (at most 6; single readings swing with V8's heap). */
    rssEndMiB: number;
    /** Highest V8 committed heap seen while overloaded. */
    peakHeapTotalBytes: number;
    /** RSS growth from `before` to rssEndMiB less the growth of V8's committed heap, % of `before`. */
    rssExcessPct: number;
    peakRssBytes: number;
    /** Highest `dawnserve_queue_depth` seen while overloaded; null when never scraped. */
    maxQueueDepth: number | null;
    /** Server-side count of REJECTED failures during the measured overload (`nv_inference_request_failure`). */
    rejectedByServer: number | null;
    /**
     * Accepted requests as the server saw them during the overload (metric deltas): from the runtime
     * call to the answer, which excludes time spent before the request was read and parsed.
     */
    accepted: ServerAccepted | null;
    samples: ServerSample[];
  };
  bounds: {
    /** (queue + one batch per instance) ÷ 200/s under overload: the longest an accepted request should wait in the queue. */
    drainMs: number;
    p99GrowthLimit: number;
    heapGrowthLimitPct: number;
    rssGrowthLimitPct: number;
    goodputMinShare: number;
  };
  checks: OverloadCheck[];
  passed: boolean;
}

export interface ServerAccepted {
  success: number;
  meanRequestMs: number;
  meanQueueMs: number;
  executions: number;
  /** Items per execution. */
  meanBatch: number;
}

/** The overload model's cumulative counters, as /metrics shows them. */
interface Counters { rejected: number; success: number; requestUs: number; queueUs: number; inferences: number; execs: number }

interface ChildReady { port: number; metricsPort: number; backend: string; models: { name: string; state: string; reason?: string }[] }

const MiB = 2 ** 20;
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A repository holding only the digits CNN, renamed, with its dynamic batcher's queue bounded. */
async function buildRepository(modelsDir: string, queueSize: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dawnserve-overload-'));
  const config = await readFile(join(modelsDir, 'digits', 'config.pbtxt'), 'utf8');
  if (/default_queue_policy/.test(config)) throw new Error('models/digits/config.pbtxt already sets default_queue_policy; the benchmark sets its own');
  const bounded = config
    .replace(/^name:\s*"digits"/m, `name: "${OVERLOAD_MODEL}"`)
    .replace(/\bdynamic_batching\s*\{/, `dynamic_batching {\n  default_queue_policy { max_queue_size: ${queueSize} }`);
  if (!bounded.includes('max_queue_size')) throw new Error('models/digits/config.pbtxt has no dynamic_batching block to bound');
  await cp(join(modelsDir, 'digits'), join(dir, OVERLOAD_MODEL), { recursive: true });
  await writeFile(join(dir, OVERLOAD_MODEL, 'config.pbtxt'), bounded);
  return dir;
}

async function fetchJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return await res.json() as T;
}

/** The value of one Prometheus series for the overload model, or null. */
function metricValue(text: string, name: string, extraLabels = ''): number | null {
  const m = new RegExp(`^${name}\\{model="${OVERLOAD_MODEL}",version="1"${extraLabels}\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function scrape(metricsBase: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${metricsBase}/metrics`, { signal: AbortSignal.timeout(2000) });
    return await res.text();
  } catch {
    return undefined; // a missed sample, not a failed run
  }
}

async function counters(metricsBase: string): Promise<Counters | null> {
  const text = await scrape(metricsBase);
  if (text === undefined) return null;
  const values = {
    rejected: metricValue(text, 'nv_inference_request_failure', ',reason="REJECTED"'),
    success: metricValue(text, 'nv_inference_request_success'),
    requestUs: metricValue(text, 'nv_inference_request_duration_us'),
    queueUs: metricValue(text, 'nv_inference_queue_duration_us'),
    inferences: metricValue(text, 'nv_inference_count'),
    execs: metricValue(text, 'nv_inference_exec_count'),
  };
  return Object.values(values).some((v) => v === null) ? null : values as Counters;
}

function acceptedBetween(a: Counters | null, b: Counters | null): ServerAccepted | null {
  if (!a || !b) return null;
  const success = b.success - a.success;
  const executions = b.execs - a.execs;
  return {
    success, executions,
    meanRequestMs: round(success > 0 ? (b.requestUs - a.requestUs) / success / 1000 : Number.NaN, 2),
    meanQueueMs: round(success > 0 ? (b.queueUs - a.queueUs) / success / 1000 : Number.NaN, 2),
    meanBatch: round(executions > 0 ? (b.inferences - a.inferences) / executions : Number.NaN, 2),
  };
}

async function childMemory(server: ReadyChild<ChildReady>, gc = false): Promise<ChildMemory> {
  return (await ask<{ memory: ChildMemory }>(server.child, { memory: true, gc }, 10_000)).memory;
}

/** Samples the child every SAMPLE_EVERY_MS until stop() is called. */
function startSampler(server: ReadyChild<ChildReady>, metricsBase: string): { stop(): Promise<ServerSample[]> } {
  const samples: ServerSample[] = [];
  const t0 = Date.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const [mem, text] = await Promise.all([childMemory(server), scrape(metricsBase)]);
      samples.push({
        tS: round((Date.now() - t0) / 1000, 2), rssMiB: round(mem.rssBytes / MiB, 1), heapUsedMiB: round(mem.heapUsedBytes / MiB, 1),
        heapTotalMiB: round(mem.heapTotalBytes / MiB, 1),
        tensors: mem.tensors, queueDepth: text === undefined ? null : metricValue(text, 'dawnserve_queue_depth'),
      });
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    }
  })();
  return { stop: async () => { running = false; await loop; return samples; } };
}

function phase(m: LoadMeasurement, connections: number, targetRate: number | null): OverloadPhase {
  const otherStatuses = Object.fromEntries(Object.entries(m.statuses).filter(([s]) => s !== '200' && s !== '503'));
  return {
    connections, durationS: m.durationS, targetRate, sentPerSec: round(m.sent / m.durationS, 1), okPerSec: m.reqPerSec,
    rejected503: m.statuses['503'] ?? 0, otherStatuses, measurement: m,
  };
}

/** Pass/fail of the issue's three claims (plus whether the client really offered the overload). */
export function evaluateOverload(r: Pick<OverloadReport, 'capacity' | 'overload' | 'server' | 'bounds' | 'target'>): OverloadCheck[] {
  const { capacity: cap, overload: ov, server: s, bounds: b } = r;
  const m = ov.measurement;
  const others = Object.entries(ov.otherStatuses).map(([k, v]) => `${v}×${k}`).join(', ');
  const depthOk = s.maxQueueDepth === null || s.maxQueueDepth <= r.target.queueSize;
  const growthPct = (s.rssEndMiB / (s.before.rssBytes / MiB) - 1) * 100;
  const heapPct = (s.after.heapUsedBytes / s.before.heapUsedBytes - 1) * 100;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  return [
    {
      id: 'offered', goal: `client offered ≥ ${OFFERED_MIN_SHARE * 100}% of ${ov.factor}× capacity`,
      measured: `sent ${fmt(ov.sentPerSec, 0)} req/s for a target of ${fmt(ov.targetRate ?? 0, 0)} (capacity ${fmt(cap.okPerSec, 0)}), `
        + `${m.notSent} not sent (all connections busy)`,
      met: ov.sentPerSec >= OFFERED_MIN_SHARE * (ov.targetRate ?? 0),
    },
    {
      id: 'queue-bound', goal: `queue bound held: 503s answered, queue depth ≤ ${r.target.queueSize}, no other errors`,
      measured: `${ov.rejected503} × 503 (server counted ${s.rejectedByServer ?? '?'} REJECTED), max depth seen ${s.maxQueueDepth ?? '?'}`
        + `${others ? `, other: ${others}` : ''}${m.timeouts ? `, ${m.timeouts} timeouts` : ''}`
        + `${m.errors > m.non2xx ? `, client errors ${JSON.stringify(m.errorCodes)}` : ''}`,
      met: ov.rejected503 > 0 && depthOk && others === '' && m.timeouts === 0 && m.errors === m.non2xx,
    },
    {
      id: 'memory', goal: `no memory growth: heap after GC < +${b.heapGrowthLimitPct}%, RSS beyond V8's heap growth < +${b.rssGrowthLimitPct}%, tensors not more`,
      measured: `heap after GC ${fmt(s.before.heapUsedBytes / MiB, 1)} → ${fmt(s.after.heapUsedBytes / MiB, 1)} MiB (${signed(heapPct)}${s.after.afterGc ? '' : ', no GC available'}); `
        + `RSS ${fmt(s.before.rssBytes / MiB, 1)} → ${fmt(s.rssEndMiB, 1)} MiB (${signed(growthPct)}; V8 heap ${fmt(s.before.heapTotalBytes / MiB, 1)} → peak ${fmt(s.peakHeapTotalBytes / MiB, 1)} MiB; `
        + `beyond it ${signed(s.rssExcessPct)}); tensors ${s.before.tensors} → ${s.after.tensors}`,
      met: heapPct < b.heapGrowthLimitPct && s.rssExcessPct < b.rssGrowthLimitPct && s.after.tensors <= s.before.tensors,
    },
    {
      // Bounded means it does not grow while the overload lasts, and the wait in the queue stays
      // within what the bound allows; absolute tails on a shared box are mostly CPU scheduling.
      id: 'p99-bounded', goal: `latency bounded: p99 (2nd half) ≤ ${b.p99GrowthLimit} × p99 (1st half); mean queue wait ≤ (queue + batch) ÷ 200/s = ${fmt(b.drainMs, 1)} ms`,
      measured: `p99 ${fmt(m.p99FirstHalf_ms, 1)} → ${fmt(m.p99SecondHalf_ms, 1)} ms (all ${fmt(m.p99_ms, 1)}, p50 ${fmt(m.p50_ms, 1)}; `
        + `at capacity p99 ${fmt(cap.measurement.p99_ms, 1)}); server queue wait mean ${fmt(s.accepted?.meanQueueMs, 1)} ms`,
      met: Number.isFinite(m.p99SecondHalf_ms) && m.p99SecondHalf_ms <= b.p99GrowthLimit * m.p99FirstHalf_ms
        && s.accepted !== null && s.accepted.meanQueueMs <= b.drainMs,
    },
    {
      id: 'goodput', goal: `answered 200/s under overload ≥ ${b.goodputMinShare * 100}% of capacity`,
      measured: `${fmt(ov.okPerSec, 0)} vs ${fmt(cap.okPerSec, 0)} req/s = ${cap.okPerSec > 0 ? ((ov.okPerSec / cap.okPerSec) * 100).toFixed(0) : '-'}%`,
      met: ov.okPerSec >= b.goodputMinShare * cap.okPerSec,
    },
  ];
}

export function formatOverload(r: OverloadReport): string {
  const row = (name: string, p: OverloadPhase) => [
    name, String(p.connections), p.targetRate === null ? 'max' : fmt(p.targetRate, 0), fmt(p.sentPerSec, 0), fmt(p.okPerSec, 0),
    String(p.rejected503), Object.entries(p.otherStatuses).map(([k, v]) => `${v}×${k}`).join(' ') || '0', String(p.measurement.timeouts),
    fmt(p.measurement.p50_ms, 2), fmt(p.measurement.p99_ms, 2), fmt(p.durationS, 1),
  ];
  const mem = (name: string, m: ChildMemory) => [name, fmt(m.rssBytes / MiB, 1), fmt(m.heapUsedBytes / MiB, 1), String(m.tensors)];
  const s = r.server;
  return textTable([
    ['phase', 'c', 'target/s', 'sent/s', '200/s', '503', 'other', 'timeouts', 'p50 ms (200)', 'p99 ms (200)', 's'],
    row('capacity', r.capacity), row(`overload ${r.overload.factor}×`, r.overload),
  ]) + '\n' + textTable([
    ['server (after GC)', 'RSS MiB', 'heap MiB', 'tensors'],
    mem('idle', s.idle), mem('overload start', s.before), mem('overload end + 1 s', s.after),
    ['peak RSS', fmt(s.peakRssBytes / MiB, 1), '', ''],
  ]) + `max queue depth seen ${s.maxQueueDepth ?? '-'} (bound ${r.target.queueSize})`
    + (s.accepted ? `; accepted requests inside the server: mean ${fmt(s.accepted.meanRequestMs, 2)} ms, of which queue `
      + `${fmt(s.accepted.meanQueueMs, 2)} ms; ${s.accepted.executions} executions, mean batch ${fmt(s.accepted.meanBatch, 2)}` : '')
    + '\n\n'
    + textTable([['check', 'measured', 'met'], ...r.checks.map((c) => [c.goal, c.measured, c.met ? 'yes' : 'NO'])], 2)
    + `\n${r.passed ? 'PASS' : 'FAIL'}: queue bound ${r.checks.find((c) => c.id === 'queue-bound')?.met ? 'held' : 'NOT held'}, `
    + `memory ${r.checks.find((c) => c.id === 'memory')?.met ? 'flat' : 'GREW'}, p99 ${r.checks.find((c) => c.id === 'p99-bounded')?.met ? 'bounded' : 'NOT bounded'}, `
    + `goodput ${r.checks.find((c) => c.id === 'goodput')?.met ? 'held' : 'DROPPED'}\n`;
}

/** Runs the overload measurement; prints tables, optionally writes JSON. */
export async function runOverloadBench(opts: OverloadOptions = {}): Promise<OverloadReport> {
  const durationS = clamp(Math.round(opts.duration ?? 15), 1, MAX_OVERLOAD_DURATION_S);
  const capacityS = clamp(Math.round(durationS / 3), 1, 5);
  const warmupS = clamp(Math.round(opts.warmup ?? 2), 0, 10);
  const queueSize = clamp(Math.round(opts.queueSize ?? 64), 1, 4096);
  const factor = clamp(opts.factor ?? 2, 1, 10);
  const modelsDir = opts.modelRepository ?? join(packageRoot(), 'models');
  const log = (x: string) => { if (!opts.quiet) process.stderr.write(x); };
  const machine = machineInfo();
  const startedAt = new Date().toISOString();

  const repo = await buildRepository(modelsDir, queueSize);
  let server: ReadyChild<ChildReady> | undefined;
  try {
    const childOpts: DawnserveChildOptions = { repository: repo, backend: opts.backend ?? 'auto', metrics: true };
    log(`starting dawnserve (backend ${childOpts.backend}) …\n`);
    // --expose-gc: heap readings before and after the overload are taken after a full GC.
    server = await forkReady<ChildReady>(siblingModule('dawnserve-child'), [JSON.stringify(childOpts)], 120_000, process.env,
      [...process.execArgv, '--expose-gc']);
    const base = `http://127.0.0.1:${server.ready.port}`;
    const metricsBase = `http://127.0.0.1:${server.ready.metricsPort}`;
    const state = server.ready.models.find((m) => m.name === OVERLOAD_MODEL);
    if (state?.state !== 'READY') throw new Error(`model ${OVERLOAD_MODEL} is ${state?.state ?? 'missing'}: ${state?.reason ?? ''}`);
    const config = await fetchJson<ModelConfig>(`${base}/v2/models/${OVERLOAD_MODEL}/config`);
    const maxBatch = Math.max(1, config.max_batch_size);
    const instances = config.instance_group.reduce((n, g) => n + g.count, 0) || 1;
    const inFlightMax = queueSize + maxBatch * instances;
    const url = `${base}/v2/models/${OVERLOAD_MODEL}/infer`;
    const payload = jsonRequest([digitsInput(modelsDir)]);
    const capC = clamp(opts.capacityConnections ?? Math.min(16, inFlightMax), 1, MAX_CONNECTIONS);
    // More connections than queue + executing batches can hold, so the bound is what stops them.
    const overC = clamp(opts.overloadConnections ?? Math.max(64, 4 * inFlightMax), 1, MAX_CONNECTIONS);
    const idle = await childMemory(server, true);

    // One request on its own first: it must succeed, and on webgpu it compiles the pipelines, which
    // can take seconds on lavapipe and would otherwise eat the warm-up.
    const first = await fetch(url, { method: 'POST', body: payload.body, headers: payload.headers, signal: AbortSignal.timeout(120_000) });
    const firstBody = await first.text();
    if (first.status !== 200) throw new Error(`${OVERLOAD_MODEL} answered ${first.status}: ${firstBody.slice(0, 300)}`);
    if (warmupS > 0) await runLoad({ url, payload, connections: capC, durationS: warmupS, timeoutS: REQUEST_TIMEOUT_S });
    log(`capacity c=${capC}, ${capacityS} s … `);
    const capM = await runLoad({ url, payload, connections: capC, durationS: capacityS, timeoutS: REQUEST_TIMEOUT_S });
    if (capM.reqPerSec <= 0) throw new Error(`no request succeeded while measuring capacity (statuses ${JSON.stringify(capM.statuses)})`);
    const rate = Math.max(1, Math.round(capM.reqPerSec * factor));
    log(`${fmt(capM.reqPerSec, 1)} req/s; overload ${rate} req/s over c=${overC}, ${durationS} s … `);

    if (warmupS > 0) await runPaced({ url, payload, connections: overC, durationS: warmupS, timeoutS: REQUEST_TIMEOUT_S, rate });
    const before = await childMemory(server, true);
    const atStart = await counters(metricsBase);
    const sampler = startSampler(server, metricsBase);
    const overM = await runPaced({ url, payload, connections: overC, durationS, timeoutS: REQUEST_TIMEOUT_S, rate });
    const samples = await sampler.stop();
    // Queued work still finishing when the client stopped is not a leak: let it drain first.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await childMemory(server, true);
    const atEnd = await counters(metricsBase);
    log(`${fmt(overM.reqPerSec, 1)} × 200/s, ${overM.statuses['503'] ?? 0} × 503\n`);

    const depths = samples.map((x) => x.queueDepth).filter((d): d is number => d !== null);
    const windowN = Math.max(1, Math.min(6, Math.floor(samples.length / 4)));
    const rssEndMiB = samples.length > 0 ? median(samples.slice(-windowN).map((x) => x.rssMiB)) : after.rssBytes / MiB;
    const peakHeapTotalBytes = Math.max(before.heapTotalBytes, ...samples.map((x) => x.heapTotalMiB * MiB));
    const rssExcessMiB = (rssEndMiB - before.rssBytes / MiB) - Math.max(0, (peakHeapTotalBytes - before.heapTotalBytes) / MiB);
    // An accepted request waits for at most the queue and one batch ahead of it, served at the rate
    // the server really answered under overload (the goodput check says whether that held up).
    const drainMs = (inFlightMax / Math.max(1, overM.reqPerSec)) * 1000;
    const report: OverloadReport = {
      benchmark: 'http-overload', startedAt, machine, loadAverageEnd1m: machineInfo().loadAverage1m,
      target: {
        url: base, backend: server.ready.backend, model: OVERLOAD_MODEL, maxBatchSize: config.max_batch_size,
        maxQueueDelayUs: config.dynamic_batching?.max_queue_delay_microseconds ?? 0, queueSize, instances,
      },
      capacity: phase(capM, capC, null),
      overload: { ...phase(overM, overC, rate), factor, measurement: overM },
      server: {
        idle, before, after,
        peakRssBytes: Math.max(before.rssBytes, after.rssBytes, ...samples.map((x) => x.rssMiB * MiB)),
        maxQueueDepth: depths.length > 0 ? Math.max(...depths) : null,
        rssEndMiB: round(rssEndMiB, 1), peakHeapTotalBytes,
        rssExcessPct: round((rssExcessMiB / (before.rssBytes / MiB)) * 100, 1),
        rejectedByServer: atStart && atEnd ? atEnd.rejected - atStart.rejected : null,
        accepted: acceptedBetween(atStart, atEnd),
        samples,
      },
      bounds: {
        drainMs: round(drainMs, 1), p99GrowthLimit: P99_GROWTH_LIMIT, heapGrowthLimitPct: HEAP_GROWTH_LIMIT_PCT,
        rssGrowthLimitPct: RSS_GROWTH_LIMIT_PCT, goodputMinShare: GOODPUT_MIN_SHARE,
      },
      checks: [],
      passed: false,
    };
    report.checks = evaluateOverload(report);
    report.passed = report.checks.every((c) => c.met);
    if (!opts.quiet) {
      process.stdout.write(`dawnserve bench http --overload — ${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}, `
        + `load ${machine.loadAverage1m} → ${report.loadAverageEnd1m}, backend ${report.target.backend}, `
        + `${OVERLOAD_MODEL}: max_batch_size ${config.max_batch_size}, max_queue_delay ${report.target.maxQueueDelayUs} µs, max_queue_size ${queueSize}\n\n`);
      process.stdout.write(formatOverload(report));
    }
    if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    await server?.stop();
    await rm(repo, { recursive: true, force: true });
  }
}
