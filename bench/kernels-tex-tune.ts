// Sweep of the lavapipe texture core ('tex': B packed into a texture, A shared by subgroup
// broadcasts) against the register-blocked 'reg' kernel, rows per workgroup 4/8/16. Variants are
// timed round-robin (machine load hits all alike), median of REPS; GPU time includes the pack.
// Run: npx tsx bench/kernels-tex-tune.ts [sizes...]
import { CommandBatch } from '../src/kernels/dispatcher.js';
import { rawDevice } from './raw-device.js';
import { type MatMulParams, matMulDefaults, recordMatMul } from '../src/kernels/ops/matmul.js';
import { texCoreAvailable } from '../src/kernels/ops/texmm.js';

const { device, ctx, profiler, buffer: buf } = await rawDevice();
if (!texCoreAvailable(ctx.adapter)) {
  console.log(`skipped: adapter ${ctx.adapter.description} has no 8-wide subgroups`);
  process.exit(0);
}
const sizes = process.argv.slice(2).map(Number);
const reps = Number(process.env['REPS'] ?? 7);
const variants: (Pick<MatMulParams, 'variant' | 'tm'> & { name: string })[] = [
  { name: 'reg 4x4', variant: 'reg', tm: 4 },
  { name: 'tex 4 rows', variant: 'tex', tm: 4 },
  { name: 'tex 8 rows', variant: 'tex', tm: 8 },
  { name: 'tex 16 rows', variant: 'tex', tm: 16 },
];
for (const n of sizes.length ? sizes : [256, 1024]) {
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  const times: number[][] = variants.map(() => []);
  for (let i = 0; i <= reps; i++) {
    for (const [vi, v] of variants.entries()) {
      const batch = new CommandBatch(ctx, profiler.take());
      recordMatMul(batch, ctx.packs.scratchSource(), matMulDefaults({ M: n, N: n, K: n, variant: v.variant, tm: v.tm }), [a, b, c]);
      batch.submit();
      const ms = (await profiler.read())[0]!;
      if (i > 0) times[vi]!.push(ms); // the first round compiles
    }
  }
  for (const [vi, v] of variants.entries()) {
    const t = times[vi]!.sort((x, y) => x - y);
    const med = t[t.length >> 1]!;
    console.log(`n=${n} ${v.name.padEnd(12)} median ${med.toFixed(2)} ms (min ${t[0]!.toFixed(2)}), ${(2 * n ** 3 / med / 1e6).toFixed(2)} GFLOP/s`);
  }
}
device.destroy();
process.exit(0);
