// `dawnserve bench models`: dawnserve's ONNX executor (on each tfjs backend: cpu, wasm, webgpu)
// next to onnxruntime-node CPU, per ONNX fixture and the bundled digits CNN, at batch 1 and 8, on
// identical inputs in the same run. Every implementation runs in its own child process
// (models-worker.ts): tfjs has one global backend, and a fresh process keeps them apart.
// Times are wall-clock per execution including host→tensor upload and readback, as a request pays.
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, machineInfo, packageRoot, siblingModule, textTable, round, type MachineInfo } from './common.js';
import { fixtureDirOf, listBenchModels, type BenchModel } from './models-inputs.js';
import type { Impl, ModelBenchRow, WorkerJob } from './models-worker.js';

export type { ModelBenchRow } from './models-worker.js';

export const TFJS_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
type TfjsBackend = (typeof TFJS_BACKENDS)[number];

/** The fixtures the "within 2× of onnxruntime on wasm" goal is about. */
export const CNN_MODELS = ['cnn_bn_folded', 'cnn_bn_preserved', 'cnn_static_batch', 'resnet_tiny', 'mobilenetv3_tiny', 'digits'];

export interface ModelBenchOptions {
  backends?: string[];
  /** Fixture names and/or `digits`. Default: all. */
  models?: string[];
  quick?: boolean;
  /** Timed repetitions (default 20, quick 5); warm-up is a quarter of it, at least 2. */
  reps?: number;
  json?: string;
  /** Per worker process, ms (default 10 min; quick 4 min). */
  timeoutMs?: number;
  quiet?: boolean;
  /** Fixture folder (default test/fixtures/onnx of the package). */
  fixtureDir?: string;
}

export interface ModelBenchTarget { model: string; batch: number; goal: string; ratio: number; met: boolean }

export interface ModelBenchReport {
  benchmark: 'models';
  startedAt: string;
  machine: MachineInfo;
  warmup: number;
  reps: number;
  timing: 'wall clock per execute() incl. upload and readback; onnxruntime: session.run()';
  rows: ModelBenchRow[];
  /** Backends that could not start, with why. */
  unavailable: { impl: Impl; reason: string }[];
  /** dawnserve-on-wasm p50 ÷ onnxruntime p50 for the CNN fixtures (goal ≤ 2). */
  targets: ModelBenchTarget[];
}

interface WorkerOutcome { rows: ModelBenchRow[]; fatal?: string }

function runWorker(job: WorkerJob, timeoutMs: number, onRow: (r: ModelBenchRow) => void): Promise<WorkerOutcome> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    // Dawn/Vulkan warn without a runtime dir; give the worker a private one and remove it after.
    const xdg = job.impl === 'webgpu' && !env['XDG_RUNTIME_DIR'] ? mkdtempSync(join(tmpdir(), 'dawnserve-xdg-')) : undefined;
    if (xdg) env['XDG_RUNTIME_DIR'] = xdg;
    const child = fork(siblingModule('models-worker'), [JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env });
    const rows: ModelBenchRow[] = [];
    let tail = '';
    let fatal: string | undefined;
    const keep = (b: Buffer) => { tail = (tail + b.toString('utf8')).slice(-2000); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => { fatal = `timed out after ${timeoutMs} ms`; child.kill('SIGKILL'); }, timeoutMs);
    child.on('message', (m: unknown) => {
      const msg = m as { row?: ModelBenchRow; fatal?: string; done?: boolean };
      if (msg.row) { rows.push(msg.row); onRow(msg.row); }
      if (msg.fatal) fatal = msg.fatal;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (xdg) rmSync(xdg, { recursive: true, force: true });
      if (!fatal && code !== 0) fatal = `worker exited (${code ?? signal}): ${tail.trim().split('\n').slice(-3).join(' | ')}`;
      resolve(fatal ? { rows, fatal } : { rows });
    });
  });
}

function cell(rows: ModelBenchRow[], model: string, batch: number, impl: Impl): ModelBenchRow | undefined {
  return rows.find((r) => r.model === model && r.batch === batch && r.impl === impl);
}

export function formatModelTable(rows: ModelBenchRow[], backends: readonly string[]): string {
  const header = ['model', 'batch', 'ort p50', 'ort p90', 'ort-1t p50', ...backends.flatMap((b) => [`${b} p50`, `${b} p90`, `${b} ×ort`])];
  const keys = [...new Map(rows.map((r) => [`${r.model}\u0000${r.batch}`, [r.model, r.batch] as const])).values()];
  const body = keys.map(([model, batch]) => {
    const ort = cell(rows, model, batch, 'onnxruntime');
    const ort1 = cell(rows, model, batch, 'onnxruntime-1t');
    return [
      model, String(batch), fmt(ort?.p50_ms, 3), fmt(ort?.p90_ms, 3), fmt(ort1?.p50_ms, 3),
      ...backends.flatMap((b) => {
        const r = cell(rows, model, batch, b as Impl);
        if (!r) return ['-', '-', '-'];
        if (r.error) return ['error', '', ''];
        return [fmt(r.p50_ms, 3), fmt(r.p90_ms, 3), ort && ort.p50_ms > 0 ? `${fmt(r.p50_ms / ort.p50_ms, 1)}×` : '-'];
      }),
    ];
  });
  return textTable([header, ...body]);
}

export function evaluateModelTargets(rows: ModelBenchRow[]): ModelBenchTarget[] {
  const out: ModelBenchTarget[] = [];
  for (const r of rows.filter((x) => x.impl === 'wasm' && !x.error && CNN_MODELS.includes(x.model))) {
    const ort = cell(rows, r.model, r.batch, 'onnxruntime');
    if (!ort || ort.error || !(ort.p50_ms > 0)) continue;
    const ratio = round(r.p50_ms / ort.p50_ms, 2);
    out.push({ model: r.model, batch: r.batch, goal: 'wasm p50 ≤ 2× onnxruntime-node p50', ratio, met: ratio <= 2 });
  }
  return out;
}

/** Runs the model benchmark; prints a table, optionally writes JSON. */
export async function runModelBench(opts: ModelBenchOptions = {}): Promise<ModelBenchReport> {
  const root = packageRoot();
  const fixtureDir = opts.fixtureDir ?? fixtureDirOf(root);
  const allFixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  const wanted = opts.models && opts.models.length > 0 ? opts.models : [...allFixtures, 'digits'];
  for (const w of wanted) {
    if (w !== 'digits' && !allFixtures.includes(w)) throw new Error(`unknown model '${w}'; known: ${[...allFixtures, 'digits'].join(', ')}`);
  }
  const models: BenchModel[] = listBenchModels(fixtureDir, join(root, 'models'), allFixtures.filter((f) => wanted.includes(f)))
    .filter((m) => wanted.includes(m.name));
  const backends = (opts.backends && opts.backends.length > 0 ? opts.backends : [...TFJS_BACKENDS]).map((b) => {
    if (!(TFJS_BACKENDS as readonly string[]).includes(b)) throw new Error(`unknown backend '${b}'; known: ${TFJS_BACKENDS.join(', ')}`);
    return b as TfjsBackend;
  });
  const reps = Math.min(200, Math.max(1, opts.reps ?? (opts.quick ? 5 : 20)));
  const warmup = Math.max(opts.reps !== undefined && opts.reps < 4 ? 1 : 2, opts.quick ? 2 : Math.min(5, Math.ceil(reps / 4)));
  const timeoutMs = opts.timeoutMs ?? (opts.quick ? 240_000 : 600_000);
  const log = (s: string) => { if (!opts.quiet) process.stderr.write(s); };

  const report: ModelBenchReport = {
    benchmark: 'models', startedAt: new Date().toISOString(), machine: machineInfo(), warmup, reps,
    timing: 'wall clock per execute() incl. upload and readback; onnxruntime: session.run()',
    rows: [], unavailable: [], targets: [],
  };
  const impls: Impl[] = ['onnxruntime', 'onnxruntime-1t', ...backends];
  for (const impl of impls) {
    log(`${impl}: `);
    const outcome = await runWorker({ impl, models, warmup, reps }, timeoutMs, (r) => log(r.error ? 'x' : '.'));
    log(outcome.fatal ? ` ${outcome.fatal}\n` : ' done\n');
    report.rows.push(...outcome.rows);
    if (outcome.fatal) report.unavailable.push({ impl, reason: outcome.fatal });
  }
  report.targets = evaluateModelTargets(report.rows);

  if (!opts.quiet) {
    const m = report.machine;
    process.stdout.write(`dawnserve bench models — ${m.nproc} × ${m.cpuModel}, Node ${m.node}, load ${m.loadAverage1m}, ${warmup} warm-up + ${reps} timed, ms\n\n`);
    process.stdout.write(formatModelTable(report.rows, backends));
    for (const u of report.unavailable) process.stdout.write(`${u.impl}: ${u.reason}\n`);
    for (const r of report.rows.filter((x) => x.error)) process.stdout.write(`error ${r.impl} ${r.model} batch ${r.batch}: ${r.error}\n`);
    if (report.targets.length) {
      process.stdout.write('\nCNN fixtures on wasm vs onnxruntime-node (goal ≤ 2×): ');
      process.stdout.write(report.targets.map((t) => `${t.model}@${t.batch} ${t.ratio}× ${t.met ? 'ok' : 'NO'}`).join(', ') + '\n');
    }
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  return report;
}
