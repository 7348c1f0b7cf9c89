// Device layer: adapter summary, one shared device, pipeline cache keyed by WGSL text only,
// batched dispatches, device-lost hook.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as tfType from '@tensorflow/tfjs-core';
import { contextForBackend, onDeviceLost } from '../../src/kernels/device.js';
import { CommandBatch } from '../../src/kernels/dispatcher.js';
import { matMulDefaults, matMulProgram, pickMatMulVariant } from '../../src/kernels/ops/matmul.js';
import { packUniforms } from '../../src/kernels/program.js';
import { type KernelTestEnv, assertClose, onCpu, onGpu, randomArray, reductionScale, rng, setupWebGpu } from './helpers.js';

let env: KernelTestEnv;
before(async () => { env = await setupWebGpu(); });
after(() => env.teardown());

describe('device layer', () => {
  it('shares the tfjs device and records adapter info and features', () => {
    const ctx = contextForBackend(env.backend);
    assert.equal(ctx.device, env.backend.device);
    assert.ok(ctx.adapter.vendor.length > 0, 'vendor');
    assert.equal(typeof ctx.adapter.software, 'boolean');
    assert.equal(ctx.adapter.timestampQuery, env.backend.device.features.has('timestamp-query'));
    assert.equal(ctx.adapter.subgroups, env.backend.device.features.has('subgroups'));
    assert.ok((ctx.adapter.limits['maxComputeWorkgroupsPerDimension'] ?? 0) >= 65535);
  });

  it('keys pipelines by what changes the WGSL, not by dimensions', async () => {
    const { tf } = env;
    const ctx = contextForBackend(env.backend);
    const a = matMulDefaults({ M: 5, N: 8, K: 12 });
    const b = matMulDefaults({ M: 9, N: 16, K: 4 });
    assert.equal(ctx.pipelines.keyOf(matMulProgram, a), ctx.pipelines.keyOf(matMulProgram, b));
    assert.notEqual(ctx.pipelines.keyOf(matMulProgram, a), ctx.pipelines.keyOf(matMulProgram, { ...a, activation: 'relu' }));
    // Two matmuls of different sizes but the same layout (and, on lavapipe, the same rows per
    // workgroup of the texture core: both M > 8) reuse one pipeline.
    await onGpu(env, () => tf.matMul(tf.ones([12, 12]), tf.ones([12, 8])));
    const size = ctx.pipelines.size;
    const misses = ctx.pipelines.misses;
    await onGpu(env, () => tf.matMul(tf.ones([20, 20]), tf.ones([20, 16])));
    assert.equal(ctx.pipelines.size, size);
    assert.equal(ctx.pipelines.misses, misses);
  });

  it('batches several dispatches into one submit', async () => {
    const ctx = contextForBackend(env.backend);
    const device = env.backend.device;
    const mk = (vals: number[]) => {
      const buf = device.createBuffer({ size: vals.length * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
      new Float32Array(buf.getMappedRange()).set(vals);
      buf.unmap();
      return buf;
    };
    const a = mk([1, 2, 3, 4]);           // 2×2
    const i2 = mk([1, 0, 0, 1]);          // identity
    const t = mk([0, 0, 0, 0]);
    const out = mk([0, 0, 0, 0]);
    const p = matMulDefaults({ M: 2, N: 2, K: 2 });
    const before = ctx.dispatches;
    const batch = new CommandBatch(ctx);
    batch.dispatch(matMulProgram, p, [a, i2, t]);               // t = a·I
    batch.dispatch(matMulProgram, { ...p, alpha: 2 }, [t, a, out]); // out = 2·t·a
    const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    batch.commandEncoder().copyBufferToBuffer(out, 0, read, 0, 16);
    batch.submit();
    await read.mapAsync(GPUMapMode.READ);
    assert.deepEqual([...new Float32Array(read.getMappedRange())], [14, 20, 30, 44]);
    read.unmap();
    assert.equal(ctx.dispatches - before, 2);
  });

  it("records our kernels into tfjs's encoder: no submit per kernel", async () => {
    const { tf } = env;
    const queue = (env.backend as unknown as { queue: GPUQueue }).queue;
    const submit = queue.submit.bind(queue);
    let submits = 0;
    queue.submit = (cbs: Iterable<GPUCommandBuffer>) => { submits++; submit(cbs); };
    try {
      const x = tf.tensor2d(randomArray(rng(11), 6 * 10), [6, 10]);
      await x.data(); // uploads and flushes whatever tfjs had pending
      const before = env.dispatches();
      submits = 0;
      const y = tf.tidy(() => tf.softmax(tf.relu(tf.softmax(tf.softmax(x)))));
      assert.equal(env.dispatches() - before, 3, 'our softmax ran three times');
      assert.equal(submits, 0, 'kernels were recorded, not submitted');
      const got = (await y.data()) as Float32Array;
      assert.equal(submits, 1, 'one submit at readback');
      const xv = await x.data();
      const want = await onCpu(tf, () => tf.tidy(() => tf.softmax(tf.relu(tf.softmax(tf.softmax(tf.tensor2d(xv, [6, 10])))))));
      assertClose(got, want, 1, 'softmax chain');
      tf.dispose([x, y]);
    } finally {
      queue.submit = submit;
    }
  });

  it('keeps inputs and uniforms valid until the submit that reads them', async () => {
    const { tf } = env;
    const rand = rng(12);
    const n = 8;
    // 20 dependent matmuls (more than tfjs's batch of 15) with a different uniform each and every
    // intermediate disposed right away; fresh uploads of the same size could take a released buffer.
    const ws = Array.from({ length: 20 }, () => randomArray(rand, n * n, -0.5, 0.5));
    const x0 = randomArray(rand, 3 * n);
    const run = (t: typeof tf) => {
      let y: tfType.Tensor = t.tensor2d(x0, [3, n]);
      ws.forEach((w, i) => {
        const next = t.matMul(y, t.tensor2d(w, [n, n]), false, i % 2 === 1);
        y.dispose();
        y = next;
        t.tensor2d(randomArray(rand, 3 * n), [3, n]).dispose();
      });
      return y;
    };
    // The texture core (lavapipe) records two dispatches per matmul: pack B, then the GEMM. All 20
    // packs reuse one texture, which is only safe because the dispatches run in queue order.
    const perMatMul = pickMatMulVariant(contextForBackend(env.backend).adapter, { M: 3, N: n, K: n, batch: 1, batchB: 1 }).variant === 'tex' ? 2 : 1;
    const before = env.dispatches();
    const got = await onGpu(env, () => run(tf));
    assert.equal(env.dispatches() - before, 20 * perMatMul);
    const want = await onCpu(tf, () => run(tf));
    assertClose(got.values, want, reductionScale(n) * 4, 'matmul chain');
  });

  it('packs uniforms as 4-byte fields padded to 16 bytes', () => {
    const buf = packUniforms([['u32', 7], ['f32', 0.5], ['i32', -2]]);
    assert.equal(buf.byteLength, 16);
    const v = new DataView(buf);
    assert.deepEqual([v.getUint32(0, true), v.getFloat32(4, true), v.getInt32(8, true)], [7, 0.5, -2]);
  });

  it('calls onDeviceLost handlers when the device goes away', async () => {
    const lost = new Promise<string>((resolve) => { onDeviceLost((info) => resolve(info.reason)); });
    env.backend.device.destroy();
    assert.equal(await lost, 'destroyed');
  });
});
