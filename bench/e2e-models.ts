// End-to-end model latency on webgpu with dawnserve's WGSL kernels on and off (issue 5 item 5):
// PyTorch-exported ONNX fixtures through the ONNX executor, wall time per inference including
// upload and readback, median of N after warm-up. Kernels on/off alternate per round so machine
// load hits both alike.
// Run: node dist/bench/e2e-models.js [--json FILE] [--reps N] [models...]
import { writeFileSync } from 'node:fs';
import { contextForBackend, installWebGpuGlobals } from '../src/kernels/device.js';
import { setKernelOptions } from '../src/kernels/options.js';
import { registerDawnKernels } from '../src/kernels/register.js';
import type { WebGPUBackend } from '../src/kernels/tfjs/bridge.js';
import { loadE2eFixture, loadOnnx, repoRoot, runOnnx } from '../test/kernels/onnx-fixtures.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const json = opt('--json');
const reps = Number(opt('--reps') ?? 15);
const models = args.length ? args : ['transformer_small', 'transformer_opset17', 'transformer_opset13', 'resnet_tiny', 'mobilenetv3_tiny'];

process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
const adapter = await installWebGpuGlobals();
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu backend did not initialise');
await registerDawnKernels();
const ctx = contextForBackend(tf.backend() as WebGPUBackend);

interface Row { model: string; kernels: 'on' | 'off'; median_ms: number; p10_ms: number; p90_ms: number; dispatches_per_run: number; adapter: { vendor: string; architecture: string } }
const rows: Row[] = [];
const pct = (s: number[], p: number): number => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))]!;
for (const name of models) {
  const fx = loadE2eFixture(repoRoot(), name);
  const { executor, config } = await loadOnnx(fx.path, 'webgpu');
  const inputs = fx.cases[0]!.inputs;
  const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const disp: Record<'on' | 'off', number> = { on: 0, off: 0 };
  for (let i = 0; i < 3 + reps; i++) {
    for (const k of ['on', 'off'] as const) {
      setKernelOptions({ enabled: k === 'on' });
      const d0 = ctx.dispatches;
      const t0 = performance.now();
      await runOnnx(executor, config, inputs);
      const dt = performance.now() - t0;
      if (i >= 3) { times[k].push(dt); disp[k] = ctx.dispatches - d0; }
    }
  }
  setKernelOptions({ enabled: true });
  await executor.unload();
  for (const k of ['on', 'off'] as const) {
    const s = times[k].sort((a, b) => a - b);
    rows.push({ model: name, kernels: k, median_ms: pct(s, 0.5), p10_ms: pct(s, 0.1), p90_ms: pct(s, 0.9), dispatches_per_run: disp[k],
      adapter: { vendor: ctx.adapter.vendor, architecture: ctx.adapter.architecture } });
  }
}
console.log(`adapter: ${adapter.vendor} / ${ctx.adapter.architecture} (software: ${ctx.adapter.software})`);
console.log('| model | kernels on ms | kernels off ms | speed-up | our dispatches/run |');
console.log('|---|---|---|---|---|');
for (const name of models) {
  const on = rows.find((r) => r.model === name && r.kernels === 'on')!;
  const off = rows.find((r) => r.model === name && r.kernels === 'off')!;
  console.log(`| ${name} | ${on.median_ms.toFixed(2)} (${on.p10_ms.toFixed(2)}–${on.p90_ms.toFixed(2)}) | ${off.median_ms.toFixed(2)} (${off.p10_ms.toFixed(2)}–${off.p90_ms.toFixed(2)}) | ${(off.median_ms / on.median_ms).toFixed(2)}× | ${on.dispatches_per_run} |`);
}
if (json) writeFileSync(json, `${JSON.stringify(rows, null, 2)}\n`);
process.exit(0);
