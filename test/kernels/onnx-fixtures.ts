// ONNX fixture loading and execution for the kernels' end-to-end test and bench/e2e-models.ts
// (self-contained: no onnxruntime-node, so it runs on the lent GPU machine too).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import type { BackendName } from '../../src/runtime/backends.js';
import type { Executor, ExecutorContext } from '../../src/runtime/executor.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import { onnxExecutorFactory } from '../../src/runtime/onnx/executor.js';
import type { DataType, HostTensor } from '../../src/runtime/types.js';

interface FixtureTensor { name: string; dtype: 'float32' | 'int64' | 'int32' | 'bool'; shape: number[]; data: string }
export interface E2eCase { inputs: HostTensor[]; outputs: HostTensor[] }

function decode(t: FixtureTensor): HostTensor {
  const b = Buffer.from(t.data, 'base64');
  const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const make: Record<FixtureTensor['dtype'], [DataType, (x: ArrayBuffer) => HostTensor['data']]> = {
    float32: ['FP32', (x) => new Float32Array(x)], int64: ['INT64', (x) => new BigInt64Array(x)],
    int32: ['INT32', (x) => new Int32Array(x)], bool: ['BOOL', (x) => new Uint8Array(x)],
  };
  const [datatype, f] = make[t.dtype];
  return { name: t.name, datatype, shape: t.shape, data: f(bytes) };
}

/** Fixture `name` from test/fixtures/onnx (model path and PyTorch's cases). */
export function loadE2eFixture(root: string, name: string): { path: string; cases: E2eCase[] } {
  const dir = join(root, 'test', 'fixtures', 'onnx');
  const json = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { model: string; cases: { inputs: FixtureTensor[]; outputs: FixtureTensor[] }[] };
  return { path: join(dir, json.model), cases: json.cases.map((c) => ({ inputs: c.inputs.map(decode), outputs: c.outputs.map(decode) })) };
}

/** The ONNX executor for `path` on the current tfjs backend, configured by its own auto-complete. */
export async function loadOnnx(path: string, backend: BackendName): Promise<{ executor: Executor; config: ModelConfig }> {
  const file = path.slice(dirname(path).length + 1);
  const d = await onnxExecutorFactory.deriveConfig(dirname(path), file);
  const config: ModelConfig = {
    name: 'm', platform: d.platform ?? 'onnxruntime_onnx', backend: d.backend ?? 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } }, max_batch_size: d.max_batch_size ?? 0,
    input: d.input ?? [], output: d.output ?? [], instance_group: [], default_model_filename: file, parameters: {},
  };
  const ctx: ExecutorContext = {
    modelName: 'm', version: 1, versionDir: dirname(path), modelDir: dirname(dirname(path)), config, backend, log: pino({ level: 'silent' }),
  };
  return { executor: await onnxExecutorFactory.load(ctx), config };
}

export function runOnnx(executor: Executor, config: ModelConfig, inputs: HostTensor[]): Promise<HostTensor[]> {
  return executor.execute({ inputs: new Map(inputs.map((t) => [t.name, t])), outputs: config.output.map((o) => o.name), parameters: {} });
}

/** The repository root (from test/kernels or dist/test/kernels). */
export function repoRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  while (!dir.endsWith('/test') && dir !== '/') dir = dirname(dir);
  dir = dirname(dir);
  return dir.endsWith('/dist') ? dirname(dir) : dir;
}
