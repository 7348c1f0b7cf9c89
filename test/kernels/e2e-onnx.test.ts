// End to end (issue 5 item 5): PyTorch-exported ONNX models through the ONNX executor on webgpu,
// with our WGSL kernels on and then off (tfjs-backend-webgpu's own kernels), both against the
// outputs PyTorch recorded in the fixture. Self-contained (no onnxruntime-node) so it also runs
// on the lent GPU machine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setKernelOptions } from '../../src/kernels/options.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { type KernelTestEnv, setupWebGpu } from './helpers.js';
import { loadE2eFixture, loadOnnx, repoRoot, runOnnx } from './onnx-fixtures.js';

const numbers = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** The ONNX fixtures' tolerance (test/onnx/helpers.ts): |a − e| ≤ 1e-4 + 1e-4·|e|. */
function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= 1e-4 + 1e-4 * Math.abs(e))) assert.fail(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => { setKernelOptions({ enabled: true }); env.teardown(); });

// transformer_opset17: LayerNormalization ops, attention MatMuls + Softmax; resnet_tiny: convs
// with residual adds; mobilenetv3_tiny: depthwise convs, hardswish; transformer_small: a
// BERT-mini-sized encoder (d 128, FF 512, sequence 64) whose matmuls take the texture core.
for (const name of ['transformer_opset17', 'transformer_opset13', 'transformer_small', 'resnet_tiny', 'mobilenetv3_tiny']) {
  describe(`e2e ${name} on webgpu`, () => {
    for (const enabled of [true, false]) {
      it(`kernels ${enabled ? 'on' : 'off'} equal PyTorch`, async () => {
        setKernelOptions({ enabled });
        const fx = loadE2eFixture(repoRoot(), name);
        const { executor, config } = await loadOnnx(fx.path, 'webgpu');
        try {
          const before = env.dispatches();
          for (const [ci, c] of fx.cases.entries()) {
            const got = await runOnnx(executor, config, c.inputs);
            for (const want of c.outputs) {
              const out = got.find((o) => o.name === want.name);
              assert.ok(out, `output ${want.name}`);
              assert.deepEqual(out.shape, want.shape);
              assertClose(numbers(out), numbers(want), `${name} case ${ci} ${want.name} (kernels ${enabled ? 'on' : 'off'})`);
            }
          }
          if (enabled) assert.ok(env.dispatches() > before, 'our kernels were dispatched');
          else assert.equal(env.dispatches(), before, 'no WGSL kernel of ours ran with kernels off');
        } finally {
          await executor.unload();
          setKernelOptions({ enabled: true });
        }
      });
    }
  });
}
