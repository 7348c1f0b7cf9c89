// Process-wide switches: tests force each variant; `--no-wgsl-kernels` and the benchmark turn
// our kernels off so tfjs's own run on the same device.
import type { MatMulVariant } from './ops/matmul.js';
import type { TileConfig } from './ops/tiled.js';

export type RowVariant = 'row' | 'wg' | 'sg';

export interface KernelOptions {
  enabled: boolean;
  matmul?: MatMulVariant;
  /** softmax / layer norm: thread per row, workgroup per row (shared memory), or subgroups. */
  rows?: RowVariant;
  conv?: MatMulVariant;
  /** Force the block tile of the 'tiled' matmul/conv variant (tests, tuning). */
  tile?: TileConfig;
  /** Run our kernel even where the router prefers tfjs's (the benchmark measures both). */
  alwaysOurs?: boolean;
}

export const kernelOptions: KernelOptions = { enabled: true };

export function setKernelOptions(o: Partial<KernelOptions>): KernelOptions {
  Object.assign(kernelOptions, o);
  for (const k of ['matmul', 'rows', 'conv', 'tile', 'alwaysOurs'] as const) if (k in o && o[k] === undefined) delete kernelOptions[k];
  return { ...kernelOptions };
}
