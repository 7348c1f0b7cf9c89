// The bundled models/digits example: held-out samples classified correctly, matching onnxruntime.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../../src/runtime/types.js';
import { assertClose, configFor, execute, loadExecutor, numbers, repoRoot, runOrt, useBackend } from './helpers.js';

describe('models/digits', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  it('auto-completes like its config.pbtxt and classifies the held-out samples', async () => {
    const dir = join(repoRoot(), 'models', 'digits');
    const path = join(dir, '1', 'model.onnx');
    const pbtxt = readFileSync(join(dir, 'config.pbtxt'), 'utf8');
    const config = await configFor(path, 'digits');
    // The shipped config states what auto-complete derives, apart from the batch size and labels.
    assert.deepEqual(config.input.map((i) => [i.name, i.data_type, i.dims]), [['image', 'TYPE_FP32', [1, 8, 8]]]);
    assert.deepEqual(config.output.map((o) => [o.name, o.data_type, o.dims]), [['probabilities', 'TYPE_FP32', [10]]]);
    assert.match(pbtxt, /name: "image"[\s\S]*dims: \[ 1, 8, 8 \]/);
    assert.match(pbtxt, /label_filename: "labels.txt"/);
    assert.deepEqual(readFileSync(join(dir, 'labels.txt'), 'utf8').trim().split('\n'), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

    const samples = JSON.parse(readFileSync(join(dir, 'samples.json'), 'utf8')) as { shape: number[]; images: number[]; labels: number[] };
    const input: HostTensor = { name: 'image', datatype: 'FP32', shape: samples.shape, data: Float32Array.from(samples.images) };
    const { executor } = await loadExecutor(path, { ...config, max_batch_size: 8 });
    try {
      const [probs] = await execute(executor, config, [input]);
      assert.deepEqual(probs!.shape, [8, 10]);
      const p = numbers(probs!);
      const predicted = samples.labels.map((_, i) => p.slice(i * 10, i * 10 + 10).reduce((best, v, j, row) => (v > row[best]! ? j : best), 0));
      const correct = predicted.filter((d, i) => d === samples.labels[i]).length;
      assert.ok(correct >= 7, `only ${correct}/8 held-out digits classified correctly: ${predicted} vs ${samples.labels}`);
      assertClose(p, (await runOrt(path, [input])).get('probabilities')!.values, 'digits vs onnxruntime');
    } finally {
      await executor.unload();
    }
  });
});
