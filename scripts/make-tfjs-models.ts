// Builds the bundled TF.js example models (run: `npx tsx scripts/make-tfjs-models.ts`).
//
//   models/tfjs_mlp        layers model: features[4] → dense 16 relu → dense 3 softmax ("probabilities")
//   models/tfjs_graph_mlp  graph model (hand-written GraphDef JSON, the format tfjs-converter emits):
//                          x[4] → MatMul/BiasAdd/Relu → MatMul/BiasAdd ("logits") → Softmax ("probabilities")
//
// Both are trained for a few epochs on a synthetic 3-class problem (which of x0+x1, x2, -x3 is
// largest) with seeded data and initialisers on the cpu backend, so a rerun gives the same files.
// No pretrained weights can be downloaded here, and the point is exercising the loaders.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileSystemSaveHandler } from '../src/runtime/executors/tfjs-io.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FEATURES = 4, HIDDEN = 16, CLASSES = 3, SAMPLES = 512;

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function syntheticData(seed: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const rand = mulberry32(seed);
  const x = new Float32Array(SAMPLES * FEATURES);
  const y = new Float32Array(SAMPLES * CLASSES);
  for (let i = 0; i < SAMPLES; i++) {
    const r = Array.from({ length: FEATURES }, () => rand() * 2 - 1);
    x.set(r, i * FEATURES);
    const scores = [r[0]! + r[1]!, r[2]!, -r[3]!];
    y[i * CLASSES + scores.indexOf(Math.max(...scores))] = 1;
  }
  return { xs: tf.tensor2d(x, [SAMPLES, FEATURES]), ys: tf.tensor2d(y, [SAMPLES, CLASSES]) };
}

async function trainMlp(seed: number, names: { input: string; hidden: string; output: string }): Promise<tfl.LayersModel> {
  const input = tfl.input({ shape: [FEATURES], name: names.input });
  const hidden = tfl.layers.dense({
    units: HIDDEN, activation: 'relu', name: names.hidden,
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
  }).apply(input) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({
    units: CLASSES, activation: 'softmax', name: names.output,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
  }).apply(hidden) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: output });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const { xs, ys } = syntheticData(seed);
  const h = await model.fit(xs, ys, { epochs: 20, batchSize: 64, shuffle: false, verbose: 0 });
  const acc = h.history['acc'] ?? h.history['accuracy'] ?? [];
  console.log(`${names.output}: final accuracy ${String(acc[acc.length - 1])}`);
  tf.dispose([xs, ys]);
  return model;
}

const dim = (sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });
const floatAttr = { type: 'DT_FLOAT' };

/** The GraphDef-as-JSON that tfjs-converter would write for the same two-layer MLP. */
async function writeGraphModel(model: tfl.LayersModel, dir: string): Promise<void> {
  const [w1, b1, w2, b2] = model.getWeights();
  const weights: tf.NamedTensorMap = { w1: w1!, b1: b1!, w2: w2!, b2: b2! };
  const { data, specs } = await tf.io.encodeWeights(weights);
  const konst = (name: string, shape: number[]) => ({
    name, op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim(shape) } }, dtype: floatAttr },
  });
  const matmul = (name: string, a: string, b: string) => ({
    name, op: 'MatMul', input: [a, b], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: floatAttr },
  });
  const node = [
    { name: 'x', op: 'Placeholder', attr: { dtype: floatAttr, shape: { shape: dim([-1, FEATURES]) } } },
    konst('w1', [FEATURES, HIDDEN]), konst('b1', [HIDDEN]), konst('w2', [HIDDEN, CLASSES]), konst('b2', [CLASSES]),
    matmul('hidden/MatMul', 'x', 'w1'),
    { name: 'hidden/BiasAdd', op: 'BiasAdd', input: ['hidden/MatMul', 'b1'], attr: { T: floatAttr, data_format: { s: 'TkhXQw==' } } },
    { name: 'hidden/Relu', op: 'Relu', input: ['hidden/BiasAdd'], attr: { T: floatAttr } },
    matmul('out/MatMul', 'hidden/Relu', 'w2'),
    { name: 'logits', op: 'BiasAdd', input: ['out/MatMul', 'b2'], attr: { T: floatAttr, data_format: { s: 'TkhXQw==' } } },
    { name: 'probabilities', op: 'Softmax', input: ['logits'], attr: { T: floatAttr } },
  ];
  const sig = (name: string, shape: number[]) => ({ name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape: dim(shape) });
  const json = {
    format: 'graph-model',
    generatedBy: 'dawnserve scripts/make-tfjs-models.ts',
    convertedBy: null,
    modelTopology: { node, library: {}, versions: { producer: 1286 } },
    signature: {
      inputs: { x: sig('x', [-1, FEATURES]) },
      outputs: { logits: sig('logits', [-1, CLASSES]), probabilities: sig('probabilities', [-1, CLASSES]) },
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(tf.io.CompositeArrayBuffer.join(data)));
}

await tf.setBackend('cpu');
const layers = await trainMlp(7, { input: 'features', hidden: 'hidden', output: 'probabilities' });
await layers.save(fileSystemSaveHandler(path.join(root, 'models/tfjs_mlp/1')));
const graphSource = await trainMlp(11, { input: 'x', hidden: 'hidden', output: 'out' });
await writeGraphModel(graphSource, path.join(root, 'models/tfjs_graph_mlp/1'));
console.log('wrote models/tfjs_mlp/1 and models/tfjs_graph_mlp/1');
