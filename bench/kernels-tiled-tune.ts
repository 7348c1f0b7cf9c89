// Tile sweep for the real-GPU ('tiled') matmul and conv2d: every block tile × shape, GPU time
// from timestamp queries, with tfjs-backend-webgpu's kernel timed in the same process.
// Run: node dist/bench/kernels-tiled-tune.js [out.json]
import { writeFileSync } from 'node:fs';
import type * as tfType from '@tensorflow/tfjs-core';
import { contextForBackend, installWebGpuGlobals } from '../src/kernels/device.js';
import { KernelProfiler } from '../src/kernels/dispatcher.js';
import { chooseTile } from '../src/kernels/ops/matmul.js';
import { parseTile, tileName } from '../src/kernels/ops/tiled.js';
import { kernelOptions, setKernelOptions } from '../src/kernels/options.js';
import { registerDawnKernels } from '../src/kernels/register.js';
import type { WebGPUBackend } from '../src/kernels/tfjs/bridge.js';

const TILES = ['32x32x32:4x4', '32x32x16:4x4', '32x64x16:4x4', '64x64x16:8x4', '64x64x32:8x4', '64x64x16:4x4',
  '64x64x16:8x8', '128x64x16:8x4', '128x64x16:8x8', '64x128x16:8x8', '128x128x16:8x8', '128x128x8:8x8'];

interface Shape { op: 'matmul' | 'conv2d'; name: string; flops: number; inputs: number[][]; m: number; n: number }
const mm = (m: number, k: number, n: number): Shape => ({ op: 'matmul', name: `${m}x${k}·${k}x${n}`, flops: 2 * m * n * k, inputs: [[m, k], [k, n]], m, n });
const SHAPES: Shape[] = [
  mm(256, 256, 256), mm(512, 512, 512), mm(1024, 1024, 1024), mm(2048, 2048, 2048), mm(128, 768, 3072), mm(128, 3072, 768),
  { op: 'conv2d', name: '1x56x56x64 * 3x3x64x64', flops: 2 * 56 * 56 * 64 * 9 * 64, inputs: [[1, 56, 56, 64], [3, 3, 64, 64]], m: 56 * 56, n: 64 },
  { op: 'conv2d', name: '1x28x28x128 * 3x3x128x128', flops: 2 * 28 * 28 * 128 * 9 * 128, inputs: [[1, 28, 28, 128], [3, 3, 128, 128]], m: 28 * 28, n: 128 },
];

await installWebGpuGlobals();
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
await tf.setBackend('webgpu');
tf.env().set('WEBGPU_CPU_FORWARD', false);
await registerDawnKernels();
const backend = tf.backend() as WebGPUBackend;
const ctx = contextForBackend(backend);
const profiler = new KernelProfiler(backend.device);
setKernelOptions({ matmul: 'tiled' });

const run = (s: Shape, xs: tfType.Tensor[]): tfType.Tensor => (s.op === 'matmul'
  ? tf.matMul(xs[0]!, xs[1]!) : tf.conv2d(xs[0] as tfType.Tensor4D, xs[1] as tfType.Tensor4D, 1, 'same'));
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function ours(s: Shape, xs: tfType.Tensor[]): Promise<number> {
  for (let i = 0; i < 2; i++) { const y = run(s, xs); await y.data(); y.dispose(); }
  const t: number[] = [];
  for (let i = 0; i < 9; i++) {
    ctx.profiler = profiler;
    const y = run(s, xs);
    ctx.profiler = undefined;
    await y.data();
    y.dispose();
    t.push((await profiler.read()).reduce((a, b) => a + b, 0));
  }
  return median(t);
}

async function tfjs(s: Shape, xs: tfType.Tensor[]): Promise<number> {
  kernelOptions.enabled = false;
  for (let i = 0; i < 2; i++) { const y = run(s, xs); await y.data(); y.dispose(); }
  const t: number[] = [];
  for (let i = 0; i < 9; i++) {
    let y: tfType.Tensor | undefined;
    const info = await tf.time(() => { y = run(s, xs); });
    y?.dispose();
    t.push(typeof info.kernelMs === 'number' ? info.kernelMs : NaN);
  }
  kernelOptions.enabled = true;
  return median(t);
}

const rows: { op: string; shape: string; impl: string; ms: number; gflops: number }[] = [];
for (const s of SHAPES) {
  const xs = s.inputs.map((sh) => tf.randomUniform(sh, -1, 1, 'float32', 7));
  const ref = await tfjs(s, xs);
  rows.push({ op: s.op, shape: s.name, impl: 'tfjs-webgpu', ms: ref, gflops: s.flops / ref / 1e6 });
  const auto = tileName(chooseTile(s.m, s.n, 1));
  const lines = [`${s.op} ${s.name}: tfjs ${ref.toFixed(4)} ms (${(s.flops / ref / 1e9).toFixed(2)} TFLOP/s); auto tile ${auto}`];
  for (const name of TILES) {
    setKernelOptions({ tile: parseTile(name) });
    const ms = await ours(s, xs);
    rows.push({ op: s.op, shape: s.name, impl: name, ms, gflops: s.flops / ms / 1e6 });
    lines.push(`  ${name.padEnd(16)} ${ms.toFixed(4)} ms  ${(s.flops / ms / 1e9).toFixed(2)} TFLOP/s  ${(ref / ms).toFixed(2)}x`);
  }
  setKernelOptions({ tile: undefined });
  console.log(lines.join('\n'));
  xs.forEach((x) => x.dispose());
}
if (process.argv[2]) writeFileSync(process.argv[2], `${JSON.stringify({ adapter: ctx.adapter, rows }, null, 2)}\n`);
profiler.destroy();
process.exit(0);
