// Conv2D / FusedConv2D / DepthwiseConv2dNative (NHWC) vs tfjs-backend-cpu.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { setKernelOptions } from '../../src/kernels/options.js';
import { parseTile } from '../../src/kernels/ops/tiled.js';
import { type KernelTestEnv, assertClose, onCpu, onGpu, randomArray, reductionScale, rng, setupWebGpu } from './helpers.js';

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => env.teardown());

interface Case { x: [number, number, number, number]; f: [number, number, number, number]; stride: number; pad: 'same' | 'valid' | number; dil?: number }

const CASES: Case[] = [
  { x: [1, 5, 5, 1], f: [3, 3, 1, 1], stride: 1, pad: 'same' },
  { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 1, pad: 'valid' },     // RGB-like, odd Cout
  { x: [1, 17, 17, 8], f: [3, 3, 8, 16], stride: 2, pad: 'same' },   // vec4 in/out, stride 2
  { x: [1, 12, 12, 4], f: [1, 1, 4, 12], stride: 1, pad: 'valid' },  // 1×1 → matmul
  { x: [2, 5, 7, 3], f: [1, 1, 3, 5], stride: 1, pad: 'same' },      // 1×1 → matmul, scalar loads, batch 2
  { x: [1, 7, 7, 8], f: [1, 1, 8, 16], stride: 2, pad: 'valid' },    // strided 1×1 stays a conv
  { x: [1, 11, 13, 4], f: [5, 3, 4, 8], stride: 1, pad: 1, dil: 2 }, // explicit pad + dilation
  { x: [1, 14, 14, 16], f: [3, 3, 16, 64], stride: 1, pad: 'same' },  // nv=2 path
];

async function checkOurs(f: () => Tensor4D, k: number, what: string): Promise<void> {
  const expected = await onCpu(env.tf, f);
  const before = env.dispatches();
  const { values } = await onGpu(env, f);
  assert.ok(env.dispatches() > before, 'our kernel ran');
  assertClose(values, expected, reductionScale(k), what);
}

for (const [variant, tile] of [['reg', undefined], ['tex', undefined], ['tiled', '32x64x16:4x4'], ['tiled', '64x64x16:4x4']] as const) {
describe(`conv2d (${variant}${tile ? ` ${tile}` : ''})`, () => {
  before(() => { setKernelOptions({ conv: variant, tile: tile ? parseTile(tile) : undefined }); });
  after(() => { setKernelOptions({ conv: undefined, tile: undefined }); });
  CASES.forEach((c, i) => {
    it(`${c.x.join('x')} * ${c.f.join('x')} s${c.stride} ${c.pad}`, async () => {
      const { tf } = env;
      const rand = rng(200 + i);
      const xv = randomArray(rand, c.x.reduce((a, b) => a * b, 1));
      const fv = randomArray(rand, c.f.reduce((a, b) => a * b, 1));
      const f = () => tf.conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), c.stride, c.pad, 'NHWC', c.dil ?? 1);
      await checkOurs(f, c.f[0] * c.f[1] * c.f[2], 'conv2d');
    });
  });

  it('fused 1×1 (matmul route) with bias + relu6', async () => {
    const { tf } = env;
    const rand = rng(310);
    const xv = randomArray(rand, 2 * 6 * 5 * 12);
    const fv = randomArray(rand, 12 * 20);
    const bv = randomArray(rand, 20);
    const f = () => tf.fused.conv2d({
      x: tf.tensor4d(xv, [2, 6, 5, 12]), filter: tf.tensor4d(fv, [1, 1, 12, 20]), strides: 1, pad: 'valid', bias: tf.tensor1d(bv), activation: 'relu6',
    });
    await checkOurs(f, 12, 'fused 1×1');
  });

  for (const activation of ['relu', 'sigmoid', 'elu'] as const) {
    it(`fused bias + ${activation}`, async () => {
      const { tf } = env;
      const rand = rng(300);
      const xv = randomArray(rand, 2 * 8 * 8 * 4);
      const fv = randomArray(rand, 3 * 3 * 4 * 8);
      const bv = randomArray(rand, 8);
      const f = () => tf.fused.conv2d({
        x: tf.tensor4d(xv, [2, 8, 8, 4]), filter: tf.tensor4d(fv, [3, 3, 4, 8]), strides: 1, pad: 'same', bias: tf.tensor1d(bv), activation,
      });
      await checkOurs(f, 36, `fused ${activation}`);
    });
  }
});
}

describe('depthwise conv2d', () => {
  const DW: Case[] = [
    { x: [1, 7, 7, 3], f: [3, 3, 3, 1], stride: 1, pad: 'same' },
    { x: [2, 10, 9, 8], f: [3, 3, 8, 1], stride: 2, pad: 'same' },
    { x: [1, 12, 12, 4], f: [5, 5, 4, 1], stride: 1, pad: 'valid', dil: 2 },
  ];
  DW.forEach((c, i) => {
    it(`${c.x.join('x')} * ${c.f.join('x')} s${c.stride} ${c.pad}`, async () => {
      const { tf } = env;
      const rand = rng(400 + i);
      const xv = randomArray(rand, c.x.reduce((a, b) => a * b, 1));
      const fv = randomArray(rand, c.f.reduce((a, b) => a * b, 1));
      const f = () => tf.depthwiseConv2d(tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), c.stride, c.pad as 'same' | 'valid', 'NHWC', c.dil ?? 1);
      await checkOurs(f, c.f[0] * c.f[1], 'depthwise');
    });
  });

  it('fused bias + relu6', async () => {
    const { tf } = env;
    const rand = rng(450);
    const xv = randomArray(rand, 6 * 6 * 8);
    const fv = randomArray(rand, 3 * 3 * 8);
    const bv = randomArray(rand, 8);
    const f = () => tf.fused.depthwiseConv2d({
      x: tf.tensor4d(xv, [1, 6, 6, 8]), filter: tf.tensor4d(fv, [3, 3, 8, 1]), strides: 1, pad: 'same', bias: tf.tensor1d(bv), activation: 'relu6',
    });
    await checkOurs(f, 9, 'fused depthwise');
  });
});
