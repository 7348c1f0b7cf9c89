import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setKernelOptions } from '../../src/kernels/options.js';
import { parseTile, tileName } from '../../src/kernels/ops/tiled.js';
import { pickMatMulVariant, preferTfjsMatMul } from '../../src/kernels/ops/matmul.js';
import { texCoreAvailable } from '../../src/kernels/ops/texmm.js';
import { packTextureBytes } from '../../src/kernels/pack-cache.js';
import { type KernelTestEnv, assertClose, onCpu, onGpu, randomArray, reductionScale, rng, setupWebGpu } from './helpers.js';

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => { setKernelOptions({ matmul: undefined, tile: undefined }); env.teardown(); });

interface Case { a: number[]; b: number[]; ta?: boolean; tb?: boolean }

const CASES: Case[] = [
  { a: [1, 1], b: [1, 1] },
  { a: [3, 17], b: [17, 5] },
  { a: [17, 3], b: [3, 255] },
  { a: [33, 64], b: [64, 40] },          // vec4 A and B
  { a: [33, 64], b: [33, 40], ta: true }, // transposed A
  { a: [20, 64], b: [36, 64], tb: true }, // A·Bᵀ vec4 dot path
  { a: [7, 13], b: [5, 13], tb: true },   // A·Bᵀ scalar path
  { a: [13, 7], b: [5, 13], ta: true, tb: true },
  { a: [2, 3, 9, 12], b: [2, 3, 12, 8] }, // batch
  { a: [4, 9, 12], b: [12, 8] },          // broadcast B
  { a: [9, 12], b: [3, 12, 6] },          // broadcast A
  { a: [2, 1, 5, 8], b: [1, 8, 4] },      // rank-mixed broadcast
  { a: [1, 1023], b: [1023, 3] },         // GEMV-like, long K
];

function shapeOut(c: Case): string {
  return `${c.a.join('x')}${c.ta ? 'ᵀ' : ''}·${c.b.join('x')}${c.tb ? 'ᵀ' : ''}`;
}

// The real-GPU variant is forced on lavapipe with each block tile the selector can pick (and an
// 8×8-per-thread one), so every load mode (vec4/scalar, transposed) meets ragged tile edges.
const VARIANTS = [
  { variant: 'reg' as const, tile: undefined },
  { variant: 'tex' as const, tile: undefined },
  ...['32x64x16:4x4', '32x32x16:4x4', '64x64x16:4x4', '64x64x32:8x8'].map((t) => ({ variant: 'tiled' as const, tile: parseTile(t) })),
];

for (const { variant, tile } of VARIANTS) {
  describe(`matmul (${variant}${tile ? ` ${tileName(tile)}` : ''})`, () => {
    before(() => { setKernelOptions({ matmul: variant, tile }); });
    // Larger tiles take long to compile and run on lavapipe: they get the cases that cover each load mode.
    const cases = !tile || tileName(tile) === '32x64x16:4x4' ? CASES : CASES.filter((_, i) => [1, 3, 4, 5, 6, 7, 9, 12].includes(i));
    cases.forEach((c) => {
      const i = CASES.indexOf(c);
      it(shapeOut(c), async () => {
        const { tf } = env;
        const rand = rng(1000 + i);
        const av = randomArray(rand, c.a.reduce((x, y) => x * y, 1));
        const bv = randomArray(rand, c.b.reduce((x, y) => x * y, 1));
        const f = () => tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.ta, c.tb);
        const expected = await onCpu(tf, f);
        const before = env.dispatches();
        const { values } = await onGpu(env, f);
        assert.ok(env.dispatches() > before, 'our kernel ran');
        const K = c.ta ? c.a[c.a.length - 2]! : c.a[c.a.length - 1]!;
        assertClose(values, expected, reductionScale(K), shapeOut(c));
      });
    });
  });
}

describe('matmul variant choice', () => {
  before(() => { setKernelOptions({ matmul: undefined, tile: undefined }); });
  it('lavapipe (8-wide subgroups) gets the texture core, other adapters do not', async (t) => {
    const a = env.ctx.adapter;
    const shape = { M: 64, N: 64, K: 64, batch: 1, batchB: 1 };
    assert.equal(pickMatMulVariant({ ...a, software: false }, shape).variant, 'tiled');
    assert.equal(pickMatMulVariant({ ...a, software: true, subgroups: false }, shape).variant, 'reg');
    assert.equal(pickMatMulVariant({ ...a, software: true, subgroups: true, subgroupMinSize: 8, subgroupMaxSize: 8 }, shape).variant, 'tex');
    // B too large for the pack texture → the buffer kernel.
    assert.equal(pickMatMulVariant({ ...a, software: true, subgroups: true, subgroupMinSize: 8, subgroupMaxSize: 8, limits: { ...a.limits, maxTextureDimension2D: 32 } }, shape).variant, 'reg');
    // Real GPUs: launch-bound GEMMs (≤ 128 tiles of 64×64) stay on tfjs's kernel, where the H100 measured ours slower.
    assert.equal(preferTfjsMatMul({ ...a, software: false }, 256, 256, 1), true);
    assert.equal(preferTfjsMatMul({ ...a, software: false }, 128, 3072, 1), true);
    assert.equal(preferTfjsMatMul({ ...a, software: false }, 1024, 1024, 1), false);
    assert.equal(preferTfjsMatMul({ ...a, software: true }, 256, 256, 1), false);
    if (!texCoreAvailable(a)) { t.skip(`adapter ${a.description} has no 8-wide subgroups`); return; }
    const { tf } = env;
    const rand = rng(5);
    const av = randomArray(rand, 40 * 24);
    const bv = randomArray(rand, 24 * 20);
    const f = () => tf.matMul(tf.tensor(av, [40, 24]), tf.tensor(bv, [24, 20]));
    const expected = await onCpu(tf, f);
    const { values } = await onGpu(env, f);
    assertClose(values, expected, reductionScale(24), 'default variant');
    const keys = env.ctx.pipelines.keys();
    assert.ok(keys.some((k) => k.startsWith('matmul:tex,')), `texture core compiled: ${keys.join(' ')}`);
    assert.ok(keys.some((k) => k.startsWith('pack-b:')), 'B packed');
    // The pack texture is reported with the GPU memory (dawnserve_gpu_memory_bytes).
    assert.ok(packTextureBytes() >= 5 * 24 * 16, `pack texture bytes ${packTextureBytes()}`);
  });
});

describe('kept weight packs (texture core)', () => {
  before(() => { setKernelOptions({ matmul: undefined, tile: undefined }); });
  const skipUnlessTex = (t: { skip(msg: string): void }): boolean => {
    if (texCoreAvailable(env.ctx.adapter)) return false;
    t.skip(`adapter ${env.ctx.adapter.description} has no 8-wide subgroups`);
    return true;
  };

  it('packs a B that comes back once, then only runs the GEMM; results stay exact', async (t) => {
    if (skipUnlessTex(t)) return;
    const { tf } = env;
    const rand = rng(31);
    const wv = randomArray(rand, 40 * 24);
    const w = tf.tensor(wv, [40, 24]);
    try {
      const perCall: number[] = [];
      for (let i = 0; i < 4; i++) {
        const av = randomArray(rand, 9 * 40);
        const f = () => tf.matMul(tf.tensor(av, [9, 40]), w);
        const expected = await onCpu(tf, () => tf.matMul(tf.tensor(av, [9, 40]), tf.tensor(wv, [40, 24])));
        const before = env.dispatches();
        const { values } = await onGpu(env, f);
        perCall.push(env.dispatches() - before);
        assertClose(values, expected, reductionScale(40), `call ${i}`);
      }
      // First sighting: scratch pack + GEMM; second: packed into a kept texture; then GEMM only.
      assert.deepEqual(perCall, [2, 2, 1, 1]);
    } finally {
      w.dispose();
    }
  });

  it('a new tensor, or the same data viewed with another shape, is packed anew', async (t) => {
    if (skipUnlessTex(t)) return;
    const { tf } = env;
    const rand = rng(32);
    const av = randomArray(rand, 6 * 48);
    for (let round = 0; round < 2; round++) {
      const bv = randomArray(rand, 48 * 16);
      const b = tf.tensor(bv, [48, 16]);
      for (let i = 0; i < 3; i++) {
        const expected = await onCpu(tf, () => tf.matMul(tf.tensor(av, [6, 48]), tf.tensor(bv, [48, 16])));
        const { values } = await onGpu(env, () => tf.matMul(tf.tensor(av, [6, 48]), b));
        assertClose(values, expected, reductionScale(48), `round ${round} call ${i}`);
      }
      // Same dataId, other shape: [48, 16] read as [96, 8] (reshape shares the buffer in tfjs).
      const a2 = randomArray(rand, 5 * 96);
      const expected2 = await onCpu(tf, () => tf.matMul(tf.tensor(a2, [5, 96]), tf.tensor(bv, [96, 8])));
      for (let i = 0; i < 3; i++) {
        const { values } = await onGpu(env, () => tf.matMul(tf.tensor(a2, [5, 96]), tf.reshape(b, [96, 8])));
        assertClose(values, expected2, reductionScale(96), `round ${round} reshaped call ${i}`);
      }
      b.dispose();
    }
  });
});

describe('fused matmul', () => {
  before(() => { setKernelOptions({ matmul: undefined, tile: undefined }); });
  const acts = ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const;
  for (const activation of acts) {
    it(`bias + ${activation}`, async () => {
      const { tf } = env;
      const rand = rng(7);
      const av = randomArray(rand, 2 * 17 * 31);
      const bv = randomArray(rand, 31 * 12);
      const biasv = randomArray(rand, 12);
      const f = () => tf.fused.matMul({
        a: tf.tensor(av, [2, 17, 31]), b: tf.tensor(bv, [31, 12]), bias: tf.tensor(biasv, [12]), activation, leakyreluAlpha: 0.1,
      });
      const expected = await onCpu(tf, f);
      const before = env.dispatches();
      const { values } = await onGpu(env, f);
      assert.ok(env.dispatches() > before, 'our kernel ran');
      assertClose(values, expected, reductionScale(31), activation);
    });
  }

  it('prelu falls back to tfjs and stays correct', async () => {
    const { tf } = env;
    const rand = rng(9);
    const av = randomArray(rand, 5 * 6);
    const bv = randomArray(rand, 6 * 7);
    const alpha = randomArray(rand, 7);
    const f = () => tf.fused.matMul({ a: tf.tensor(av, [5, 6]), b: tf.tensor(bv, [6, 7]), activation: 'prelu', preluActivationWeights: tf.tensor(alpha, [7]) });
    const expected = await onCpu(tf, f);
    const before = env.dispatches();
    const { values } = await onGpu(env, f);
    assert.equal(env.dispatches(), before, 'tfjs kernel ran');
    assertClose(values, expected, 1, 'prelu');
  });
});
