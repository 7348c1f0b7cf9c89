// No tensor leaks through the whole server: after warm-up, valid and invalid requests to the tfjs
// and ONNX models leave tf.memory().numTensors where it was. Runs on the backend `auto` picks
// (webgpu on lavapipe in CI).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { tensorsAlive } from '../../src/runtime/backends.js';
import { bundledModels } from '../helpers/paths.js';

let server: RunningServer;
let base: string;

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
    backend: 'auto', logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['tfjs_mlp', 'tfjs_graph_mlp', 'digits'],
  });
  base = `http://127.0.0.1:${server.httpPort}`;
});
after(async () => { await server.close(); });

const features = (batch: number) => ({ name: 'features', shape: [batch, 4], datatype: 'FP32', data: Array.from({ length: batch * 4 }, (_, i) => (i % 7) / 7) });

const requests: [string, unknown, number][] = [
  ['tfjs_mlp', { inputs: [features(1)] }, 200],
  ['tfjs_mlp', { inputs: [features(3)] }, 200],
  ['tfjs_mlp', { inputs: [{ ...features(1), shape: [1, 5], data: [1, 2, 3, 4, 5] }] }, 400],
  ['tfjs_graph_mlp', { inputs: [{ ...features(2), name: 'x' }] }, 200],
  ['tfjs_graph_mlp', { inputs: [{ ...features(2), name: 'x' }], outputs: [{ name: 'probabilities' }] }, 200],
  ['digits', { inputs: [{ name: 'image', shape: [2, 1, 8, 8], datatype: 'FP32', data: Array.from({ length: 128 }, (_, i) => i % 17) }] }, 200],
  ['digits', { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array(64).fill(3) }], outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] }, 200],
  ['digits', { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'INT32', data: Array(64).fill(3) }] }, 400],
];

async function sendAll(): Promise<void> {
  for (const [model, body, status] of requests) {
    const res = await fetch(`${base}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body) });
    const text = await res.text();
    assert.equal(res.status, status, `${model}: ${text}`);
  }
}

test('tensors alive are unchanged after valid and invalid requests', async () => {
  await sendAll(); // warm-up: lazily created tensors (e.g. constants) exist from here on
  const baseline = tensorsAlive();
  for (let i = 0; i < 10; i++) await sendAll();
  assert.equal(tensorsAlive(), baseline);
});
