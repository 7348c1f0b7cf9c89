import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  initBackend, withBackend, tensorsAlive, backendMemory, getDefaultBackend, probeCuda, isTfjsNodeGpuInstalled,
} from '../../src/runtime/backends.js';

process.env['XDG_RUNTIME_DIR'] ??= '/tmp';

const tensorflowExpected = isTfjsNodeGpuInstalled() && probeCuda().deviceVisible;

test('auto picks the first working backend and records why the others were not chosen', async () => {
  const sel = await initBackend('auto');
  if (tensorflowExpected) {
    assert.equal(sel.backend, 'tensorflow');
    return;
  }
  // No tfjs-node-gpu with a CUDA device here, so webgpu (Dawn on lavapipe or a GPU) wins.
  assert.equal(sel.backend, 'webgpu');
  assert.equal(sel.tf.getBackend(), 'webgpu');
  assert.equal(getDefaultBackend(), 'webgpu');
  assert.match(sel.reasons.tensorflow, isTfjsNodeGpuInstalled() ? /^failed: no CUDA device visible/ : /^failed: @tensorflow\/tfjs-node-gpu is not installed/);
  assert.match(sel.reasons.webgpu, /^chosen: Dawn adapter/);
  assert.match(sel.reasons.wasm, /^not tried: 'webgpu' comes first/);
  assert.match(sel.reasons.cpu, /^not tried/);
  assert.ok(sel.adapter, 'adapter info is reported');
  assert.ok(sel.adapter.vendor.length > 0);
  assert.ok(Array.isArray(sel.wgslKernels));
});

test('a forced tensorflow backend fails with the reason, and leaves the default intact', async () => {
  if (tensorflowExpected) return;
  await assert.rejects(initBackend('tensorflow'), /backend 'tensorflow' is unavailable: (@tensorflow\/tfjs-node-gpu is not installed|no CUDA device visible)/);
  assert.equal(getDefaultBackend(), 'webgpu');
});

test('webgpu really computes on the GPU and matches cpu', async () => {
  const a = Array.from({ length: 33 * 17 }, (_, i) => ((i * 7) % 13) / 7 - 1);
  const b = Array.from({ length: 17 * 9 }, (_, i) => ((i * 5) % 11) / 5 - 1);
  const run = (name: 'webgpu' | 'cpu') => withBackend(name, async (tf) => {
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const ta = tf.tensor2d(a, [33, 17]);
    const tb = tf.tensor2d(b, [17, 9]);
    const c = tf.matMul(ta, tb);
    assert.equal(tf.getBackend(), name);
    const out = Array.from(await c.data());
    tf.dispose([ta, tb, c]);
    return out;
  });
  const gpu = await run('webgpu');
  const cpu = await run('cpu');
  assert.equal(gpu.length, 33 * 9);
  for (let i = 0; i < gpu.length; i++) assert.ok(Math.abs(gpu[i]! - cpu[i]!) <= 1e-4 * 17, `element ${i}: ${gpu[i]} vs ${cpu[i]}`);
});

test('withBackend switches around the call and restores the default', async () => {
  await initBackend('auto');
  const def = getDefaultBackend()!;
  for (const name of ['wasm', 'cpu'] as const) {
    const seen = await withBackend(name, (tf) => {
      const t = tf.tensor1d([1, 2, 3]);
      const s = tf.sum(t);
      const v = s.dataSync()[0];
      tf.dispose([t, s]);
      return [tf.getBackend(), v];
    });
    assert.deepEqual(seen, [name, 6]);
    assert.equal((await import('@tensorflow/tfjs-core')).getBackend(), def, 'default restored when idle');
  }
});

test('withBackend: same backend runs concurrently, a different backend waits (FIFO)', async () => {
  const events: string[] = [];
  let releaseFirst!: () => void;
  const gate = new Promise<void>((r) => { releaseFirst = r; });
  let secondEntered!: () => void;
  const secondIn = new Promise<void>((r) => { secondEntered = r; });
  const first = withBackend('wasm', async (tf) => { events.push(`in1:${tf.getBackend()}`); await gate; events.push('out1'); });
  const second = withBackend('wasm', async (tf) => { events.push(`in2:${tf.getBackend()}`); secondEntered(); await gate; events.push('out2'); });
  await secondIn; // both wasm holders are inside at once
  const third = withBackend('cpu', (tf) => { events.push(`in3:${tf.getBackend()}`); });
  // A wasm request after the queued cpu one waits its turn instead of overtaking it.
  const fourth = withBackend('wasm', (tf) => { events.push(`in4:${tf.getBackend()}`); });
  await Promise.resolve();
  assert.deepEqual(events, ['in1:wasm', 'in2:wasm']);
  releaseFirst();
  await Promise.all([first, second, third, fourth]);
  assert.deepEqual(events, ['in1:wasm', 'in2:wasm', 'out1', 'out2', 'in3:cpu', 'in4:wasm']);
});

test('withBackend propagates errors and releases the lock', async () => {
  await assert.rejects(withBackend('cpu', () => { throw new Error('model failed'); }), /model failed/);
  assert.equal(await withBackend('wasm', (tf) => tf.getBackend()), 'wasm');
});

test('tensorsAlive and backendMemory count live tensors', async () => {
  await initBackend('auto');
  const before = tensorsAlive();
  const t = await withBackend('cpu', (tf) => tf.tensor1d([1, 2, 3, 4]));
  assert.equal(tensorsAlive(), before + 1);
  const mem = backendMemory();
  assert.equal(mem.numTensors, before + 1);
  assert.ok(mem.numBytes >= 16);
  assert.equal(mem.backend, getDefaultBackend());
  t.dispose();
  assert.equal(tensorsAlive(), before);
});
