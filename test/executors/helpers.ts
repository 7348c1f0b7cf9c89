// Shared helpers for the executor tests: repo-root lookup (works from test/ under tsx and from
// dist/test/ when compiled) and ExecutorContext construction.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { ExecutorContext } from '../../src/runtime/executor.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import type { BackendName } from '../../src/runtime/backends.js';
import type { DataType, HostTensor, TensorData } from '../../src/runtime/types.js';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    // dist/ has no package.json, so the first one found walking up is the repository's.
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
}

export function modelsDir(): string {
  return path.join(repoRoot(), 'models');
}

export function makeContext(config: ModelConfig, backend: BackendName, modelDir = '', version = 1): ExecutorContext {
  return {
    modelName: config.name, version, versionDir: modelDir ? path.join(modelDir, String(version)) : '', modelDir,
    config, backend, log: pino({ level: 'silent' }),
  };
}

export function host(name: string, datatype: DataType, shape: number[], data: TensorData): HostTensor {
  return { name, datatype, shape, data };
}

export function inputsMap(...tensors: HostTensor[]): Map<string, HostTensor> {
  return new Map(tensors.map((t) => [t.name, t]));
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (values: (string | number)[]): Uint8Array[] => values.map((v) => enc.encode(String(v)));
export const strings = (data: TensorData): string[] => (data as Uint8Array[]).map((b) => dec.decode(b));
