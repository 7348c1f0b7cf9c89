// Soak benchmark (`npm run soak`, not part of `npm test`): a dawnserve child process on 127.0.0.1
// is fed mixed valid and invalid inference traffic at concurrency 32 (autocannon) for --duration
// seconds (default 600), while its RSS and live tfjs tensors are sampled. Writes JSON and an SVG
// plot; exits 1 if RSS grows more than 10% after warm-up or any tensor is left alive.
//   npm run soak -- --duration 120 --out docs/soak
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Args { duration: number; connections: number; out: string; backend: string; warmup: number }

function parseArgs(argv: string[]): Args {
  const args: Args = { duration: 600, connections: 32, out: join(root, 'docs', 'soak'), backend: 'cpu', warmup: -1 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const num = (max: number) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${flag} expects a number in (0, ${max}], got '${value}'`);
      i++;
      return n;
    };
    if (flag === '--duration') args.duration = num(3600);
    else if (flag === '--connections') args.connections = num(256);
    else if (flag === '--warmup') args.warmup = num(600);
    else if (flag === '--out') { args.out = value ?? args.out; i++; }
    else if (flag === '--backend') { args.backend = value ?? 'cpu'; i++; }
    else throw new Error(`unknown flag ${flag} (known: --duration SECS, --connections N, --warmup SECS, --out DIR, --backend NAME)`);
  }
  // Warm-up: a fifth of the run, between 5 and 60 s.
  if (args.warmup < 0) args.warmup = Math.min(60, Math.max(5, Math.round(args.duration / 5)));
  return args;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) * 1024;
}

async function tensorsAlive(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = /^dawnserve_tensors_alive(?:\{[^}]*\})? (\d+)/m.exec(text);
  if (!m) throw new Error('dawnserve_tensors_alive not found on /metrics');
  return Number(m[1]);
}

// ---- traffic: valid and invalid requests, cycled by every connection ----

const seq = Array.from({ length: 16 }, (_, i) => i + 1);
const simple = (a: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({
  inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: a, ...extra }, { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: seq }],
});
const binaryHeader = JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } })) });
const binaryBody = Buffer.concat([Buffer.from(binaryHeader), Buffer.from(new Int32Array(seq).buffer), Buffer.from(new Int32Array(seq).buffer)]);
let deep: unknown = seq;
for (let i = 0; i < 150; i++) deep = [deep];

interface Req { kind: 'valid' | 'invalid'; method: 'POST'; path: string; body: string | Buffer; headers: Record<string, string> }
const json = { 'content-type': 'application/json' };
const REQUESTS: Req[] = [
  { kind: 'valid', method: 'POST', path: '/v2/models/simple/infer', body: simple(seq), headers: json },
  { kind: 'valid', method: 'POST', path: '/v2/models/simple/infer', body: binaryBody, headers: { 'inference-header-content-length': String(Buffer.byteLength(binaryHeader)) } },
  { kind: 'valid', method: 'POST', path: '/v2/models/tfjs_mlp/infer', body: JSON.stringify({ inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4, 1, 2, 3, 4] }] }), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: simple(seq).slice(0, 40), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: simple(seq, { datatype: 'FP32' }), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: simple(seq, { shape: [16, 1152921504606846978] }), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: simple(deep), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: binaryBody, headers: { 'inference-header-content-length': '99999999999' } },
  { kind: 'invalid', method: 'POST', path: '/v2/models/simple/infer', body: binaryBody.subarray(0, binaryBody.length - 10), headers: { 'inference-header-content-length': String(Buffer.byteLength(binaryHeader)) } },
  { kind: 'invalid', method: 'POST', path: '/v2/models/nope/infer', body: simple(seq), headers: json },
  { kind: 'invalid', method: 'POST', path: '/v2/models/tfjs_mlp/infer', body: JSON.stringify({ inputs: [{ name: 'features', shape: [9, 4], datatype: 'FP32', data: new Array(36).fill(1) }] }), headers: json },
];

// ---- plot ----

interface Sample { t: number; rssMB: number; tensors: number; phase: 'warmup' | 'soak' | 'after' }

function svgPlot(samples: Sample[], warmup: number, title: string): string {
  const W = 900, H = 420, L = 70, R = 70, T = 40, B = 50;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const rMax = Math.max(1, ...samples.map((s) => s.rssMB)) * 1.15;
  const nMax = Math.max(1, ...samples.map((s) => s.tensors)) * 1.15;
  const x = (t: number) => L + (t / tMax) * (W - L - R);
  const yR = (v: number) => H - B - (v / rMax) * (H - T - B);
  const yN = (v: number) => H - B - (v / nMax) * (H - T - B);
  const line = (pts: string, color: string) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${L - 8}" y="${yR(f * rMax) + 4}" text-anchor="end" font-size="11">${(f * rMax).toFixed(0)}</text>`
    + `<text x="${W - R + 8}" y="${yN(f * nMax) + 4}" font-size="11" fill="#c0392b">${(f * nMax).toFixed(0)}</text>`
    + `<text x="${x(f * tMax)}" y="${H - B + 18}" text-anchor="middle" font-size="11">${(f * tMax).toFixed(0)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>
<rect x="${L}" y="${T}" width="${x(warmup) - L}" height="${H - T - B}" fill="#eee"/>
<text x="${L + 4}" y="${T + 14}" font-size="11" fill="#777">warm-up</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
${ticks}
${line(samples.map((s) => `${x(s.t).toFixed(1)},${yR(s.rssMB).toFixed(1)}`).join(' '), '#2c7fb8')}
${line(samples.map((s) => `${x(s.t).toFixed(1)},${yN(s.tensors).toFixed(1)}`).join(' '), '#c0392b')}
<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">seconds</text>
<text x="16" y="${H / 2}" font-size="12" fill="#2c7fb8" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">server RSS (MB)</text>
<text x="${W - 14}" y="${H / 2}" font-size="12" fill="#c0392b" transform="rotate(90 ${W - 14} ${H / 2})" text-anchor="middle">tfjs tensors alive</text>
</svg>
`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  // The server runs from source through tsx, so the soak does not depend on a fresh build.
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli.ts'), 'serve', '--model-repository', join(root, 'models'),
    '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--backend', args.backend,
    '--model-control-mode', 'explicit', '--load-model', 'simple', '--load-model', 'tfjs_mlp', '--log-level', 'error'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
  const pid = child.pid!;
  const killChild = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.on('exit', killChild);
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try { if ((await fetch(`${base}/v2/health/ready`)).status === 200) break; } catch { /* starting */ }
    if (Date.now() > deadline) throw new Error('server did not become ready in 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  // One valid request per model, then the idle tensor count every later count is compared with.
  for (const r of REQUESTS.filter((q) => q.kind === 'valid')) await fetch(base + r.path, { method: 'POST', body: typeof r.body === 'string' ? r.body : new Uint8Array(r.body), headers: r.headers });
  const idleTensors = await tensorsAlive(metricsPort);

  console.log(`soak: ${args.duration} s (warm-up ${args.warmup} s) at ${args.connections} connections against ${base}, ${REQUESTS.length} request kinds`);
  const samples: Sample[] = [];
  const t0 = Date.now();
  const sample = async (phase: Sample['phase']) => {
    samples.push({ t: (Date.now() - t0) / 1000, rssMB: rssBytes(pid) / 2 ** 20, tensors: await tensorsAlive(metricsPort), phase });
  };
  await sample('warmup');
  const every = Math.max(1, Math.min(10, args.duration / 60)) * 1000;
  const timer = setInterval(() => { void sample((Date.now() - t0) / 1000 < args.warmup ? 'warmup' : 'soak').catch(() => undefined); }, every);

  const result = await autocannon({
    url: base, connections: args.connections, duration: args.duration, timeout: 30,
    requests: REQUESTS.map(({ method, path, body, headers }) => ({ method, path, body, headers })),
  });
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 1000));
  await sample('after');
  const finalTensors = await tensorsAlive(metricsPort);

  child.kill('SIGTERM');
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const soak = samples.filter((s) => s.phase === 'soak');
  const windowN = Math.max(1, Math.min(6, Math.floor(soak.length / 4)));
  const rssStart = median(soak.slice(0, windowN).map((s) => s.rssMB));
  const rssEnd = median(soak.slice(-windowN).map((s) => s.rssMB));
  const growth = rssEnd / rssStart - 1;
  const byStatus: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) byStatus[code] = v.count ?? 0;
  const summary = {
    date: new Date().toISOString(), durationS: args.duration, warmupS: args.warmup, connections: args.connections, backend: args.backend,
    requests: result.requests.total, requestsPerSec: result.requests.average, latencyP50Ms: result.latency.p50, latencyP99Ms: result.latency.p99,
    byStatus, socketErrors: result.errors, timeouts: result.timeouts, validKinds: REQUESTS.filter((r) => r.kind === 'valid').length,
    invalidKinds: REQUESTS.filter((r) => r.kind === 'invalid').length,
    rssMB: { afterWarmup: rssStart, end: rssEnd, max: Math.max(...samples.map((s) => s.rssMB)), growthPct: growth * 100 },
    tensors: { idleBefore: idleTensors, idleAfter: finalTensors, maxDuring: Math.max(...samples.map((s) => s.tensors)) },
    serverExitCode: exitCode,
  };
  const failures: string[] = [];
  if (!(growth <= 0.10)) failures.push(`RSS grew ${(growth * 100).toFixed(1)}% after warm-up (limit 10%)`);
  if (finalTensors !== idleTensors) failures.push(`tensors alive ${idleTensors} → ${finalTensors}`);
  if (result.timeouts > 0) failures.push(`${result.timeouts} requests timed out`);
  // 500s here are the truncated-JSON request: Triton answers JSON parse errors 500 (docs/reliability.md).
  if (exitCode !== 0) failures.push(`server exited ${exitCode} on SIGTERM`);

  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'soak.json'), JSON.stringify({ summary, failures, samples }, null, 2) + '\n');
  writeFileSync(join(args.out, 'soak.svg'), svgPlot(samples, args.warmup,
    `dawnserve soak: ${args.duration} s, ${args.connections} connections, ${summary.requests} requests; RSS ${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MB`));
  console.log(JSON.stringify(summary, null, 2));
  console.log(`wrote ${join(args.out, 'soak.json')} and soak.svg`);
  if (failures.length > 0) {
    console.error(`soak FAILED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('soak passed');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
