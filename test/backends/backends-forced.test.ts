// Forcing a backend at startup (separate file: tfjs backends are per process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, getDefaultBackend } from '../../src/runtime/backends.js';

test('forcing wasm, then cpu, works and records that the others were not requested', async () => {
  const wasm = await initBackend('wasm');
  assert.equal(wasm.backend, 'wasm');
  assert.equal(wasm.tf.getBackend(), 'wasm');
  assert.match(wasm.reasons.wasm, /^chosen: tfjs-backend-wasm from .*tfjs-backend-wasm/);
  assert.match(wasm.reasons.webgpu, /^not requested \(--backend wasm\)/);
  const x = wasm.tf.tensor2d([[1, 2], [3, 4]]);
  const y = wasm.tf.matMul(x, x);
  assert.deepEqual(Array.from(await y.data()), [7, 10, 15, 22]);
  wasm.tf.dispose([x, y]);

  const cpu = await initBackend('cpu');
  assert.equal(cpu.backend, 'cpu');
  assert.equal(getDefaultBackend(), 'cpu');
  assert.equal(cpu.tf.getBackend(), 'cpu');
  assert.equal(cpu.adapter, undefined);
});
