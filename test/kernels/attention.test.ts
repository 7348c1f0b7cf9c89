// attention(q, k, v, mask, scale) on webgpu vs the same op composed from tfjs-backend-cpu ops.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attention } from '../../src/kernels/functions.js';
import { setKernelOptions } from '../../src/kernels/options.js';
import { type KernelTestEnv, assertClose, onCpu, onGpu, randomArray, reductionScale, rng, setupWebGpu } from './helpers.js';

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => { setKernelOptions({ matmul: undefined, rows: undefined }); env.teardown(); });

interface Case { lead: number[]; sq: number; sk: number; d: number; dv: number; mask?: 'shared' | 'per-head' }

const CASES: Case[] = [
  { lead: [1], sq: 1, sk: 1, d: 1, dv: 1 },
  { lead: [2, 3], sq: 17, sk: 17, d: 8, dv: 8 },
  { lead: [3], sq: 5, sk: 31, d: 7, dv: 3 },
  { lead: [2, 2], sq: 16, sk: 16, d: 16, dv: 16, mask: 'shared' },
  { lead: [4], sq: 9, sk: 12, d: 12, dv: 5, mask: 'per-head' },
];

for (const matmul of ['reg', 'tiled'] as const) {
  describe(`attention (${matmul} matmul)`, () => {
    before(() => { setKernelOptions({ matmul, rows: matmul === 'reg' ? 'row' : 'wg' }); });
    CASES.forEach((c, i) => {
      it(`${c.lead.join('x')} q${c.sq} k${c.sk} d${c.d} dv${c.dv} ${c.mask ?? ''}`, async () => {
        const { tf } = env;
        const rand = rng(500 + i);
        const bh = c.lead.reduce((a, b) => a * b, 1);
        const qv = randomArray(rand, bh * c.sq * c.d);
        const kv = randomArray(rand, bh * c.sk * c.d);
        const vv = randomArray(rand, bh * c.sk * c.dv);
        const maskShape = c.mask === 'per-head' ? [...c.lead, c.sq, c.sk] : [c.sq, c.sk];
        // Causal-style mask: −1e9 above the diagonal.
        const mv = Float32Array.from({ length: maskShape.reduce((a, b) => a * b, 1) }, (_, j) => ((j % c.sk) > (Math.floor(j / c.sk) % c.sq) ? -1e9 : 0));
        const scale = 1 / Math.sqrt(c.d);
        const f = () => attention(tf.tensor(qv, [...c.lead, c.sq, c.d]), tf.tensor(kv, [...c.lead, c.sk, c.d]),
          tf.tensor(vv, [...c.lead, c.sk, c.dv]), c.mask ? tf.tensor(mv, maskShape) : undefined, scale);
        const expected = await onCpu(tf, f);
        const before = env.dispatches();
        const { values, shape } = await onGpu(env, f);
        assert.equal(env.dispatches() - before, 3, 'three dispatches: QKᵀ, softmax, PV');
        assert.deepEqual(shape, [...c.lead, c.sq, c.dv]);
        assertClose(values, expected, reductionScale(c.d + c.sk), 'attention');
      });
    });
  });
}
