// The layout pass: conv regions run NHWC with few transposes, weights are re-laid-out once, bias
// and activations are fused, and nothing leaks over many inferences.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../../src/runtime/backends.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { loadOnnxModel, OnnxType } from '../../src/runtime/onnx/model.js';
import { OnnxPlan } from '../../src/runtime/onnx/plan.js';
import { hostToTensor } from '../../src/runtime/tensor-convert.js';
import { buildModel, floats, ints, randomFloats, writeModel } from './build.js';
import { compareWithOrt, execute, loadExecutor, loadFixture, useBackend } from './helpers.js';

/** Builds the plan for `path` and counts the Transpose kernels one run executes. */
async function profileRun(path: string, inputs: HostTensor[]): Promise<{ plan: OnnxPlan; transposes: number }> {
  const plan = await OnnxPlan.build(await loadOnnxModel(path));
  const feeds = new Map(inputs.map((t) => [t.name, hostToTensor(tf, t)]));
  const info = await tf.profile(async () => tf.dispose([...(await plan.run(feeds)).values()]));
  return { plan, transposes: info.kernels.filter((k) => k.name === 'Transpose').length };
}

describe('ONNX layout pass', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  for (const name of ['resnet_tiny', 'mobilenetv3_tiny']) {
    it(`${name} runs NHWC with at most 2 layout transposes, weights re-laid-out at load`, async () => {
      const fx = loadFixture(name);
      const { plan, transposes } = await profileRun(fx.path, fx.cases[1]!.inputs);
      try {
        assert.ok(plan.stats.layoutTransposes <= 2, `plan has ${plan.stats.layoutTransposes} layout transposes`);
        // Counted at run time too: no op transposes per call (conv weights included).
        assert.ok(transposes <= 2, `${transposes} Transpose kernels ran`);
        assert.ok(plan.stats.fused >= 5, `only ${plan.stats.fused} fused nodes`);
      } finally {
        plan.dispose();
      }
    });
  }

  it('folds a preserved BatchNormalization into the preceding conv', async () => {
    const folded = await OnnxPlan.build(await loadOnnxModel(loadFixture('cnn_bn_folded').path));
    const preserved = await OnnxPlan.build(await loadOnnxModel(loadFixture('cnn_bn_preserved').path));
    assert.equal(preserved.stats.steps, folded.stats.steps);
    folded.dispose();
    preserved.dispose();
  });

  it('does not leak tensors over 1,000 inferences (cnn_bn_folded, cpu)', async () => {
    const fx = loadFixture('cnn_bn_folded');
    const { executor, config } = await loadExecutor(fx.path);
    try {
      const inputs = fx.cases[0]!.inputs;
      await execute(executor, config, inputs);
      const { numTensors, numBytes } = tf.memory();
      for (let i = 0; i < 1000; i++) await execute(executor, config, inputs);
      assert.equal(tf.memory().numTensors, numTensors);
      assert.equal(tf.memory().numBytes, numBytes);
    } finally {
      await executor.unload();
    }
  });
});

/**
 * Every layout-agnostic op the pass carries NHWC, a few that read NCHW, and NHWC values that are
 * also graph outputs.
 */
function layoutModel(): Uint8Array {
  const f = (name: string, dims: number[], seed: number) => floats(name, dims, Array.from(randomFloats(dims.reduce((a, b) => a * b, 1), seed)));
  const pos = (name: string, dims: number[], seed: number) => floats(name, dims, Array.from(randomFloats(dims.reduce((a, b) => a * b, 1), seed), (v) => Math.abs(v) + 0.5));
  return buildModel({
    opset: 14,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Add', inputs: ['c1', 'cb'], outputs: ['a1'] },
      { op: 'BatchNormalization', inputs: ['a1', 'bs', 'bb', 'bm', 'bv'], outputs: ['bn'] },
      { op: 'Clip', inputs: ['bn', 'zero', 'six'], outputs: ['r'] },
      { op: 'Pad', inputs: ['r', 'pads'], outputs: ['p'], attrs: { mode: { s: 'reflect' } } },
      { op: 'Resize', inputs: ['p', '', 'scales'], outputs: ['rs'], attrs: { mode: { s: 'nearest' } } },
      { op: 'MaxPool', inputs: ['rs'], outputs: ['mp'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
      { op: 'Concat', inputs: ['mp', 'cx'], outputs: ['cc'], attrs: { axis: { i: -3 } } },
      { op: 'Conv', inputs: ['cc', 'wd'], outputs: ['dw'], attrs: { group: { i: 6 }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 1, 0] } } },
      { op: 'HardSwish', inputs: ['dw'], outputs: ['hs'] },
      { op: 'GlobalAveragePool', inputs: ['hs'], outputs: ['gp'] },
      { op: 'Reshape', inputs: ['gp', 'flat_shape'], outputs: ['flat'] },
      { op: 'Gemm', inputs: ['flat', 'wf', 'bf'], outputs: ['g'], attrs: { transB: { i: 1 } } },
      { op: 'Relu', inputs: ['g'], outputs: ['logits'] },
      { op: 'Shape', inputs: ['dw'], outputs: ['sh'] },
      { op: 'Transpose', inputs: ['cc'], outputs: ['tr'], attrs: { perm: { ints: [0, 2, 3, 1] } } },
      { op: 'Conv', inputs: ['x', 'w1'], outputs: ['c2'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Clip', inputs: ['c2', 'zero', 'six'], outputs: ['r6'] },
    ],
    inputs: [{ name: 'x', dims: [2, 3, 8, 8] }],
    outputs: [
      { name: 'hs', dims: [2, 6, 5, 5] }, { name: 'logits', dims: [2, 5] }, { name: 'sh', type: OnnxType.INT64, dims: [4] },
      { name: 'tr', dims: [2, 9, 10, 6] }, { name: 'r6', dims: [2, 4, 8, 8] },
    ],
    initializers: [
      f('w1', [4, 3, 3, 3], 1), f('b1', [4], 2), f('cb', [4, 1, 1], 3),
      pos('bs', [4], 4), f('bb', [4], 5), f('bm', [4], 6), pos('bv', [4], 7),
      floats('zero', [], [0]), floats('six', [], [6]),
      ints('pads', [0, 0, 1, 0, 0, 0, 0, 2]), floats('scales', [4], [1, 1, 2, 2]),
      f('cx', [2, 2, 9, 10], 8), f('wd', [6, 1, 3, 3], 9), ints('flat_shape', [0, -1]),
      f('wf', [5, 6], 10), f('bf', [5], 11),
    ],
  });
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`ONNX layout pass vs onnxruntime on tfjs ${backend}`, () => {
    before(async () => { assert.equal(await useBackend(backend), true); });

    it('keeps NCHW semantics through every rewritten op', async () => {
      const path = writeModel(layoutModel());
      const feeds: HostTensor[] = [{ name: 'x', datatype: 'FP32', shape: [2, 3, 8, 8], data: randomFloats(384, 12) }];
      await compareWithOrt(path, feeds, 'layout model');
      if (backend === 'cpu') {
        const { plan } = await profileRun(path, feeds);
        // In: x (shared by both convs). Out: hs, tr, r6 (graph outputs / NCHW readers).
        assert.equal(plan.stats.layoutTransposes, 4);
        plan.dispose();
      }
    });
  });
}
