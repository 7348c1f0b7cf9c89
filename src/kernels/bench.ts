// `dawnserve bench kernels`: our WGSL kernels vs tfjs-backend-webgpu's kernels for the same op on
// the same device in the same run, plus tfjs-wasm as a CPU reference. GPU time comes from
// timestamp queries when the device has them (ours: one query pair around each batch's pass;
// tfjs: tf.time's kernelMs, which uses the same mechanism); otherwise wall time with readback.
import { writeFileSync } from 'node:fs';
import type * as tfType from '@tensorflow/tfjs-core';
import { type AdapterSummary, contextForBackend, installWebGpuGlobals } from './device.js';
import { KernelProfiler } from './dispatcher.js';
import { attention, gelu, layerNorm } from './functions.js';
import { kernelOptions } from './options.js';
import { registerDawnKernels } from './register.js';
import type { WebGPUBackend } from './tfjs/bridge.js';

type Tf = typeof tfType;
type Impl = 'dawnserve-wgsl' | 'tfjs-webgpu' | 'tfjs-wasm';

export interface KernelBenchOptions { json?: string | undefined; svg?: string | undefined; quick?: boolean; ops?: string[] | undefined }

export interface KernelBenchResult {
  op: string;
  shape: string;
  impl: Impl;
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
  gflops: number;
  timing: 'gpu-timestamp' | 'wall';
  adapter: { vendor: string; architecture: string };
}

interface Case {
  op: string;
  shape: string;
  flops: number;
  quick: boolean;
  /** Input shapes; values are N(0,1)-ish uniform in [-1, 1]. */
  inputs: number[][];
  run: (tf: Tf, xs: tfType.Tensor[]) => tfType.Tensor;
}

const mm = (m: number, k: number, n: number, quick: boolean): Case => ({
  op: 'matmul', shape: `${m}x${k}·${k}x${n}`, flops: 2 * m * n * k, quick, inputs: [[m, k], [k, n]],
  run: (tf, [a, b]) => tf.matMul(a!, b!),
});

export const BENCH_CASES: Case[] = [
  mm(256, 256, 256, true), mm(512, 512, 512, true), mm(1024, 1024, 1024, true), mm(128, 768, 3072, false),
  {
    op: 'conv2d', shape: '1x56x56x64 * 3x3x64x64', flops: 2 * 56 * 56 * 64 * 9 * 64, quick: true, inputs: [[1, 56, 56, 64], [3, 3, 64, 64]],
    run: (tf, [x, f]) => tf.conv2d(x as tfType.Tensor4D, f as tfType.Tensor4D, 1, 'same'),
  },
  { op: 'softmax', shape: '12x128x128', flops: 5 * 12 * 128 * 128, quick: true, inputs: [[12, 128, 128]], run: (tf, [x]) => tf.softmax(x!) },
  { op: 'softmax', shape: '512x1024', flops: 5 * 512 * 1024, quick: false, inputs: [[512, 1024]], run: (tf, [x]) => tf.softmax(x!) },
  {
    op: 'layernorm', shape: '512x768', flops: 8 * 512 * 768, quick: true, inputs: [[512, 768], [768], [768]],
    run: (_tf, [x, g, b]) => layerNorm(x!, g, b, 1e-5),
  },
  { op: 'gelu', shape: '128x3072', flops: 20 * 128 * 3072, quick: false, inputs: [[128, 3072]], run: (_tf, [x]) => gelu(x!) },
  {
    op: 'attention', shape: '12x128x64', flops: 12 * (2 * 128 * 128 * 64 * 2 + 5 * 128 * 128), quick: true,
    inputs: [[12, 128, 64], [12, 128, 64], [12, 128, 64]],
    run: (_tf, [q, k, v]) => attention(q!, k!, v!, undefined, 1 / 8),
  },
];

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))));
  return sorted[i]!;
}

function randomTensor(tf: Tf, shape: number[], seed: number): tfType.Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2147483648 - 1;
  }
  return tf.tensor(v, shape);
}

async function wallTimes(tf: Tf, c: Case, xs: tfType.Tensor[], warmup: number, reps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    const y = c.run(tf, xs);
    await y.data();
    const dt = performance.now() - t0;
    y.dispose();
    if (i >= warmup) out.push(dt);
  }
  return out;
}

/** Ours: GPU time of the batches our kernels submitted (attention = one batch of 3 dispatches). */
async function oursGpuTimes(tf: Tf, c: Case, xs: tfType.Tensor[], warmup: number, reps: number, profiler: KernelProfiler,
  backend: WebGPUBackend): Promise<number[] | undefined> {
  const ctx = contextForBackend(backend);
  kernelOptions.enabled = true;
  for (let i = 0; i < warmup; i++) { const y = c.run(tf, xs); await y.data(); y.dispose(); }
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    ctx.profiler = profiler;
    const y = c.run(tf, xs);
    ctx.profiler = undefined;
    await y.data();
    y.dispose();
    const times = await profiler.read();
    if (times.length === 0) return undefined; // op did not reach our kernels
    out.push(times.reduce((a, b) => a + b, 0));
  }
  return out;
}

/** tfjs's kernels on the same device: kernelMs from tf.time (timestamp queries). */
async function tfjsGpuTimes(tf: Tf, c: Case, xs: tfType.Tensor[], warmup: number, reps: number): Promise<number[] | undefined> {
  kernelOptions.enabled = false;
  try {
    for (let i = 0; i < warmup; i++) { const y = c.run(tf, xs); await y.data(); y.dispose(); }
    const out: number[] = [];
    for (let i = 0; i < reps; i++) {
      let y: tfType.Tensor | undefined;
      const info = await tf.time(() => { y = c.run(tf, xs); });
      y?.dispose();
      if (typeof info.kernelMs !== 'number') return undefined;
      out.push(info.kernelMs);
    }
    return out;
  } finally {
    kernelOptions.enabled = true;
  }
}

function summarize(c: Case, impl: Impl, times: number[], timing: KernelBenchResult['timing'], a: AdapterSummary): KernelBenchResult {
  const s = [...times].sort((x, y) => x - y);
  const median = percentile(s, 0.5);
  return {
    op: c.op, shape: c.shape, impl, median_ms: median, p10_ms: percentile(s, 0.1), p90_ms: percentile(s, 0.9),
    gflops: c.flops / (median * 1e6), timing, adapter: { vendor: a.vendor, architecture: a.architecture },
  };
}

function table(rows: KernelBenchResult[]): string {
  const head = ['op', 'shape', 'impl', 'median ms', 'p10 ms', 'p90 ms', 'GFLOP/s', 'timing', 'vs tfjs-webgpu'];
  const body = rows.map((r) => {
    const ref = rows.find((x) => x.op === r.op && x.shape === r.shape && x.impl === 'tfjs-webgpu');
    const speedup = ref && r.impl !== 'tfjs-webgpu' ? `${(ref.median_ms / r.median_ms).toFixed(2)}x` : '';
    return [r.op, r.shape, r.impl, r.median_ms.toFixed(3), r.p10_ms.toFixed(3), r.p90_ms.toFixed(3), r.gflops.toFixed(2), r.timing, speedup];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Horizontal bars: our speed-up over tfjs-webgpu and over tfjs-wasm per op/shape (log-free, 1× marked). */
export function speedupSvg(rows: KernelBenchResult[], title: string): string {
  const keys = [...new Set(rows.map((r) => `${r.op} ${r.shape}`))];
  const bars: { label: string; vsGpu?: number; vsWasm?: number }[] = keys.map((k) => {
    const of = (impl: Impl) => rows.find((r) => `${r.op} ${r.shape}` === k && r.impl === impl)?.median_ms;
    const ours = of('dawnserve-wgsl');
    const g = of('tfjs-webgpu');
    const w = of('tfjs-wasm');
    const bar: { label: string; vsGpu?: number; vsWasm?: number } = { label: k };
    if (ours && g) bar.vsGpu = g / ours;
    if (ours && w) bar.vsWasm = w / ours;
    return bar;
  });
  const max = Math.max(2, ...bars.flatMap((b) => [b.vsGpu ?? 0, b.vsWasm ?? 0]));
  const left = 230, width = 420, rowH = 34, top = 40;
  const x = (v: number) => left + (v / max) * width;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = bars.map((b, i) => {
    const y = top + i * rowH;
    const rect = (v: number | undefined, dy: number, color: string) => (v === undefined ? ''
      : `<rect x="${left}" y="${y + dy}" width="${(x(v) - left).toFixed(1)}" height="12" fill="${color}"/><text x="${(x(v) + 4).toFixed(1)}" y="${y + dy + 10}" font-size="10">${v.toFixed(2)}×</text>`);
    return `<text x="${left - 6}" y="${y + 16}" font-size="11" text-anchor="end">${esc(b.label)}</text>${rect(b.vsGpu, 2, '#3b7dd8')}${rect(b.vsWasm, 16, '#e08a2c')}`;
  });
  const h = top + bars.length * rowH + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 60}" height="${h}" font-family="sans-serif">
<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>
<rect x="${left}" y="24" width="10" height="10" fill="#3b7dd8"/><text x="${left + 14}" y="33" font-size="10">speed-up vs tfjs-webgpu</text>
<rect x="${left + 160}" y="24" width="10" height="10" fill="#e08a2c"/><text x="${left + 174}" y="33" font-size="10">speed-up vs tfjs-wasm</text>
<line x1="${x(1)}" y1="${top - 4}" x2="${x(1)}" y2="${h - 24}" stroke="#888" stroke-dasharray="3,3"/><text x="${x(1)}" y="${h - 10}" font-size="10" text-anchor="middle">1×</text>
${parts.join('\n')}
</svg>
`;
}

/** Runs the kernel benchmark; prints a table, optionally writes JSON and an SVG chart. */
export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBenchResult[]> {
  const adapter = await installWebGpuGlobals();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  await registerDawnKernels();
  const backend = tf.backend() as WebGPUBackend;
  const ctx = contextForBackend(backend);
  const gpuTiming = ctx.adapter.timestampQuery;
  const profiler = gpuTiming ? new KernelProfiler(backend.device) : undefined;
  const warmup = opts.quick ? 1 : 2;
  const reps = opts.quick ? 3 : 9;
  const cases = BENCH_CASES.filter((c) => (opts.ops ? opts.ops.includes(c.op) : !opts.quick || c.quick));
  const a = ctx.adapter;
  console.log(`adapter: ${adapter.vendor} / ${a.architecture} ${adapter.device} (software: ${a.software}, subgroups: ${a.subgroups}, timestamps: ${gpuTiming})`);
  const results: KernelBenchResult[] = [];
  // Measure our kernel for every shape, also those the router hands to tfjs on real GPUs.
  kernelOptions.alwaysOurs = true;
  for (const c of cases) {
    await tf.setBackend('webgpu');
    const xs = c.inputs.map((s, i) => randomTensor(tf, s, 17 + i));
    const ours = profiler ? await oursGpuTimes(tf, c, xs, warmup, reps, profiler, backend) : undefined;
    results.push(ours ? summarize(c, 'dawnserve-wgsl', ours, 'gpu-timestamp', a)
      : summarize(c, 'dawnserve-wgsl', await wallTimes(tf, c, xs, warmup, reps), 'wall', a));
    const theirs = profiler ? await tfjsGpuTimes(tf, c, xs, warmup, reps) : undefined;
    if (theirs) results.push(summarize(c, 'tfjs-webgpu', theirs, 'gpu-timestamp', a));
    else {
      kernelOptions.enabled = false;
      try { results.push(summarize(c, 'tfjs-webgpu', await wallTimes(tf, c, xs, warmup, reps), 'wall', a)); } finally { kernelOptions.enabled = true; }
    }
    xs.forEach((t) => t.dispose());
    await tf.setBackend('wasm');
    const ws = c.inputs.map((s, i) => randomTensor(tf, s, 17 + i));
    results.push(summarize(c, 'tfjs-wasm', await wallTimes(tf, c, ws, warmup, reps), 'wall', { ...a, vendor: 'cpu', architecture: 'wasm-simd' }));
    ws.forEach((t) => t.dispose());
  }
  delete kernelOptions.alwaysOurs;
  await tf.setBackend('webgpu');
  profiler?.destroy();
  console.log(table(results));
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  const svg = opts.svg ?? opts.json?.replace(/\.json$/i, '') .concat('.svg');
  if (svg) writeFileSync(svg, speedupSvg(results, `dawnserve WGSL kernels on ${adapter.vendor}/${adapter.architecture}`));
  return results;
}
