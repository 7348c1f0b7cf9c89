// Tuning sweep for the register-blocked ('reg') matmul: thread layout and rows × vec4-columns per
// thread on this adapter. Variants are timed round-robin (so machine load hits all alike), median.
// Run: npx tsx bench/kernels-matmul-tune.ts [sizes...]   (GPU time from timestamp queries)
import { CommandBatch } from '../src/kernels/dispatcher.js';
import { rawDevice } from './raw-device.js';
import { type MatMulParams, matMulDefaults, matMulProgram } from '../src/kernels/ops/matmul.js';

const { device, ctx, profiler, buffer: buf } = await rawDevice();
const sizes = process.argv.slice(2).map(Number);
const reps = Number(process.env['REPS'] ?? 5);
const variants: Pick<MatMulParams, 'tm' | 'nv' | 'reg'>[] = [
  { reg: 'grid', tm: 4, nv: 1 }, { reg: 'rowu', tm: 4, nv: 1 }, { reg: 'rowu', tm: 8, nv: 1 },
  { reg: 'rowu', tm: 2, nv: 1 }, { reg: 'rowu', tm: 4, nv: 2 }, { reg: 'grid', tm: 4, nv: 2 },
];
for (const n of sizes.length ? sizes : [256, 1024]) {
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  const times: number[][] = variants.map(() => []);
  for (let i = 0; i <= reps; i++) {
    for (const [vi, v] of variants.entries()) {
      const batch = new CommandBatch(ctx, profiler.take());
      batch.dispatch(matMulProgram, matMulDefaults({ M: n, N: n, K: n, ...v }), [a, b, c]);
      batch.submit();
      const ms = (await profiler.read())[0]!;
      if (i > 0) times[vi]!.push(ms); // the first round compiles
    }
  }
  for (const [vi, v] of variants.entries()) {
    const t = times[vi]!.sort((x, y) => x - y);
    const med = t[t.length >> 1]!;
    console.log(`n=${n} ${v.reg} tm=${v.tm} nv=${v.nv}: median ${med.toFixed(2)} ms (min ${t[0]!.toFixed(2)}), ${(2 * n ** 3 / med / 1e6).toFixed(2)} GFLOP/s`);
  }
}
device.destroy();
process.exit(0);
