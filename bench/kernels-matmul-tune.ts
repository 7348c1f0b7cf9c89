// Tuning sweep for the register-blocked matmul: rows × vec4-columns per thread on this adapter.
// Run: npx tsx bench/kernels-matmul-tune.ts [sizes...]   (GPU time from timestamp queries)
import { createDevice, contextForDevice, installWebGpuGlobals } from '../src/kernels/device.js';
import { CommandBatch, KernelProfiler } from '../src/kernels/dispatcher.js';
import { matMulDefaults, matMulProgram } from '../src/kernels/ops/matmul.js';

await installWebGpuGlobals();
const { device, adapter } = await createDevice();
const ctx = contextForDevice(device, adapter);
const profiler = new KernelProfiler(device);
const sizes = process.argv.slice(2).map(Number);
const buf = (n: number) => {
  const b = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Float32Array(b.getMappedRange()).fill(0.5);
  b.unmap();
  return b;
};
for (const n of sizes.length ? sizes : [512, 1024]) {
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  for (const [tm, nv, reg] of [[4, 1, 'grid'], [4, 2, 'grid'], [4, 1, 'rowu'], [8, 1, 'rowu'], [2, 2, 'rowu'], [4, 2, 'rowu']] as const) {
    const p = matMulDefaults({ M: n, N: n, K: n, tm, nv, reg });
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = new CommandBatch(ctx, profiler.take());
      batch.dispatch(matMulProgram, p, [a, b, c]);
      batch.submit();
      const ms = (await profiler.read())[0]!;
      if (i > 0) times.push(ms);
    }
    times.sort((x, y) => x - y);
    const med = times[0]!; // min: this VM is shared and noisy
    console.log(`n=${n} ${reg} tm=${tm} nv=${nv}: ${med.toFixed(2)} ms, ${(2 * n ** 3 / med / 1e6).toFixed(2)} GFLOP/s`);
  }
}
device.destroy();
process.exit(0);
