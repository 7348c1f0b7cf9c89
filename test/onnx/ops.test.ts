// Single-op graphs built in TypeScript, checked against onnxruntime-node: the attribute and
// mode combinations that PyTorch's exports in the fixtures do not reach.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../../src/runtime/backends.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { OnnxType } from '../../src/runtime/onnx/model.js';
import { einsumFallback } from '../../src/runtime/onnx/ops/einsum.js';
import type { AttrSpec, IoSpec, TensorSpec } from './build.js';
import { buildModel, floats, ints, randomFloats, writeModel } from './build.js';
import { assertClose, compareWithOrt, execute, loadExecutor, numbers, runOrt, useBackend } from './helpers.js';

interface OpCase {
  name: string;
  op: string;
  attrs?: Record<string, AttrSpec>;
  /** Shapes of the float inputs fed at run time, in order. */
  inputs: number[][];
  /** Extra constant inputs after the fed ones ('' for an omitted optional input). */
  consts?: (TensorSpec | '')[];
  outputs?: number;
  /** ONNX element types of the outputs (default FLOAT). */
  outTypes?: number[];
  opset?: number;
}

const c = (name: string, op: string, inputs: number[][], rest: Omit<OpCase, 'name' | 'op' | 'inputs'> = {}): OpCase => ({ name, op, inputs, ...rest });
const lens = (name: string, values: number[]): TensorSpec => ({ name, dataType: OnnxType.INT32, dims: [values.length], int32Data: values });
const f = (name: string, dims: number[]) => floats(name, dims, Array.from(randomFloats(dims.reduce((a, b) => a * b, 1), 7)));

const CASES: OpCase[] = [
  c('Conv SAME_UPPER stride 2', 'Conv', [[1, 3, 7, 6]], { consts: [f('w', [4, 3, 3, 3]), f('b', [4])], attrs: { auto_pad: { s: 'SAME_UPPER' }, strides: { ints: [2, 2] } } }),
  c('Conv SAME_LOWER even kernel', 'Conv', [[1, 2, 5, 5]], { consts: [f('w', [3, 2, 2, 2])], attrs: { auto_pad: { s: 'SAME_LOWER' } } }),
  c('Conv groups 2, dilation 2, asymmetric pads', 'Conv', [[2, 4, 9, 8]], { consts: [f('w', [6, 2, 3, 3])], attrs: { group: { i: 2 }, dilations: { ints: [2, 2] }, pads: { ints: [1, 0, 2, 1] } } }),
  c('Conv depthwise multiplier 2', 'Conv', [[1, 3, 6, 6]], { consts: [f('w', [6, 1, 3, 3])], attrs: { group: { i: 3 }, pads: { ints: [1, 1, 1, 1] } } }),
  c('Conv 1-D', 'Conv', [[2, 3, 10]], { consts: [f('w', [4, 3, 3]), f('b', [4])], attrs: { strides: { ints: [2] }, pads: { ints: [1, 1] } } }),
  c('ConvTranspose pads + output_padding', 'ConvTranspose', [[1, 4, 5, 5]], { consts: [f('w', [4, 3, 3, 3]), f('b', [3])], attrs: { strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, output_padding: { ints: [1, 1] } } }),
  c('ConvTranspose groups 2', 'ConvTranspose', [[1, 4, 3, 4]], { consts: [f('w', [4, 2, 2, 3])], attrs: { group: { i: 2 }, strides: { ints: [2, 1] } } }),
  c('MaxPool ceil_mode with pads', 'MaxPool', [[1, 2, 7, 7]], { attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, ceil_mode: { i: 1 } } }),
  c('MaxPool dilated', 'MaxPool', [[1, 2, 8, 8]], { attrs: { kernel_shape: { ints: [2, 2] }, dilations: { ints: [2, 2] } } }),
  c('AveragePool pads exclude', 'AveragePool', [[1, 2, 6, 6]], { attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } }),
  c('AveragePool pads include', 'AveragePool', [[1, 2, 6, 6]], { attrs: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, count_include_pad: { i: 1 } } }),
  c('AveragePool ceil_mode', 'AveragePool', [[1, 1, 7, 7]], { attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, ceil_mode: { i: 1 } } }),
  c('Resize nearest half_pixel sizes', 'Resize', [[1, 2, 3, 5]], { consts: ['', '', ints('sizes', [1, 2, 7, 4])], attrs: { mode: { s: 'nearest' } } }),
  c('Resize nearest asymmetric floor scales', 'Resize', [[1, 1, 4, 4]], { consts: ['', floats('scales', [4], [1, 1, 2, 3])], attrs: { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } } }),
  c('Resize linear half_pixel', 'Resize', [[1, 2, 4, 3]], { consts: ['', floats('scales', [4], [1, 1, 2, 2.5])], attrs: { mode: { s: 'linear' } } }),
  c('Resize linear align_corners sizes', 'Resize', [[1, 1, 3, 4]], { consts: ['', '', ints('sizes', [1, 1, 5, 7])], attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'align_corners' } } }),
  c('Resize linear pytorch_half_pixel downscale', 'Resize', [[1, 1, 6, 6]], { consts: ['', floats('scales', [4], [1, 1, 0.5, 0.5])], attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'pytorch_half_pixel' } } }),
  c('Pad reflect', 'Pad', [[1, 2, 4, 5]], { consts: [ints('pads', [0, 0, 2, 1, 0, 0, 1, 3])], attrs: { mode: { s: 'reflect' } } }),
  c('Pad edge', 'Pad', [[2, 3, 4]], { consts: [ints('pads', [0, 2, 1, 0, 1, 2])], attrs: { mode: { s: 'edge' } } }),
  c('Pad constant value with crop', 'Pad', [[3, 4]], { consts: [ints('pads', [1, -1, 0, 2]), floats('v', [], [1.5])] }),
  c('Slice negative step', 'Slice', [[4, 6]], { consts: [ints('s', [-1, 5]), ints('e', [-5, 0]), ints('a', [0, 1]), ints('st', [-1, -2])] }),
  c('Softmax axis 1 (opset 13)', 'Softmax', [[2, 3, 4]], { attrs: { axis: { i: 1 } } }),
  c('Softmax coerced 2-D (opset 11)', 'Softmax', [[2, 3, 4]], { attrs: { axis: { i: 1 } }, opset: 11 }),
  c('LogSoftmax axis 0', 'LogSoftmax', [[3, 5]], { attrs: { axis: { i: 0 } } }),
  c('LayerNormalization axis -2', 'LayerNormalization', [[2, 3, 4]], { consts: [f('g', [3, 4]), f('b', [3, 4])], attrs: { axis: { i: -2 } }, opset: 17 }),
  c('Gemm transA transB alpha beta', 'Gemm', [[4, 3], [5, 4]], { consts: [f('c', [5])], attrs: { transA: { i: 1 }, transB: { i: 1 }, alpha: { f: 0.5 }, beta: { f: 2 } } }),
  c('MatMul broadcast batch', 'MatMul', [[2, 1, 3, 4], [3, 4, 5]]),
  c('MatMul vector', 'MatMul', [[4], [2, 4, 3]]),
  c('Split opset 18 num_outputs', 'Split', [[2, 7]], { attrs: { axis: { i: 1 }, num_outputs: { i: 3 } }, outputs: 3, opset: 18 }),
  c('ReduceMean opset 18 axes input', 'ReduceMean', [[2, 3, 4]], { consts: [ints('axes', [0, -1])], attrs: { keepdims: { i: 0 } }, opset: 18 }),
  c('ReduceLogSumExp', 'ReduceLogSumExp', [[2, 3, 4]], { attrs: { axes: { ints: [1] } } }),
  c('Gather negative indices', 'Gather', [[5, 3]], { consts: [ints('i', [-1, 0, -2])], attrs: { axis: { i: 0 } } }),
  c('Unsqueeze negative axes', 'Unsqueeze', [[2, 3]], { consts: [ints('axes', [-1, 0])] }),
  c('Expand bidirectional', 'Expand', [[3, 1]], { consts: [ints('shape', [2, 1, 4])] }),
  c('Tile', 'Tile', [[2, 3]], { consts: [ints('r', [2, 2])] }),
  c('Clip min only', 'Clip', [[3, 4]], { consts: [floats('lo', [], [-0.5])] }),
  c('HardSigmoid', 'HardSigmoid', [[3, 4]], { attrs: { alpha: { f: 0.3 }, beta: { f: 0.4 } } }),
  c('Einsum batched matmul', 'Einsum', [[2, 3, 4], [2, 4, 5]], { attrs: { equation: { s: 'bij,bjk->bik' } } }),
  c('Einsum transpose-reduce', 'Einsum', [[3, 4, 5]], { attrs: { equation: { s: 'ijk->kj' } } }),
  c('Einsum sum inside one operand', 'Einsum', [[2, 3, 4], [4, 5]], { attrs: { equation: { s: 'bij,jk->k' } } }),
  c('InstanceNormalization', 'InstanceNormalization', [[2, 3, 4, 4]], { consts: [f('s', [3]), f('b', [3])] }),
  c('LSTM reverse with peepholes', 'LSTM', [[4, 2, 3]], { consts: [f('W', [1, 20, 3]), f('R', [1, 20, 5]), f('B', [1, 40]), '', '', '', f('P', [1, 15])], attrs: { hidden_size: { i: 5 }, direction: { s: 'reverse' } }, outputs: 3 }),
  c('Resize cubic half_pixel', 'Resize', [[1, 2, 4, 5]], { consts: ['', floats('scales', [4], [1, 1, 2, 1.6])], attrs: { mode: { s: 'cubic' } } }),
  c('Resize cubic align_corners exclude_outside a=-0.5', 'Resize', [[1, 1, 5, 4]], { consts: ['', '', ints('sizes', [1, 1, 3, 7])], attrs: { mode: { s: 'cubic' }, coordinate_transformation_mode: { s: 'align_corners' }, exclude_outside: { i: 1 }, cubic_coeff_a: { f: -0.5 } } }),
  c('Resize cubic asymmetric downscale', 'Resize', [[1, 1, 8, 8]], { consts: ['', floats('scales', [4], [1, 1, 0.5, 0.75])], attrs: { mode: { s: 'cubic' }, coordinate_transformation_mode: { s: 'asymmetric' } } }),
  c('Resize opset 18 axes', 'Resize', [[1, 2, 3, 4]], { consts: ['', floats('scales', [2], [2, 1.5])], attrs: { mode: { s: 'linear' }, axes: { ints: [2, -1] } }, opset: 18 }),
  c('MaxPool Indices with pads and strides', 'MaxPool', [[2, 3, 7, 6]], { attrs: { kernel_shape: { ints: [3, 2] }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 1, 1] } }, outputs: 2, outTypes: [OnnxType.FLOAT, OnnxType.INT64] }),
  c('MaxPool Indices storage_order 1, ceil_mode', 'MaxPool', [[1, 2, 5, 5]], { attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, ceil_mode: { i: 1 }, storage_order: { i: 1 } }, outputs: 2, outTypes: [OnnxType.FLOAT, OnnxType.INT64] }),
  c('MaxPool Indices 1-D dilated', 'MaxPool', [[2, 2, 9]], { attrs: { kernel_shape: { ints: [3] }, dilations: { ints: [2] } }, outputs: 2, outTypes: [OnnxType.FLOAT, OnnxType.INT64] }),
  c('LSTM bidirectional sequence_lens', 'LSTM', [[4, 3, 3]], { consts: [f('W', [2, 20, 3]), f('R', [2, 20, 5]), f('B', [2, 40]), lens('sl', [4, 2, 1])], attrs: { hidden_size: { i: 5 }, direction: { s: 'bidirectional' } }, outputs: 3 }),
  c('GRU sequence_lens, linear_before_reset', 'GRU', [[3, 2, 4]], { consts: [f('W', [1, 18, 4]), f('R', [1, 18, 6]), f('B', [1, 36]), lens('sl', [2, 3])], attrs: { hidden_size: { i: 6 }, linear_before_reset: { i: 1 } }, outputs: 2 }),
  c('GRU bidirectional', 'GRU', [[3, 2, 4]], { consts: [f('W', [2, 18, 4]), f('R', [2, 18, 6]), f('B', [2, 36])], attrs: { hidden_size: { i: 6 }, direction: { s: 'bidirectional' } }, outputs: 2 }),
];

function caseModel(k: OpCase): { path: string; feeds: HostTensor[] } {
  const fed = k.inputs.map((_, i) => `in${i}`);
  const constNames = (k.consts ?? []).map((t) => (t === '' ? '' : t.name!));
  const outputs = Array.from({ length: k.outputs ?? 1 }, (_, i) => `out${i}`);
  const io = (name: string, dims: number[]): IoSpec => ({ name, dims });
  const bytes = buildModel({
    opset: k.opset ?? 13,
    nodes: [{ op: k.op, inputs: [...fed, ...constNames], outputs, attrs: k.attrs ?? {} }],
    inputs: k.inputs.map((s, i) => io(fed[i]!, s)),
    outputs: outputs.map((o, i) => ({ name: o, type: k.outTypes?.[i] ?? OnnxType.FLOAT })),
    initializers: (k.consts ?? []).filter((t): t is TensorSpec => t !== ''),
  });
  const feeds = k.inputs.map((shape, i): HostTensor => ({
    name: fed[i]!, datatype: 'FP32', shape, data: randomFloats(shape.reduce((a, b) => a * b, 1), i + 3),
  }));
  return { path: writeModel(bytes), feeds };
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`ONNX ops vs onnxruntime on tfjs ${backend}`, () => {
    before(async () => { assert.equal(await useBackend(backend), true); });

    for (const k of CASES) {
      it(k.name, async () => {
        const { path, feeds } = caseModel(k);
        await compareWithOrt(path, feeds, k.name);
      });
    }
  });
}

describe('Einsum fallback (backends without an Einsum kernel)', () => {
  it('matches matmul-based references', async () => {
    assert.equal(await useBackend('cpu'), true);
    const a = tf.tensor(randomFloats(24, 2), [2, 3, 4]);
    const b = tf.tensor(randomFloats(20, 3), [4, 5]);
    const mm = tf.reshape(tf.matMul(tf.reshape(a, [6, 4]), b), [2, 3, 5]);
    const refs: [string, tf.Tensor][] = [
      ['bij,jk->bik', mm], ['bij,jk->bki', tf.transpose(mm, [0, 2, 1])], ['bij,jk->k', tf.sum(mm, [0, 1])], ['bij->j', tf.sum(a, [0, 1])],
    ];
    for (const [eq, ref] of refs) {
      const got = einsumFallback(eq, eq.includes(',') ? [a, b] : [a]);
      assert.deepEqual(got.shape, ref.shape, eq);
      assertClose(await got.data() as Float32Array, await ref.data() as Float32Array, eq);
    }
    tf.dispose([a, b]);
  });
});

describe('Cast and integer outputs', () => {
  it('returns INT64 outputs as the config datatype, values intact', async () => {
    assert.equal(await useBackend('cpu'), true);
    const path = writeModel(buildModel({
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['i'], attrs: { to: { i: OnnxType.INT64 } } },
        { op: 'ArgMax', inputs: ['x'], outputs: ['am'], attrs: { axis: { i: 1 }, keepdims: { i: 0 } } },
      ],
      inputs: [{ name: 'x', dims: ['batch', 3] }],
      outputs: [{ name: 'i', type: OnnxType.INT64, dims: ['batch', 3] }, { name: 'am', type: OnnxType.INT64, dims: ['batch'] }],
    }));
    const { executor, config } = await loadExecutor(path);
    const [i, am] = await execute(executor, config, [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: new Float32Array([1.7, -2.5, 3, 0, 9.9, -1]) }]);
    assert.equal(i!.datatype, 'INT64');
    assert.deepEqual(Array.from(i!.data as BigInt64Array), [1n, -2n, 3n, 0n, 9n, -1n]);
    assert.deepEqual(Array.from(am!.data as BigInt64Array), [2n, 1n]);
    await executor.unload();
  });
});

describe('LSTM layout 1 (batch-first)', () => {
  // onnxruntime refuses layout = 1, so the reference is its layout-0 answer for transposed data.
  it('equals the layout-0 result with batch and sequence swapped', async () => {
    assert.equal(await useBackend('cpu'), true);
    const [batch, seq, feat, hidden] = [2, 4, 3, 5];
    const weights = [f('W', [2, 4 * hidden, feat]), f('R', [2, 4 * hidden, hidden]), f('B', [2, 8 * hidden])];
    const model = (layout: number) => writeModel(buildModel({
      opset: 14,
      nodes: [{ op: 'LSTM', inputs: ['x', 'W', 'R', 'B', '', 'h0', 'c0'], outputs: ['y', 'yh', 'yc'], attrs: { hidden_size: { i: hidden }, direction: { s: 'bidirectional' }, layout: { i: layout } } }],
      inputs: [{ name: 'x' }, { name: 'h0' }, { name: 'c0' }],
      outputs: ['y', 'yh', 'yc'].map((name) => ({ name })),
      initializers: weights,
    }));
    const t = (data: Float32Array, shape: number[], perm: number[]) => tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm).dataSync() as Float32Array);
    const x = randomFloats(batch * seq * feat, 21);
    const h0 = randomFloats(batch * 2 * hidden, 22);
    const c0 = randomFloats(batch * 2 * hidden, 23);
    const feeds1: HostTensor[] = [
      { name: 'x', datatype: 'FP32', shape: [batch, seq, feat], data: x },
      { name: 'h0', datatype: 'FP32', shape: [batch, 2, hidden], data: h0 },
      { name: 'c0', datatype: 'FP32', shape: [batch, 2, hidden], data: c0 },
    ];
    const ort = await runOrt(model(0), [
      { name: 'x', datatype: 'FP32', shape: [seq, batch, feat], data: t(x, [batch, seq, feat], [1, 0, 2]) },
      { name: 'h0', datatype: 'FP32', shape: [2, batch, hidden], data: t(h0, [batch, 2, hidden], [1, 0, 2]) },
      { name: 'c0', datatype: 'FP32', shape: [2, batch, hidden], data: t(c0, [batch, 2, hidden], [1, 0, 2]) },
    ]);
    const { executor, config } = await loadExecutor(model(1));
    try {
      const [y, yh, yc] = await execute(executor, config, feeds1);
      assert.deepEqual(y!.shape, [batch, seq, 2, hidden]);
      const want = ort.get('y')!;
      assertClose(numbers(y!), t(Float32Array.from(want.values), want.dims, [2, 0, 1, 3]), 'Y');
      for (const [got, name] of [[yh!, 'yh'], [yc!, 'yc']] as const) {
        const w = ort.get(name)!;
        assert.deepEqual(got.shape, [batch, 2, hidden]);
        assertClose(numbers(got), t(Float32Array.from(w.values), w.dims, [1, 0, 2]), name);
      }
    } finally {
      await executor.unload();
    }
  });
});
