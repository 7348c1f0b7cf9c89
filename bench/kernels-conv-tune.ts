// Tuning sweep for the register-blocked ('reg') conv2d on this adapter: output pixels × vec4
// output channels per thread. Run: npx tsx bench/kernels-conv-tune.ts [reps]   (GPU time, timestamp queries)
import { CommandBatch } from '../src/kernels/dispatcher.js';
import { rawDevice } from './raw-device.js';
import { type Conv2DParams, conv2dProgram } from '../src/kernels/ops/conv2d.js';
import { TILE_32 } from '../src/kernels/ops/matmul.js';

const { device, ctx, profiler, buffer: buf } = await rawDevice();
const reps = Number(process.argv[2] ?? 5);
const shapes = [
  { name: '1x56x56x64 * 3x3x64x64', H: 56, C: 64, O: 64, f: 3 },
  { name: '1x28x28x128 * 3x3x128x128', H: 28, C: 128, O: 128, f: 3 },
];
for (const s of shapes) {
  const x = buf(s.H * s.H * s.C), w = buf(s.f * s.f * s.C * s.O), y = buf(s.H * s.H * s.O);
  const flops = 2 * s.H * s.H * s.O * s.f * s.f * s.C;
  for (const [tm, nv] of [[4, 1], [2, 1], [2, 2], [4, 2], [8, 1], [1, 2]] as const) {
    const p: Conv2DParams = {
      batch: 1, inH: s.H, inW: s.H, inC: s.C, outH: s.H, outW: s.H, outC: s.O, fh: s.f, fw: s.f, strideH: 1, strideW: 1,
      dilH: 1, dilW: 1, padTop: 1, padLeft: 1, activation: 'linear', leakyAlpha: 0.2, bias: false, biasLen: 1,
      nv, tm, variant: 'reg', tile: TILE_32,
    };
    const times: number[] = [];
    for (let i = 0; i <= reps; i++) {
      const batch = new CommandBatch(ctx, profiler.take());
      batch.dispatch(conv2dProgram, p, [x, w, y]);
      batch.submit();
      const ms = (await profiler.read())[0]!;
      if (i > 0) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const med = times[times.length >> 1]!;
    console.log(`${s.name} tm=${tm} nv=${nv}: median ${med.toFixed(2)} ms (min ${times[0]!.toFixed(2)}), ${(flops / med / 1e6).toFixed(2)} GFLOP/s`);
  }
}
device.destroy();
process.exit(0);
