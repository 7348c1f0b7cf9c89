import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { tfjsExecutorFactory, DEFAULT_MAX_BATCH_SIZE } from '../../src/runtime/executors/tfjs.js';
import { fileSystemLoadHandler } from '../../src/runtime/executors/tfjs-io.js';
import { withBackend, tensorsAlive, type BackendName } from '../../src/runtime/backends.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import type { Executor } from '../../src/runtime/executor.js';
import { host, inputsMap, makeContext, modelsDir } from './helpers.js';

process.env['XDG_RUNTIME_DIR'] ??= '/tmp';

const BATCH = 5;
// Deterministic features in [-1, 1].
const features = Float32Array.from({ length: BATCH * 4 }, (_, i) => Math.sin(i * 1.7) * 0.9);

function configFor(name: string, derived: Awaited<ReturnType<typeof tfjsExecutorFactory.deriveConfig>>, maxBatch = 8): ModelConfig {
  return {
    name, platform: 'tensorflowjs', backend: '', version_policy: { latest: { num_versions: 1 } }, max_batch_size: maxBatch,
    input: derived.input!, output: derived.output!, instance_group: [{ name, kind: 'KIND_CPU', count: 1, gpus: [] }],
    default_model_filename: 'model.json', parameters: {},
  };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    assert.ok(d <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (|Δ| ${d} > ${tol})`);
  }
}

/** The model's own predict on the cpu backend. */
async function referenceOnCpu(kind: 'graph' | 'layers', file: string): Promise<Float32Array[]> {
  return withBackend('cpu', async (tf) => {
    const x = tf.tensor2d(features, [BATCH, 4]);
    let outs: import('@tensorflow/tfjs-core').Tensor[];
    let dispose: () => void;
    if (kind === 'graph') {
      const m = await loadGraphModel(fileSystemLoadHandler(file));
      outs = m.execute({ x }, ['logits', 'probabilities']) as import('@tensorflow/tfjs-core').Tensor[];
      dispose = () => m.dispose();
    } else {
      const m = await loadLayersModel(fileSystemLoadHandler(file));
      outs = [m.predict(x) as import('@tensorflow/tfjs-core').Tensor];
      dispose = () => m.dispose();
    }
    const data = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose([x, ...outs]);
    dispose();
    return data;
  });
}

/** tfjs-backend-webgpu runs ops on small CPU-resident inputs on the CPU; make it use the GPU. */
async function gpuOnly(backend: BackendName): Promise<void> {
  if (backend === 'webgpu') await withBackend('webgpu', (tf) => tf.env().set('WEBGPU_CPU_FORWARD', false));
}

const executors: Executor[] = [];
after(async () => {
  for (const e of executors) await e.unload();
});

const graphDir = path.join(modelsDir(), 'tfjs_graph_mlp');
const layersDir = path.join(modelsDir(), 'tfjs_mlp');

test('graph model: config is auto-completed from the signature', async () => {
  const d = await tfjsExecutorFactory.deriveConfig(path.join(graphDir, '1'), 'model.json');
  assert.equal(d.platform, 'tensorflowjs');
  assert.equal(d.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
  assert.deepEqual(d.input!.map((i) => [i.name, i.data_type, i.dims]), [['x', 'TYPE_FP32', [4]]]);
  assert.deepEqual(d.output!.map((o) => [o.name, o.data_type, o.dims]), [['logits', 'TYPE_FP32', [3]], ['probabilities', 'TYPE_FP32', [3]]]);
});

test('layers model: config is auto-completed from the model inputs/outputs', async () => {
  const before = tensorsAlive();
  const d = await tfjsExecutorFactory.deriveConfig(path.join(layersDir, '1'), 'model.json');
  assert.equal(d.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
  assert.deepEqual(d.input!.map((i) => [i.name, i.data_type, i.dims]), [['features', 'TYPE_FP32', [4]]]);
  assert.deepEqual(d.output!.map((o) => [o.name, o.data_type, o.dims]), [['probabilities', 'TYPE_FP32', [3]]]);
  assert.equal(tensorsAlive(), before, 'deriveConfig disposes the model it built');
});

test('graph model matches a float64 evaluation of its own weights', async () => {
  // Independent of tfjs: read the shard and compute relu(x·w1+b1)·w2+b2.
  const json = JSON.parse(await readFile(path.join(graphDir, '1', 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  const buf = await readFile(path.join(graphDir, '1', 'group1-shard1of1.bin'));
  const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const w: Record<string, Float32Array> = {};
  let off = 0;
  for (const s of json.weightsManifest[0]!.weights) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    w[s.name] = f.subarray(off, off + n);
    off += n;
  }
  const logits: number[] = [];
  for (let r = 0; r < BATCH; r++) {
    const h = Array.from({ length: 16 }, (_, j) => Math.max(0, w['b1']![j]! + [0, 1, 2, 3].reduce((s, k) => s + features[r * 4 + k]! * w['w1']![k * 16 + j]!, 0)));
    for (let c = 0; c < 3; c++) logits.push(w['b2']![c]! + h.reduce((s, v, j) => s + v * w['w2']![j * 3 + c]!, 0));
  }
  const [refLogits] = await referenceOnCpu('graph', path.join(graphDir, '1', 'model.json'));
  assertClose(refLogits!, logits, 1e-5, 'logits');
});

for (const backend of ['cpu', 'wasm', 'webgpu'] as BackendName[]) {
  test(`graph model on ${backend}: matches the model's own predict on cpu, no tensor leaks`, async () => {
    const file = path.join(graphDir, '1', 'model.json');
    const [refLogits, refProbs] = await referenceOnCpu('graph', file);
    const config = configFor('tfjs_graph_mlp', await tfjsExecutorFactory.deriveConfig(path.join(graphDir, '1'), 'model.json'));
    const ex = await tfjsExecutorFactory.load(makeContext(config, backend, graphDir));
    executors.push(ex);
    await gpuOnly(backend);
    const request = { inputs: inputsMap(host('x', 'FP32', [BATCH, 4], features)), outputs: ['logits', 'probabilities'], parameters: {} };
    await ex.execute(request); // first run compiles pipelines on webgpu
    const before = tensorsAlive();
    const [logits, probs] = await ex.execute(request);
    assert.equal(tensorsAlive(), before, 'tensors alive after a request');
    assert.deepEqual(logits!.shape, [BATCH, 3]);
    assert.equal(probs!.datatype, 'FP32');
    assertClose(logits!.data as Float32Array, refLogits!, 1e-5, 'logits');
    assertClose(probs!.data as Float32Array, refProbs!, 1e-5, 'probabilities');
    // A requested subset: only that output comes back.
    const only = await ex.execute({ ...request, outputs: ['probabilities'] });
    assert.deepEqual(only.map((t) => t.name), ['probabilities']);
    assert.equal(tensorsAlive(), before);
  });

  test(`layers model on ${backend}: matches the model's own predict on cpu, no tensor leaks`, async () => {
    const file = path.join(layersDir, '1', 'model.json');
    const [refProbs] = await referenceOnCpu('layers', file);
    const config = configFor('tfjs_mlp', await tfjsExecutorFactory.deriveConfig(path.join(layersDir, '1'), 'model.json'));
    const ex = await tfjsExecutorFactory.load(makeContext(config, backend, layersDir));
    executors.push(ex);
    await gpuOnly(backend);
    const request = { inputs: inputsMap(host('features', 'FP32', [BATCH, 4], features)), outputs: ['probabilities'], parameters: {} };
    await ex.execute(request);
    const before = tensorsAlive();
    const [probs] = await ex.execute(request);
    assert.equal(tensorsAlive(), before, 'tensors alive after a request');
    assert.deepEqual(probs!.shape, [BATCH, 3]);
    assertClose(probs!.data as Float32Array, refProbs!, 1e-5, 'probabilities');
    const rowSums = [0, 1, 2, 3, 4].map((r) => [0, 1, 2].reduce((s, c) => s + (probs!.data as Float32Array)[r * 3 + c]!, 0));
    assertClose(rowSums, [1, 1, 1, 1, 1], 1e-5, 'softmax rows');
  });
}

test('unload frees the weights', async () => {
  const config = configFor('tfjs_mlp', await tfjsExecutorFactory.deriveConfig(path.join(layersDir, '1'), 'model.json'));
  const before = tensorsAlive();
  const ex = await tfjsExecutorFactory.load(makeContext(config, 'cpu', layersDir));
  assert.ok(tensorsAlive() > before, 'weights are tensors');
  await ex.unload();
  assert.equal(tensorsAlive(), before);
});

test('reshape in the config: clients send dims, the model gets reshape.shape', async () => {
  const derived = await tfjsExecutorFactory.deriveConfig(path.join(graphDir, '1'), 'model.json');
  const config = configFor('g', derived);
  config.input[0] = { ...config.input[0]!, dims: [2, 2], reshape: { shape: [4] } };
  config.output[0] = { ...config.output[0]!, dims: [3, 1], reshape: { shape: [3] } };
  const ex = await tfjsExecutorFactory.load(makeContext(config, 'cpu', graphDir));
  executors.push(ex);
  const [logits] = await ex.execute({ inputs: inputsMap(host('x', 'FP32', [BATCH, 2, 2], features)), outputs: ['logits'], parameters: {} });
  assert.deepEqual(logits!.shape, [BATCH, 3, 1]);
  const [refLogits] = await referenceOnCpu('graph', path.join(graphDir, '1', 'model.json'));
  assertClose(logits!.data as Float32Array, refLogits!, 1e-5, 'logits');
});

test('config names that the model does not have fail the load clearly', async () => {
  const config = configFor('g', await tfjsExecutorFactory.deriveConfig(path.join(graphDir, '1'), 'model.json'));
  config.input[0] = { ...config.input[0]!, name: 'INPUT0' };
  const before = tensorsAlive();
  await assert.rejects(tfjsExecutorFactory.load(makeContext(config, 'cpu', graphDir)), /config input 'INPUT0' is not an input of the TF.js model \(inputs: x\)/);
  assert.equal(tensorsAlive(), before, 'the rejected model was disposed');
});

test('bad model files give clear errors', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dawnserve-tfjs-'));
  try {
    await mkdir(path.join(dir, '1'));
    await assert.rejects(tfjsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.json'), /TF.js model file .*model.json not found/);
    await writeFile(path.join(dir, '1', 'model.json'), '{"weightsManifest": []}');
    await assert.rejects(tfjsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.json'), /not a TF.js model.json \(no modelTopology\)/);
    await writeFile(path.join(dir, '1', 'model.json'), '{"format":"graph-model","modelTopology":{"node":[]},"weightsManifest":[{"paths":["../../etc/passwd"],"weights":[]}]}');
    const config = configFor('g', { input: [], output: [] });
    await assert.rejects(tfjsExecutorFactory.load(makeContext(config, 'cpu', dir)), /outside/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
