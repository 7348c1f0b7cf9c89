// WebGPU device loss (issues 5 and 8), for real on the Dawn adapter (lavapipe in CI): the server
// serves an ONNX and a TF.js model on webgpu, the device is destroyed (`device.destroy()` resolves
// `device.lost` as a driver reset would), requests in flight and right after answer 503 with the
// loss's reason, the models show LOADING and come back READY on a new device, and inference gives
// the answer it gave before. Without the new device, the server falls back to wasm/cpu.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { onDeviceLost } from '../../src/kernels/device.js';
import { DEVICE_LOST_REASON } from '../../src/runtime/device-recovery.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import type { RepositoryIndexEntry } from '../../src/runtime/api.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { repoRoot } from '../helpers/paths.js';
import { checkHostileReply, request, type Reply } from './helpers.js';

const requireWebGpu = process.env['DAWNSERVE_REQUIRE_WEBGPU'] === '1';
const MODELS = ['digits', 'tfjs_mlp'];

const samples = JSON.parse(readFileSync(join(repoRoot(), 'models', 'digits', 'samples.json'), 'utf8')) as { shape: number[]; images: number[] };
const digitsBody = JSON.stringify({ inputs: [{ name: 'image', shape: samples.shape, datatype: 'FP32', data: samples.images }] });
const mlpBody = JSON.stringify({ inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [0.1, -0.5, 2, 0.3, 1, 1, -1, 0] }] });
const digitsTensor = (): HostTensor => ({ name: 'image', datatype: 'FP32', shape: samples.shape, data: Float32Array.from(samples.images) });

let server: RunningServer | undefined;
let skip: string | undefined;
let port = 0;
const before0: Record<string, number[]> = {};

before(async () => {
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp/xdg-dawnserve';
  mkdirSync(process.env['XDG_RUNTIME_DIR'], { recursive: true });
  try {
    server = await startDawnserve({
      modelRepository: join(repoRoot(), 'models'), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
      backend: 'webgpu', logLevel: 'silent', modelControlMode: 'explicit', loadModel: MODELS,
    });
  } catch (e) {
    const why = `WebGPU unavailable: ${(e as Error).message}`;
    if (requireWebGpu) throw new Error(`${why} (DAWNSERVE_REQUIRE_WEBGPU=1)`);
    skip = why;
    return;
  }
  port = server.httpPort;
  for (const [model, body] of [['digits', digitsBody], ['tfjs_mlp', mlpBody]] as const) before0[model] = await infer200(model, body);
});

after(async () => {
  await server?.close();
});

const backendInfo = (metrics: string): string[] => metrics.split('\n').filter((l) => l.startsWith('dawnserve_backend_info{'));

function outputOf(r: Reply): number[] {
  return (JSON.parse(r.body.toString()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
}

async function infer200(model: string, body: string): Promise<number[]> {
  const r = await request(port, { path: `/v2/models/${model}/infer`, body });
  assert.equal(r.status, 200, `${model}: ${r.body.toString()}`);
  return outputOf(r);
}

function assertClose(got: number[], want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= tol + tol * Math.abs(want[i]!), `${what}[${i}]: ${g} vs ${want[i]}`));
}

async function index(): Promise<RepositoryIndexEntry[]> {
  return server!.runtime.repositoryIndex(false);
}

/** Polls the runtime (bounded) until every model is READY again and no recovery runs. */
async function waitRecovered(timeoutMs = 120_000): Promise<RepositoryIndexEntry[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const entries = (await index()).filter((e) => MODELS.includes(e.name));
    if (!server!.deviceRecovery.recovering && entries.every((e) => e.state !== 'LOADING')) return entries;
    if (Date.now() > end) throw new Error(`models not reloaded in time: ${JSON.stringify(entries)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function currentDevice(): GPUDevice {
  const backend = tf.engine().registry['webgpu'] as unknown as WebGPUBackend | undefined;
  assert.ok(backend, 'no webgpu backend registered');
  return backend.device;
}

interface Loss {
  inflight: Promise<PromiseSettledResult<unknown>[]>;
  lostDevice: GPUDevice;
  /** Version states and a request made in the same tick as the server saw the loss. */
  statesAtLoss: string[];
  justAfter: Promise<PromiseSettledResult<unknown>[]>;
}

/** Destroys the device with requests in flight; resolves once the server has seen the loss. */
async function loseDevice(): Promise<Loss> {
  let statesAtLoss: string[] = [];
  let justAfter: Loss['justAfter'] = Promise.resolve([]);
  const lost = new Promise<void>((resolve) => {
    // Handlers run in subscription order: the server's (subscribed at start) has just run.
    const off = onDeviceLost(() => {
      off();
      const rt = server!.runtime;
      statesAtLoss = MODELS.flatMap((m) => [...(rt.manager.get(m)?.versions.values() ?? [])].map((v) => v.state));
      justAfter = Promise.allSettled([rt.infer({ model: 'tfjs_mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }], parameters: {} })]);
      resolve();
    });
  });
  // In the scheduler when the device goes: they reach the GPU only after this tick.
  const inflight = Promise.allSettled(Array.from({ length: 4 }, () => server!.runtime.infer({ model: 'digits', inputs: [digitsTensor()], parameters: {} })));
  const lostDevice = currentDevice();
  lostDevice.destroy();
  await lost;
  return { inflight, lostDevice, statesAtLoss, justAfter };
}

function assertDeviceLost503(results: PromiseSettledResult<unknown>[], what: string): void {
  for (const r of results) {
    assert.equal(r.status, 'rejected', `${what}: cannot succeed on the destroyed device`);
    const e = (r as PromiseRejectedResult).reason as unknown;
    assert.ok(e instanceof InferenceServerError, String(e));
    assert.equal(e.code, 'UNAVAILABLE', `${what}: ${e.message}`);
    assert.match(e.message, /GPU device lost; reloading models$/, what);
  }
}

test('device loss: in-flight and new requests get 503, models reload on a new device, same answers', async (t) => {
  if (skip) { t.skip(skip); return; }
  const s = server!;
  // Hold the new device back until the requests below have been answered, so that they arrive
  // during the recovery whatever the machine's speed.
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const requestAdapter = gpu.requestAdapter;
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => { release = resolve; });
  gpu.requestAdapter = (o?: GPURequestAdapterOptions) => held.then(() => requestAdapter.call(gpu, o));
  let lostDevice: GPUDevice;
  try {
    const loss = await loseDevice();
    lostDevice = loss.lostDevice;
    assert.deepEqual(loss.statesAtLoss, MODELS.map(() => 'LOADING'), 'every version on the lost device shows LOADING at once');
    assertDeviceLost503(await loss.justAfter, 'request right after the loss');
    const settled = await loss.inflight;
    assertDeviceLost503(settled, 'request in flight');
    for (const r of settled) assert.equal(((r as PromiseRejectedResult).reason as Error).message, DEVICE_LOST_REASON);

    // During the recovery, over HTTP: 503 with the reason, LOADING in the index, not ready, live.
    const during = await Promise.all([
      request(port, { path: '/v2/models/digits/infer', body: digitsBody }),
      request(port, { path: '/v2/models/tfjs_mlp/infer', body: mlpBody }),
      request(port, { path: '/v2/models/tfjs_mlp/versions/1/infer', body: mlpBody }),
    ]);
    for (const r of during) {
      checkHostileReply(r, 'request during recovery');
      assert.equal(r.status, 503, r.body.toString());
      assert.match(r.body.toString(), /GPU device lost; reloading models/);
    }
    const listed = JSON.parse((await request(port, { path: '/v2/repository/index', body: '{}' })).body.toString()) as RepositoryIndexEntry[];
    assert.deepEqual(listed.filter((e) => MODELS.includes(e.name)).map((e) => [e.name, e.state, e.reason]),
      MODELS.map((m) => [m, 'LOADING', DEVICE_LOST_REASON]));
    assert.equal((await request(port, { method: 'GET', path: '/v2/health/ready' })).status, 400);
    assert.equal((await request(port, { method: 'GET', path: '/v2/health/live' })).status, 200);
    assert.ok(s.deviceRecovery.recovering);
  } finally {
    release();
    gpu.requestAdapter = requestAdapter;
  }

  const entries = await waitRecovered();
  for (const e of entries) assert.equal(e.state, 'READY', JSON.stringify(e));
  assert.notEqual(currentDevice(), lostDevice, 'a new device');
  assert.equal(s.backend.backend, 'webgpu');
  assert.ok((s.backend.wgslKernels ?? []).length > 0, 'our kernels are registered on the new backend');
  const rec = s.deviceRecovery.history.at(-1)!;
  assert.equal(rec.backend, 'webgpu');
  assert.equal(rec.lost.reason, 'destroyed');
  assert.equal(rec.failed, 0);
  assert.ok(rec.reloaded >= MODELS.length);
  t.diagnostic(`recovered ${rec.reloaded} versions on a new device in ${rec.seconds.toFixed(3)} s (the test held the adapter meanwhile)`);

  assertClose(await infer200('digits', digitsBody), before0['digits']!, 1e-5, 'digits after recovery');
  assertClose(await infer200('tfjs_mlp', mlpBody), before0['tfjs_mlp']!, 1e-5, 'tfjs_mlp after recovery');
  // Our own metrics on webgpu: the adapter in backend_info, GPU bytes, WGSL kernel dispatches.
  const text = await s.runtime.metricsRegistry.metrics();
  assert.deepEqual(backendInfo(text), [
    `dawnserve_backend_info{backend="webgpu",adapter_vendor="${s.backend.adapter!.vendor}",adapter_architecture="${s.backend.adapter!.architecture}"} 1`,
  ]);
  assert.match(text, /^dawnserve_gpu_memory_bytes\{backend="webgpu"\} \d+$/m);
  assert.ok(Number(/^dawnserve_kernel_dispatches_total (\d+)$/m.exec(text)?.[1]) > 0, 'kernel dispatches counted');
  assert.equal((await request(port, { method: 'GET', path: '/v2/health/live' })).status, 200);
  assert.equal((await request(port, { method: 'GET', path: '/v2/health/ready' })).status, 200);
});

test('a second loss is recovered from too (the new device is watched)', async (t) => {
  if (skip) { t.skip(skip); return; }
  const count = server!.deviceRecovery.history.length;
  const { inflight } = await loseDevice();
  assertDeviceLost503(await inflight, 'request in flight at the second loss');
  await waitRecovered();
  assert.equal(server!.deviceRecovery.history.length, count + 1);
  assert.equal(server!.deviceRecovery.history.at(-1)!.backend, 'webgpu');
  t.diagnostic(`recovery, nothing held: ${server!.deviceRecovery.history.at(-1)!.seconds.toFixed(3)} s`);
  assertClose(await infer200('digits', digitsBody), before0['digits']!, 1e-5, 'digits after the second recovery');
});

test('no new device: falls back per the auto order (wasm, cpu) and serves there', async (t) => {
  if (skip) { t.skip(skip); return; }
  const s = server!;
  // Dawn offers no adapter any more, as after a GPU falls off the bus.
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const requestAdapter = gpu.requestAdapter;
  gpu.requestAdapter = () => Promise.resolve(null);
  try {
    const { inflight } = await loseDevice();
    await inflight;
    const entries = await waitRecovered();
    for (const e of entries) assert.equal(e.state, 'READY', JSON.stringify(e));
  } finally {
    gpu.requestAdapter = requestAdapter;
  }
  const rec = s.deviceRecovery.history.at(-1)!;
  assert.ok(rec.backend === 'wasm' || rec.backend === 'cpu', rec.backend);
  assert.match(rec.error ?? '', /adapter|setBackend/i);
  assert.equal(s.backend.backend, rec.backend);
  assert.match(s.backend.reasons.webgpu, /failed after device loss/);
  // The metrics follow the fallback: one backend_info series, the new backend's; no GPU bytes.
  const text = await s.runtime.metricsRegistry.metrics();
  assert.deepEqual(backendInfo(text), [`dawnserve_backend_info{backend="${rec.backend}",adapter_vendor="",adapter_architecture=""} 1`]);
  assert.doesNotMatch(text, /^dawnserve_gpu_memory_bytes\{/m);
  t.diagnostic(`fell back to ${rec.backend} in ${rec.seconds.toFixed(3)} s`);
  // Another backend: same answers within the fp32 tolerance of DESIGN §6.
  assertClose(await infer200('digits', digitsBody), before0['digits']!, 1e-4, `digits on ${rec.backend}`);
  assertClose(await infer200('tfjs_mlp', mlpBody), before0['tfjs_mlp']!, 1e-4, `tfjs_mlp on ${rec.backend}`);
});
