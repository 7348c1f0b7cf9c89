// Shared test helpers: fixture loading, backends, onnxruntime reference runs, tolerance checks.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-node';
import pino from 'pino';
import type { DataType, HostTensor } from '../../src/runtime/types.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import type { Executor, ExecutorContext } from '../../src/runtime/executor.js';
import type { BackendName } from '../../src/runtime/backends.js';
import { onnxExecutorFactory } from '../../src/runtime/onnx/executor.js';

/** The repository root: the nearest folder above this file with a package.json (works from test/ and dist/test/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

export const fixtureDir = () => join(repoRoot(), 'test', 'fixtures', 'onnx');

interface FixtureTensor { name: string; dtype: 'float32' | 'int64' | 'int32' | 'bool'; shape: number[]; data: string }
export interface FixtureCase { inputs: HostTensor[]; outputs: HostTensor[] }
export interface Fixture { name: string; path: string; opset: number; cases: FixtureCase[] }

function decode(t: FixtureTensor): HostTensor {
  const buf = Buffer.from(t.data, 'base64');
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const map: Record<FixtureTensor['dtype'], [DataType, (b: ArrayBuffer) => HostTensor['data']]> = {
    float32: ['FP32', (b) => new Float32Array(b)],
    int64: ['INT64', (b) => new BigInt64Array(b)],
    int32: ['INT32', (b) => new Int32Array(b)],
    bool: ['BOOL', (b) => new Uint8Array(b)],
  };
  const [datatype, make] = map[t.dtype];
  return { name: t.name, datatype, shape: t.shape, data: make(bytes.buffer) };
}

export function loadFixture(name: string): Fixture {
  const json = JSON.parse(readFileSync(join(fixtureDir(), `${name}.json`), 'utf8')) as {
    model: string; opset: number; cases: { inputs: FixtureTensor[]; outputs: FixtureTensor[] }[];
  };
  return {
    name, path: join(fixtureDir(), json.model), opset: json.opset,
    cases: json.cases.map((c) => ({ inputs: c.inputs.map(decode), outputs: c.outputs.map(decode) })),
  };
}

/** Makes `name` the active tfjs backend; resolves false (with the reason) when it cannot start. */
export async function useBackend(name: BackendName): Promise<true | string> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (name === 'webgpu') {
      process.env.XDG_RUNTIME_DIR ??= '/tmp';
      const { installWebGpuGlobals } = await import('../../src/kernels/index.js');
      await installWebGpuGlobals();
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok ? true : `tfjs backend '${name}' did not initialise`;
  } catch (e) {
    return `tfjs backend '${name}' unavailable: ${(e as Error).message}`;
  }
}

/** A complete ModelConfig from the executor's own auto-complete, as the repository would build it. */
export async function configFor(path: string, name = 'm'): Promise<ModelConfig> {
  const d = await onnxExecutorFactory.deriveConfig(dirname(path), path.slice(dirname(path).length + 1));
  return {
    name, platform: d.platform ?? 'onnxruntime_onnx', backend: d.backend ?? 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } }, max_batch_size: d.max_batch_size ?? 0,
    input: d.input ?? [], output: d.output ?? [], instance_group: [],
    default_model_filename: path.slice(dirname(path).length + 1), parameters: {},
  };
}

export async function loadExecutor(path: string, config?: ModelConfig): Promise<{ executor: Executor; config: ModelConfig }> {
  const cfg = config ?? await configFor(path);
  const ctx: ExecutorContext = {
    modelName: cfg.name, version: 1, versionDir: dirname(path), modelDir: dirname(dirname(path)), config: cfg,
    backend: tf.getBackend() as BackendName, log: pino({ level: 'silent' }),
  };
  return { executor: await onnxExecutorFactory.load(ctx), config: cfg };
}

export async function execute(executor: Executor, config: ModelConfig, inputs: HostTensor[]): Promise<HostTensor[]> {
  return executor.execute({
    inputs: new Map(inputs.map((t) => [t.name, t])), outputs: config.output.map((o) => o.name), parameters: {},
  });
}

const ORT_TYPES: Partial<Record<DataType, ort.Tensor.Type>> = { FP32: 'float32', INT64: 'int64', INT32: 'int32', BOOL: 'bool' };

/** onnxruntime-node's answer for the same model and inputs, as float64 values by output name. */
export async function runOrt(path: string, inputs: HostTensor[]): Promise<Map<string, { dims: number[]; values: number[] }>> {
  const session = await ort.InferenceSession.create(path);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      const type = ORT_TYPES[t.datatype];
      if (!type) throw new Error(`no onnxruntime type for ${t.datatype}`);
      feeds[t.name] = new ort.Tensor(type, t.data as Float32Array, t.shape);
    }
    const out = await session.run(feeds);
    return new Map(Object.entries(out).map(([k, v]) => [k, {
      dims: [...v.dims], values: Array.from(v.data as ArrayLike<number | bigint>, Number),
    }]));
  } finally {
    await session.release();
  }
}

export function numbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Asserts |a − e| ≤ atol + rtol·|e| element-wise (the project's fp32 tolerance by default). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-4, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (Number.isNaN(a) !== Number.isNaN(e) || excess > worst) { worst = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : excess; at = i; }
  }
  assert.ok(at < 0, `${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (beyond tolerance by ${worst})`);
}

/**
 * Loads the model with our executor, runs `feeds` through it and through onnxruntime-node, and
 * asserts equal shapes and values within `1e-4 + 1e-4·|e|`; with `checkLeaks`, a second run must
 * leave tf.memory().numTensors unchanged. The executor is unloaded afterwards.
 */
export async function compareWithOrt(path: string, feeds: HostTensor[], what: string, opts: { checkLeaks?: boolean } = {}): Promise<void> {
  const want = await runOrt(path, feeds);
  const { executor, config } = await loadExecutor(path);
  try {
    const got = await execute(executor, config, feeds);
    for (const out of got) {
      const expected = want.get(out.name)!;
      assert.deepEqual(out.shape, expected.dims, `${what} ${out.name}: shape`);
      assertClose(numbers(out), expected.values, `${what} ${out.name}`);
    }
    if (opts.checkLeaks) {
      const count = tf.memory().numTensors;
      await execute(executor, config, feeds);
      assert.equal(tf.memory().numTensors, count, `${what}: tensors leaked`);
    }
  } finally {
    await executor.unload();
  }
}
