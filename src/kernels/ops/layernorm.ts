// Layer normalization over the last axis: y = (x − mean)·rsqrt(var + eps)·gamma + beta.
// Two-pass variance (mean first, then Σ(x−mean)²): the one-pass Σx² form cancels badly when
// |mean| ≫ std, and the second read of a row is cheap (it is still in cache).
import type { RowVariant } from '../options.js';
import { type KernelProgram, packUniforms, uniformStruct } from '../program.js';
import { ROW_WG, reduceArgs, rowDispatch, rowEnable, rowMainHeader, rowReducers } from './rows.js';

export interface LayerNormParams {
  rows: number;
  cols: number;
  eps: number;
  variant: RowVariant;
  /** gamma/beta present (otherwise 1 and 0). */
  affine: boolean;
}

function source(p: LayerNormParams): string {
  const v4 = p.cols % 4 === 0;
  const T = v4 ? 'vec4<f32>' : 'f32';
  const hsum = (e: string): string => (v4 ? `dot(${e}, vec4<f32>(1.0))` : e);
  const row = p.variant === 'row';
  const start = row ? '0u' : 'lid';
  const step = row ? '1u' : `${ROW_WG}u`;
  const args = reduceArgs(p.variant);
  const bind = p.affine
    ? `@group(0) @binding(0) var<storage, read> X : array<T>;
@group(0) @binding(1) var<storage, read> G : array<T>;
@group(0) @binding(2) var<storage, read> Bt : array<T>;
@group(0) @binding(3) var<storage, read_write> Y : array<T>;
@group(0) @binding(4) var<uniform> u : Uniforms;`
    : `@group(0) @binding(0) var<storage, read> X : array<T>;
@group(0) @binding(1) var<storage, read_write> Y : array<T>;
@group(0) @binding(2) var<uniform> u : Uniforms;`;
  return `${rowEnable(p.variant)}alias T = ${T};
${uniformStruct([['rows', 'u32'], ['cols', 'u32'], ['eps', 'f32']])}
${bind}
${rowReducers(p.variant)}
${rowMainHeader(p.variant)}
  if (row >= u.rows) { return; }
  let n = ${v4 ? 'u.cols / 4u' : 'u.cols'};
  let base = row * n;
  var s = T(0.0);
  for (var c = ${start}; c < n; c += ${step}) { s += X[base + c]; }
  var total = ${hsum('s')};
  ${row ? '' : `total = rowSum(total, ${args});`}
  let mean = total / f32(u.cols);
  var q = T(0.0);
  for (var c = ${start}; c < n; c += ${step}) { let d = X[base + c] - mean; q = fma(d, d, q); }
  var sq = ${hsum('q')};
  ${row ? '' : `sq = rowSum(sq, ${args});`}
  let rstd = inverseSqrt(sq / f32(u.cols) + u.eps);
  for (var c = ${start}; c < n; c += ${step}) {
    Y[base + c] = ${p.affine ? 'fma((X[base + c] - mean) * rstd, G[c], Bt[c])' : '(X[base + c] - mean) * rstd'};
  }
}`;
}

export const layerNormProgram: KernelProgram<LayerNormParams> = {
  name: 'layernorm',
  key: (p) => `${p.variant},${p.cols % 4 === 0 ? 'v4' : 's'},${p.affine ? 'affine' : ''}`,
  wgsl: source,
  workgroupSize: [ROW_WG, 1, 1],
  dispatch: (p) => rowDispatch(p.variant, p.rows),
  uniforms: (p) => packUniforms([['u32', p.rows], ['u32', p.cols], ['f32', p.eps]]),
};
