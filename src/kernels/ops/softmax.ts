// Softmax over the last axis of a [rows, cols] view. 'row' = one thread per row (lavapipe),
// 'wg'/'sg' = one 64-thread workgroup per row with shared-memory or subgroup reductions.
// Three passes (max, exp+sum, scale) so exp runs once per element.
import type { RowVariant } from '../options.js';
import { type KernelProgram, packUniforms, uniformStruct } from '../program.js';
import { ROW_WG, reduceArgs, rowDispatch, rowEnable, rowMainHeader, rowReducers } from './rows.js';

export interface SoftmaxParams {
  rows: number;
  cols: number;
  variant: RowVariant;
  /** Read and write one buffer (attention scores); otherwise X → Y. */
  inPlace: boolean;
}

function source(p: SoftmaxParams): string {
  const v4 = p.cols % 4 === 0;
  const T = v4 ? 'vec4<f32>' : 'f32';
  const hmax = v4 ? 'max(max(x.x, x.y), max(x.z, x.w))' : 'x';
  const hsum = v4 ? 'dot(s, vec4<f32>(1.0))' : 's';
  const src = p.inPlace ? 'Y' : 'X';
  const bind = p.inPlace
    ? '@group(0) @binding(0) var<storage, read_write> Y : array<T>;\n@group(0) @binding(1) var<uniform> u : Uniforms;'
    : '@group(0) @binding(0) var<storage, read> X : array<T>;\n@group(0) @binding(1) var<storage, read_write> Y : array<T>;\n@group(0) @binding(2) var<uniform> u : Uniforms;';
  const row = p.variant === 'row';
  // Per-thread loop bounds: whole row, or a stride of the workgroup.
  const start = row ? '0u' : 'lid';
  const step = row ? '1u' : `${ROW_WG}u`;
  const args = reduceArgs(p.variant);
  return `${rowEnable(p.variant)}alias T = ${T};
${uniformStruct([['rows', 'u32'], ['cols', 'u32']])}
${bind}
${rowReducers(p.variant)}
${rowMainHeader(p.variant)}
  ${row ? 'if (row >= u.rows) { return; }' : 'if (row >= u.rows) { return; }'}
  let n = ${v4 ? 'u.cols / 4u' : 'u.cols'};
  let base = row * n;
  var m = -3.402823e38;
  for (var c = ${start}; c < n; c += ${step}) { let x = ${src}[base + c]; m = max(m, ${hmax}); }
  ${row ? '' : `m = rowMax(m, ${args});`}
  var s = T(0.0);
  for (var c = ${start}; c < n; c += ${step}) { let e = exp(${src}[base + c] - m); Y[base + c] = e; s += e; }
  var total = ${hsum};
  ${row ? '' : `total = rowSum(total, ${args});`}
  let inv = 1.0 / total;
  for (var c = ${start}; c < n; c += ${step}) { Y[base + c] = Y[base + c] * inv; }
}`;
}

export const softmaxProgram: KernelProgram<SoftmaxParams> = {
  name: 'softmax',
  key: (p) => `${p.variant},${p.cols % 4 === 0 ? 'v4' : 's'},${p.inPlace ? 'ip' : ''}`,
  wgsl: source,
  workgroupSize: [ROW_WG, 1, 1],
  dispatch: (p) => rowDispatch(p.variant, p.rows),
  uniforms: (p) => packUniforms([['u32', p.rows], ['u32', p.cols]]),
};
