// Parser, initializer decoding, auto-complete and load-time failures.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadOnnxModel, parseOnnxModel, OnnxType } from '../../src/runtime/onnx/model.js';
import { onnxExecutorFactory, DEFAULT_MAX_BATCH_SIZE } from '../../src/runtime/onnx/executor.js';
import { floatToHalf } from '../../src/runtime/tensor-convert.js';
import { buildModel, floats, writeModel } from './build.js';
import { execute, loadExecutor, numbers, useBackend } from './helpers.js';

const addModel = (w: Parameters<typeof buildModel>[0]['initializers'], opset = 13, ir = 8) => buildModel({
  opset, ir,
  nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
  inputs: [{ name: 'x', dims: ['batch', 3] }],
  outputs: [{ name: 'y', dims: ['batch', 3] }],
  initializers: w,
});

describe('ONNX model parsing', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  it('reads inputs, outputs, symbolic dims and opset', () => {
    const m = parseOnnxModel(addModel([floats('w', [3], [1, 2, 3])], 17, 9), '/tmp');
    assert.equal(m.opset, 17);
    assert.equal(m.irVersion, 9);
    assert.deepEqual(m.graph.inputs, [{ name: 'x', elemType: OnnxType.FLOAT, dims: ['batch', 3] }]);
    assert.deepEqual(m.graph.outputs[0]!.dims, ['batch', 3]);
    assert.deepEqual(Array.from(m.graph.initializers.get('w')!.data), [1, 2, 3]);
  });

  it('drops initializers listed among graph inputs (IR < 4 style)', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
      inputs: [{ name: 'x', dims: [3] }, { name: 'w', dims: [3] }],
      outputs: [{ name: 'y', dims: [3] }],
      initializers: [floats('w', [3], [1, 2, 3])],
    });
    assert.deepEqual(parseOnnxModel(bytes, '/tmp').graph.inputs.map((v) => v.name), ['x']);
  });

  it('decodes fp16 raw data to float32', () => {
    const values = [0.5, -2, 1024, 0.0999755859375];
    const raw = new Uint8Array(new Uint16Array(values.map(floatToHalf)).buffer);
    const m = parseOnnxModel(addModel([{ name: 'w', dataType: OnnxType.FLOAT16, dims: [4], rawData: raw }]), '/tmp');
    const w = m.graph.initializers.get('w')!;
    assert.equal(w.dtype, 'float32');
    assert.deepEqual(Array.from(w.data), values);
  });

  it('narrows int64 to int32, saturating only the INT64 max/min sentinels', () => {
    const m = parseOnnxModel(addModel([
      { name: 'w', dataType: OnnxType.INT64, dims: [3], int64Data: [-5, '9223372036854775807', '-9223372036854775808'] },
    ]), '/tmp');
    const w = m.graph.initializers.get('w')!;
    assert.equal(w.dtype, 'int32');
    assert.deepEqual(Array.from(w.data), [-5, 2147483647, -2147483648]);
  });

  it('fails with the initializer name when an int64 value does not fit in int32', () => {
    const raw = new Uint8Array(new BigInt64Array([1n, 1n << 40n]).buffer);
    assert.throws(
      () => parseOnnxModel(addModel([{ name: 'big_ids', dataType: OnnxType.INT64, dims: [2], rawData: raw }]), '/tmp'),
      /initializer 'big_ids'.*1099511627776 does not fit in int32/,
    );
  });

  it('reads external data relative to the model file', async () => {
    const weights = new Uint8Array(new Float32Array([9, 9, 10, 20, 30]).buffer);
    const path = writeModel(addModel([{
      name: 'w', dataType: OnnxType.FLOAT, dims: [3], dataLocation: 1,
      externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '8' }, { key: 'length', value: '12' }],
    }]), { 'weights.bin': weights });
    const m = await loadOnnxModel(path);
    assert.deepEqual(Array.from(m.graph.initializers.get('w')!.data), [10, 20, 30]);
    const { executor, config } = await loadExecutor(path);
    const [y] = await execute(executor, config, [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: new Float32Array([1, 2, 3]) }]);
    assert.deepEqual(numbers(y!), [11, 22, 33]);
    await executor.unload();
  });

  it('refuses external data outside the model folder', () => {
    const bytes = addModel([{
      name: 'w', dataType: OnnxType.FLOAT, dims: [3], dataLocation: 1, externalData: [{ key: 'location', value: '../secret.bin' }],
    }]);
    assert.throws(() => parseOnnxModel(bytes, '/tmp'), /must stay inside the model folder/);
  });

  it('rejects bytes that are not an ONNX model', () => {
    assert.throws(() => parseOnnxModel(new Uint8Array([0xff, 0xff, 0xff, 0x01]), '/tmp'), /not a valid ONNX model/);
  });
});

describe('ONNX config auto-complete', () => {
  it('makes a shared symbolic first dim the batch dimension', async () => {
    const path = writeModel(addModel([floats('w', [3], [1, 2, 3])]));
    const d = await onnxExecutorFactory.deriveConfig(dirname(path), 'model.onnx');
    assert.equal(d.platform, 'onnxruntime_onnx');
    assert.equal(d.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
    assert.deepEqual(d.input?.map((i) => [i.name, i.data_type, i.dims]), [['x', 'TYPE_FP32', [3]]]);
    assert.deepEqual(d.output?.map((o) => [o.name, o.data_type, o.dims]), [['y', 'TYPE_FP32', [3]]]);
  });

  it('keeps full dims (symbolic → -1) and max_batch_size 0 when the batch is not shared', async () => {
    const path = writeModel(buildModel({
      nodes: [{ op: 'Cast', inputs: ['ids'], outputs: ['y'], attrs: { to: { i: OnnxType.FLOAT } } }],
      inputs: [{ name: 'ids', type: OnnxType.INT64, dims: [2, 'seq'] }],
      outputs: [{ name: 'y', dims: [2, 'seq'] }],
    }));
    const d = await onnxExecutorFactory.deriveConfig(dirname(path), 'model.onnx');
    assert.equal(d.max_batch_size, 0);
    assert.deepEqual(d.input?.map((i) => [i.data_type, i.dims]), [['TYPE_INT64', [2, -1]]]);
  });
});

describe('ONNX load failures', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  it('names an unsupported operator and its node at load time', async () => {
    const path = writeModel(buildModel({
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['h'] },
        { op: 'FancyOp', inputs: ['h'], outputs: ['y'], name: 'bar' },
      ],
      inputs: [{ name: 'x', dims: [2] }],
      outputs: [{ name: 'y', dims: [2] }],
    }));
    const count = tf.memory().numTensors;
    await assert.rejects(loadExecutor(path), (e: Error) => {
      assert.equal(e.message, "unsupported ONNX operator 'FancyOp' (node 'bar')");
      return true;
    });
    assert.equal(tf.memory().numTensors, count);
  });

  it('names operators from other domains with their domain', async () => {
    const path = writeModel(buildModel({
      nodes: [{ op: 'FusedConv', domain: 'com.microsoft', inputs: ['x'], outputs: ['y'], name: 'fc' }],
      inputs: [{ name: 'x', dims: [2] }],
      outputs: [{ name: 'y', dims: [2] }],
    }));
    await assert.rejects(loadExecutor(path), /unsupported ONNX operator 'com.microsoft.FusedConv' \(node 'fc'\)/);
  });

  it('reports a node input that nothing provides', async () => {
    const path = writeModel(buildModel({
      nodes: [{ op: 'Add', inputs: ['x', 'nowhere'], outputs: ['y'], name: 'add' }],
      inputs: [{ name: 'x', dims: [2] }],
      outputs: [{ name: 'y', dims: [2] }],
    }));
    await assert.rejects(loadExecutor(path), /node 'add' \(Add\) reads 'nowhere'/);
  });
});
