// Softmax, layer norm and GELU vs tfjs-backend-cpu, every row variant forced in turn.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setKernelOptions } from '../../src/kernels/options.js';
import { gelu, layerNorm } from '../../src/kernels/functions.js';
import { type KernelTestEnv, assertClose, onCpu, onGpu, randomArray, reductionScale, rng, setupWebGpu } from './helpers.js';

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => { setKernelOptions({ rows: undefined }); env.teardown(); });

const SHAPES: number[][] = [[1, 1], [3, 17], [5, 255], [2, 3, 64], [4, 1023], [70, 8]];

async function expectOurs(f: () => import('@tensorflow/tfjs-core').Tensor): Promise<Float32Array> {
  const before = env.dispatches();
  const { values } = await onGpu(env, f);
  assert.ok(env.dispatches() > before, 'our kernel ran');
  return values;
}

for (const variant of ['row', 'wg', 'sg'] as const) {
  describe(`softmax (${variant})`, () => {
    before(() => { setKernelOptions({ rows: variant }); });
    SHAPES.forEach((shape, i) => {
      it(shape.join('x'), async () => {
        const { tf } = env;
        const n = shape.reduce((a, b) => a * b, 1);
        const xv = randomArray(rng(50 + i), n, -8, 8);
        const f = () => tf.softmax(tf.tensor(xv, shape));
        const expected = await onCpu(tf, f);
        assertClose(await expectOurs(f), expected, 1, `softmax ${shape}`);
      });
    });
    it('large magnitudes stay finite (max subtracted)', async () => {
      const { tf } = env;
      const xv = Float32Array.from([1e4, -1e4, 80, 0, 88, 88, 88, 88]);
      const got = await expectOurs(() => tf.softmax(tf.tensor(xv, [2, 4])));
      assertClose(got, [1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25], 1, 'stable');
    });
  });

  describe(`layer norm (${variant})`, () => {
    before(() => { setKernelOptions({ rows: variant }); });
    SHAPES.forEach((shape, i) => {
      it(shape.join('x'), async () => {
        const { tf } = env;
        const n = shape.reduce((a, b) => a * b, 1);
        const cols = shape[shape.length - 1]!;
        const rand = rng(70 + i);
        // Offset mean: checks the two-pass variance does not cancel.
        const xv = randomArray(rand, n, 2, 6);
        const gv = randomArray(rand, cols);
        const bv = randomArray(rand, cols);
        const f = () => layerNorm(tf.tensor(xv, shape), tf.tensor(gv, [cols]), tf.tensor(bv, [cols]), 1e-5);
        const expected = await onCpu(tf, f);
        assertClose(await expectOurs(f), expected, reductionScale(cols) * 4, `layernorm ${shape}`);
      });
    });
  });
}

describe('layer norm without gamma/beta', () => {
  it('normalizes rows to mean 0, variance 1', async () => {
    const { tf } = env;
    const xv = randomArray(rng(3), 6 * 40, -3, 9);
    const got = await expectOurs(() => layerNorm(tf.tensor(xv, [6, 40]), undefined, undefined, 0));
    for (let r = 0; r < 6; r++) {
      const row = got.subarray(r * 40, r * 40 + 40);
      const mean = row.reduce((a, b) => a + b, 0) / 40;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 40;
      assert.ok(Math.abs(mean) < 1e-5 && Math.abs(v - 1) < 1e-4, `row ${r}: mean ${mean} var ${v}`);
    }
  });
});

describe('gelu (erf)', () => {
  for (const n of [1, 3, 17, 256, 1023]) {
    it(`size ${n}`, async () => {
      const { tf } = env;
      const xv = randomArray(rng(90 + n), n, -6, 6);
      const expected = await onCpu(tf, () => gelu(tf.tensor(xv)));
      assertClose(await expectOurs(() => gelu(tf.tensor(xv))), expected, 1, `gelu ${n}`);
    });
  }
});
