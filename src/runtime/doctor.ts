// `dawnserve doctor`: what can this machine run? Each tfjs backend is probed in its own child
// process: tfjs backends are process-global, and a backend that fails half-way (or a Dawn driver
// that crashes) must not poison the probes of the others.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AUTO_ORDER, probeCuda, type BackendName, type WebGpuAdapterSummary } from './backends.js';

const MARKER = '@@dawnserve-doctor@@';

/** The tiny matmul every working backend runs; small integers/4 so fp32 results are exact. */
export const MATMUL_M = 8, MATMUL_K = 5, MATMUL_N = 3;
function matmulInputs(): { a: number[]; b: number[] } {
  const a = Array.from({ length: MATMUL_M * MATMUL_K }, (_, i) => ((i * 7) % 11 - 5) / 4);
  const b = Array.from({ length: MATMUL_K * MATMUL_N }, (_, i) => ((i * 3) % 7 - 3) / 2);
  return { a, b };
}

/** float64 reference, used when the cpu backend itself does not work. */
function matmulReference(): number[] {
  const { a, b } = matmulInputs();
  const out: number[] = [];
  for (let i = 0; i < MATMUL_M; i++) {
    for (let j = 0; j < MATMUL_N; j++) {
      let s = 0;
      for (let k = 0; k < MATMUL_K; k++) s += a[i * MATMUL_K + k]! * b[k * MATMUL_N + j]!;
      out.push(s);
    }
  }
  return out;
}

export interface BackendProbe {
  name: BackendName;
  ok: boolean;
  /** What initialised, or why it failed. */
  detail: string;
  initMs?: number;
  /** Result of the tiny matmul compared with the cpu backend's (or a float64 reference). */
  matmul?: { maxAbsDiff: number; reference: 'cpu' | 'float64'; ok: boolean };
  /** Raw matmul result, used for the comparison. */
  matmulResult?: number[];
  /** WGSL kernels registered over tfjs's (webgpu). */
  wgslKernels?: string[];
}

export interface DawnReport {
  ok: boolean;
  adapter?: WebGpuAdapterSummary;
  error?: string;
}

export interface CudaReport {
  tfjsNodeGpuInstalled: boolean;
  deviceNodes: string[];
  cudaVisibleDevices?: string;
  deviceVisible: boolean;
  nvidiaSmi: { found: boolean; gpus: string[]; error?: string };
  libcudart: string[];
  libcudnn: string[];
  /**
   * tfjs-node-gpu 4.x links libtensorflow 2.x built for CUDA 11.8 / cuDNN 8: other major versions
   * (a CUDA 12/13 host with cuDNN 9, say) are visible but not loadable by it.
   */
  tfjsNodeGpuLibraries: { cudart11: boolean; cudnn8: boolean };
}

export interface DoctorReport {
  node: { version: string; platform: string; arch: string };
  backends: BackendProbe[];
  dawn: DawnReport;
  cuda: CudaReport;
  /** What `--backend auto` picks, and why each backend was or was not picked. */
  auto: { backend?: BackendName; reasons: Record<BackendName, string> };
  /** At least one backend works. */
  ok: boolean;
}

export interface DoctorOptions {
  /** Backends to probe (default: all, in auto order). */
  backends?: readonly BackendName[];
  /** Per-probe timeout (default 60 s). */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Child side

interface ChildResult { probe: BackendProbe; dawn?: DawnReport }

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Entry point of a probe child process: initialise one backend, run the matmul, print JSON. */
export async function probeBackendInChild(name: BackendName): Promise<void> {
  const result: ChildResult = { probe: { name, ok: false, detail: '' } };
  try {
    if (name === 'webgpu') {
      // Report the adapter even when tfjs on top of it fails.
      const { installWebGpuGlobals } = await import('../kernels/index.js');
      try {
        result.dawn = { ok: true, adapter: await installWebGpuGlobals() };
      } catch (e) {
        result.dawn = { ok: false, error: errorText(e) };
      }
    }
    const { initBackend } = await import('./backends.js');
    const t0 = performance.now();
    const sel = await initBackend(name);
    result.probe.initMs = Math.round(performance.now() - t0);
    result.probe.detail = sel.reasons[name].replace(/^chosen: /, '');
    if (sel.wgslKernels) result.probe.wgslKernels = sel.wgslKernels;
    const tf = sel.tf;
    // Tiny tensors would otherwise be computed on the CPU by tfjs-backend-webgpu.
    if (name === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
    const { a, b } = matmulInputs();
    const ta = tf.tensor2d(a, [MATMUL_M, MATMUL_K]);
    const tb = tf.tensor2d(b, [MATMUL_K, MATMUL_N]);
    const tc = tf.matMul(ta, tb);
    result.probe.matmulResult = Array.from(await tc.data());
    tf.dispose([ta, tb, tc]);
    result.probe.ok = true;
  } catch (e) {
    result.probe.detail = errorText(e).replace(/^backend '\w+' is unavailable: /, '');
  }
  await new Promise<void>((resolve) => process.stdout.write(`${MARKER}${JSON.stringify(result)}\n`, () => resolve()));
  // Dawn keeps handles open; the probe is done.
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent side

/** Loader flags (tsx, ts-node) the child needs to import this module the way we were imported. */
function loaderExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (/^--(require|import|loader|experimental-loader)$/.test(a) || a === '-r') {
      const v = argv[i + 1];
      if (v !== undefined) out.push(a, v);
      i++;
    } else if (/^--(require|import|loader|experimental-loader)=/.test(a)) {
      out.push(a);
    }
  }
  return out;
}

function runProbeChild(name: BackendName, timeoutMs: number): Promise<ChildResult> {
  const code = `const m = await import(${JSON.stringify(import.meta.url)}); await m.probeBackendInChild(${JSON.stringify(name)});`;
  const env = { ...process.env };
  env['XDG_RUNTIME_DIR'] ??= '/tmp';
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...loaderExecArgv(), '--input-type=module', '-e', code], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      if (line) {
        resolve(JSON.parse(line.slice(MARKER.length)) as ChildResult);
        return;
      }
      const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `probe exited with ${signal ?? `code ${code}`}`;
      const tail = stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:')).slice(-3).join(' | ');
      resolve({ probe: { name, ok: false, detail: tail ? `${why}: ${tail}` : why } });
    });
  });
}

function run(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000, maxBuffer: 8 << 20 }, (err, stdout) => {
      resolve(err ? { ok: false, stdout: String(stdout), error: err.message } : { ok: true, stdout: String(stdout) });
    });
  });
}

/** Shared libraries matching `prefix` known to the dynamic linker or in the usual CUDA folders. */
async function findLibraries(prefix: string, ldconfig: string): Promise<string[]> {
  const found = new Set<string>();
  for (const line of ldconfig.split('\n')) {
    const m = /^\s*(\S+)\s.*=>\s*(\S+)/.exec(line);
    if (m && m[1]!.startsWith(prefix)) found.add(m[2]!);
  }
  const dirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':'), '/usr/local/cuda/lib64'].filter(Boolean);
  for (const dir of dirs) {
    try {
      for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.includes('.so')) found.add(path.join(dir, f));
    } catch {
      // folder absent
    }
  }
  return [...found].sort();
}

async function probeCudaReport(): Promise<CudaReport> {
  const base = probeCuda();
  let ldconfig = '';
  for (const bin of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (bin.startsWith('/') && !existsSync(bin)) continue;
    const r = await run(bin, ['-p']);
    if (r.ok) { ldconfig = r.stdout; break; }
  }
  const smi = await run('nvidia-smi', ['-L']);
  const report: CudaReport = {
    tfjsNodeGpuInstalled: base.tfjsNodeGpuInstalled,
    deviceNodes: base.deviceNodes,
    deviceVisible: base.deviceVisible,
    nvidiaSmi: smi.ok
      ? { found: true, gpus: smi.stdout.split('\n').map((l) => l.trim()).filter(Boolean) }
      : { found: false, gpus: [], error: /ENOENT/.test(smi.error ?? '') ? 'nvidia-smi not found' : (smi.error ?? 'failed') },
    libcudart: await findLibraries('libcudart', ldconfig),
    libcudnn: await findLibraries('libcudnn', ldconfig),
    tfjsNodeGpuLibraries: { cudart11: false, cudnn8: false },
  };
  report.tfjsNodeGpuLibraries = {
    cudart11: report.libcudart.some((f) => /libcudart\.so\.11/.test(f)),
    cudnn8: report.libcudnn.some((f) => /libcudnn\.so\.8/.test(f)),
  };
  const cvd = process.env['CUDA_VISIBLE_DEVICES'];
  if (cvd !== undefined) report.cudaVisibleDevices = cvd;
  return report;
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const names = opts.backends ?? AUTO_ORDER;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const probes: BackendProbe[] = [];
  let dawn: DawnReport | undefined;
  // Sequential on purpose: probes are short and the machines may have few cores.
  for (const name of names) {
    const r = await runProbeChild(name, timeoutMs);
    probes.push(r.probe);
    if (r.dawn) dawn = r.dawn;
  }

  const cpu = probes.find((p) => p.name === 'cpu' && p.ok && p.matmulResult);
  const reference = cpu?.matmulResult ?? matmulReference();
  for (const p of probes) {
    if (!p.ok || !p.matmulResult) continue;
    const diff = maxAbsDiff(p.matmulResult, reference);
    p.matmul = { maxAbsDiff: diff, reference: cpu ? 'cpu' : 'float64', ok: diff <= 1e-4 };
  }

  const reasons = {} as Record<BackendName, string>;
  let autoBackend: BackendName | undefined;
  for (const name of AUTO_ORDER) {
    const p = probes.find((q) => q.name === name);
    if (autoBackend) reasons[name] = `not tried: '${autoBackend}' comes first in the auto order`;
    else if (!p) reasons[name] = 'not probed';
    else if (p.ok) { autoBackend = name; reasons[name] = `chosen: ${p.detail}`; }
    else reasons[name] = `failed: ${p.detail}`;
  }

  const report: DoctorReport = {
    node: { version: process.version, platform: process.platform, arch: process.arch },
    backends: probes,
    dawn: dawn ?? { ok: false, error: names.includes('webgpu') ? 'webgpu probe reported nothing' : 'not probed' },
    cuda: await probeCudaReport(),
    auto: { reasons },
    ok: probes.some((p) => p.ok),
  };
  if (autoBackend) report.auto.backend = autoBackend;
  return report;
}

/** 0 when at least one backend works (and, with requireGpu, an accelerated one does); else 1. */
export function doctorExitCode(report: DoctorReport, opts: { requireGpu?: boolean } = {}): number {
  if (!report.ok) return 1;
  if (opts.requireGpu) {
    const tensorflow = report.backends.some((p) => p.name === 'tensorflow' && p.ok);
    const hardwareWebGpu = report.backends.some((p) => p.name === 'webgpu' && p.ok) && report.dawn.adapter?.software === false;
    if (!tensorflow && !hardwareWebGpu) return 1;
  }
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

/** Human-readable report for the terminal. */
export function formatDoctorReport(r: DoctorReport): string {
  const out: string[] = [];
  out.push(`dawnserve doctor — Node ${r.node.version} (${r.node.platform}/${r.node.arch})`, '');
  const rows = [['backend', 'status', 'init ms', 'matmul', 'detail']];
  for (const p of r.backends) {
    const mm = p.matmul ? `${p.matmul.ok ? 'ok' : 'MISMATCH'} (max |Δ| ${p.matmul.maxAbsDiff.toExponential(1)} vs ${p.matmul.reference})` : '-';
    rows.push([p.name, p.ok ? 'works' : 'fails', p.initMs !== undefined ? String(p.initMs) : '-', mm, p.detail]);
  }
  out.push(table(rows), '');
  out.push(`auto would choose: ${r.auto.backend ?? 'nothing (no backend works)'}`);
  for (const name of AUTO_ORDER) out.push(`  ${name.padEnd(10)} ${r.auto.reasons[name]}`);
  out.push('', 'Dawn (WebGPU):');
  if (r.dawn.adapter) {
    const a = r.dawn.adapter;
    out.push(`  vendor ${a.vendor}, architecture ${a.architecture}, device ${a.device}`);
    out.push(`  description ${a.description}${a.software ? ' (software adapter)' : ''}`);
    out.push(`  features ${a.features.join(', ')}`);
    const limits = Object.entries(a.limits ?? {}).map(([k, v]) => `${k}=${v}`);
    if (limits.length) out.push(`  limits ${limits.join(', ')}`);
  } else {
    out.push(`  unavailable: ${r.dawn.error ?? 'unknown'}`);
  }
  const c = r.cuda;
  out.push('', 'CUDA for tfjs-node-gpu:');
  out.push(`  @tensorflow/tfjs-node-gpu ${c.tfjsNodeGpuInstalled ? 'installed' : 'not installed'}`);
  out.push(`  device nodes ${c.deviceNodes.length ? c.deviceNodes.join(', ') : 'none'}${c.cudaVisibleDevices !== undefined ? `, CUDA_VISIBLE_DEVICES=${c.cudaVisibleDevices}` : ''}`);
  out.push(`  nvidia-smi ${c.nvidiaSmi.found ? c.nvidiaSmi.gpus.join('; ') || 'no GPUs listed' : c.nvidiaSmi.error ?? 'not found'}`);
  out.push(`  libcudart ${c.libcudart.length ? c.libcudart.join(', ') : 'not found'}`);
  out.push(`  libcudnn ${c.libcudnn.length ? c.libcudnn.join(', ') : 'not found'}`);
  const libs = c.tfjsNodeGpuLibraries;
  out.push(`  tfjs-node-gpu 4.x needs CUDA 11.8 + cuDNN 8: libcudart.so.11 ${libs.cudart11 ? 'found' : 'missing'}, libcudnn.so.8 ${libs.cudnn8 ? 'found' : 'missing'}`);
  out.push('', r.ok ? 'ok: at least one backend works' : 'FAIL: no tfjs backend works');
  return out.join('\n') + '\n';
}
