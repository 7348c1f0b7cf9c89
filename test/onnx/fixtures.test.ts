// Every PyTorch-exported fixture, on each tfjs backend that starts here, against PyTorch's
// recorded outputs and onnxruntime-node's, at batch 1 and batch N; no tensor may leak.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../../src/runtime/backends.js';
import type { Executor } from '../../src/runtime/executor.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import { assertClose, execute, loadExecutor, loadFixture, numbers, runOrt, useBackend } from './helpers.js';

const FIXTURES = [
  'mlp', 'cnn_bn_folded', 'cnn_bn_preserved', 'cnn_static_batch', 'resnet_tiny', 'mobilenetv3_tiny',
  'transformer_opset13', 'transformer_opset17', 'transformer_small', 'lstm', 'gru', 'unet_block', 'misc_ops', 'control_if', 'control_loop',
];

const requireWebGpu = process.env.DAWNSERVE_REQUIRE_WEBGPU === '1';

for (const backend of ['cpu', 'wasm', 'webgpu'] as BackendName[]) {
  describe(`ONNX fixtures on tfjs ${backend}`, () => {
    let skip: string | undefined;
    before(async () => {
      const ok = await useBackend(backend);
      if (ok !== true) {
        if (backend === 'webgpu' && requireWebGpu) throw new Error(ok);
        skip = ok;
      }
    });

    for (const name of FIXTURES) {
      it(name, async (t) => {
        if (skip) { t.skip(skip); return; }
        const fx = loadFixture(name);
        let loaded: { executor: Executor; config: ModelConfig } | undefined;
        try {
          loaded = await loadExecutor(fx.path);
          const { executor, config } = loaded;
          for (const [ci, c] of fx.cases.entries()) {
            const got = await execute(executor, config, c.inputs);
            const ort = await runOrt(fx.path, c.inputs);
            assert.equal(got.length, c.outputs.length);
            for (const [i, want] of c.outputs.entries()) {
              const out = got[i]!;
              const what = `${name} case ${ci} output '${want.name}' on ${backend}`;
              assert.equal(out.name, want.name);
              assert.deepEqual(out.shape, want.shape, `${what}: shape`);
              assertClose(numbers(out), numbers(want), `${what} vs PyTorch`);
              assertClose(numbers(out), ort.get(want.name)!.values, `${what} vs onnxruntime`);
            }
          }
          // Repeated inference must not grow the number of live tensors.
          const before = tf.memory().numTensors;
          for (let k = 0; k < 2; k++) await execute(executor, config, fx.cases[fx.cases.length - 1]!.inputs);
          assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked across executions`);
        } finally {
          const count = tf.memory().numTensors;
          await loaded?.executor.unload();
          if (loaded) assert.ok(tf.memory().numTensors < count || count === 0, `${name}: unload freed nothing`);
        }
      });
    }
  });
}
