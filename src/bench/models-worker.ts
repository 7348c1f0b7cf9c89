// One implementation of `dawnserve bench models` in its own process: tfjs backends are global,
// so each backend (and onnxruntime, for symmetry) gets a fresh process. Sends one `{ row }`
// message per (model, batch) as soon as it is measured, then `{ done: true }`.
import { performance } from 'node:perf_hooks';
import { dirname } from 'node:path';
import pino from 'pino';
import type { HostTensor } from '../runtime/types.js';
import type { BackendName } from '../runtime/backends.js';
import { percentile, round } from './common.js';
import { benchInputs, type BenchModel } from './models-inputs.js';

export type Impl = 'onnxruntime' | 'onnxruntime-1t' | BackendName;

export interface WorkerJob {
  impl: Impl;
  models: BenchModel[];
  warmup: number;
  reps: number;
}

export interface ModelBenchRow {
  model: string;
  batch: number;
  /** `onnxruntime` (default threads), `onnxruntime-1t` (intra-op 1 thread), or a tfjs backend running dawnserve's executor. */
  impl: Impl;
  reps: number;
  p50_ms: number;
  p90_ms: number;
  mean_ms: number;
  error?: string;
}

type RunOnce = (inputs: HostTensor[]) => Promise<void>;
interface Runner { run: RunOnce; close(): Promise<void> }

const send = (m: unknown) => new Promise<void>((resolve) => { process.send?.(m as object, () => resolve()); });

async function timeIt(run: RunOnce, inputs: HostTensor[], warmup: number, reps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run(inputs);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run(inputs);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function ortRunner(path: string, threads: number | undefined): Promise<Runner> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(path, threads ? { intraOpNumThreads: threads } : {});
  const types: Partial<Record<HostTensor['datatype'], 'float32' | 'int64' | 'int32' | 'bool'>> = { FP32: 'float32', INT64: 'int64', INT32: 'int32', BOOL: 'bool' };
  return {
    run: async (inputs) => {
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const t of inputs) {
        const type = types[t.datatype];
        if (!type) throw new Error(`no onnxruntime type for ${t.datatype}`);
        feeds[t.name] = new ort.Tensor(type, t.data as Float32Array, t.shape);
      }
      await session.run(feeds);
    },
    close: () => session.release(),
  };
}

async function dawnserveRunner(path: string, backend: BackendName): Promise<Runner> {
  const { onnxExecutorFactory } = await import('../runtime/onnx/executor.js');
  const { deriveOnnxConfig } = await import('../runtime/onnx/executor.js');
  const { loadOnnxModel } = await import('../runtime/onnx/model.js');
  const d = deriveOnnxConfig(await loadOnnxModel(path));
  const filename = path.slice(dirname(path).length + 1);
  const config = {
    name: 'bench', platform: d.platform ?? 'onnxruntime_onnx', backend: d.backend ?? 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } }, max_batch_size: d.max_batch_size ?? 0,
    input: d.input ?? [], output: d.output ?? [], instance_group: [], default_model_filename: filename, parameters: {},
  };
  const executor = await onnxExecutorFactory.load({
    modelName: 'bench', version: 1, versionDir: dirname(path), modelDir: dirname(dirname(path)), config, backend, log: pino({ level: 'silent' }),
  });
  const outputs = config.output.map((o) => o.name);
  return {
    run: async (inputs) => { await executor.execute({ inputs: new Map(inputs.map((t) => [t.name, t])), outputs, parameters: {} }); },
    close: async () => { await executor.unload?.(); },
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;
  if (job.impl !== 'onnxruntime' && job.impl !== 'onnxruntime-1t') {
    try {
      const { initBackend } = await import('../runtime/backends.js');
      await initBackend(job.impl);
    } catch (e) {
      await send({ fatal: `backend '${job.impl}' unavailable: ${(e as Error).message}` });
      process.exit(0);
    }
  }
  for (const m of job.models) {
    let runner: Runner | undefined;
    let batches: Awaited<ReturnType<typeof benchInputs>> = [];
    let loadError: string | undefined;
    try {
      batches = await benchInputs(m);
      runner = job.impl === 'onnxruntime' ? await ortRunner(m.path, undefined)
        : job.impl === 'onnxruntime-1t' ? await ortRunner(m.path, 1)
          : await dawnserveRunner(m.path, job.impl);
    } catch (e) {
      loadError = `load failed: ${(e as Error).message}`;
    }
    for (const b of batches.length ? batches : [{ batch: 1, inputs: [] }]) {
      const row: ModelBenchRow = { model: m.name, batch: b.batch, impl: job.impl, reps: 0, p50_ms: Number.NaN, p90_ms: Number.NaN, mean_ms: Number.NaN };
      if (loadError || !runner) {
        row.error = loadError ?? 'not loaded';
      } else {
        try {
          const t = await timeIt(runner.run, b.inputs, job.warmup, job.reps);
          row.reps = t.length;
          row.p50_ms = round(percentile(t, 0.5), 3);
          row.p90_ms = round(percentile(t, 0.9), 3);
          row.mean_ms = round(t.reduce((a, x) => a + x, 0) / t.length, 3);
        } catch (e) {
          row.error = (e as Error).message.slice(0, 300);
        }
      }
      await send({ row });
    }
    try {
      await runner?.close();
    } catch {
      // a failed unload does not change the timings already taken
    }
  }
  await send({ done: true });
  process.exit(0);
}

process.on('disconnect', () => process.exit(0));
await main();
