// NHWC convolution as an implicit GEMM: rows = output pixels (N·Ho·Wo), columns = output
// channels, K = Kh·Kw·Cin walked as (kh, kw, ci) so the im2col index math (div/mod) is done once
// per output pixel, not per element. Register-blocked like the 'reg' matmul: 4 pixels × 4·nv
// channels per thread, vec4 along Cin and Cout when they divide by 4, no workgroup memory.
import { type Activation, activationWgsl } from './activation.js';
import { type MatMulVariant, epilogue } from './matmul.js';
import { type TexRows, packBProgram, paddedK, texDispatch, texMain } from './texmm.js';
import type { Binding, KernelRecorder } from '../dispatcher.js';
import type { PackSource } from '../pack-cache.js';
import { type TileConfig, tileName, tileWorkgroup, tiledMain } from './tiled.js';
import { foldGroups } from './rows.js';
import { type KernelProgram, ceilDiv, packUniforms, uniformStruct } from '../program.js';

export interface ConvGeometry {
  batch: number; inH: number; inW: number; inC: number;
  outH: number; outW: number; outC: number;
  fh: number; fw: number; strideH: number; strideW: number; dilH: number; dilW: number;
  padTop: number; padLeft: number;
}

export interface Conv2DParams extends ConvGeometry {
  activation: Activation; leakyAlpha: number; bias: boolean; biasLen: number;
  /** 'reg' block per thread: tm output pixels × 4·nv output channels. */
  nv: 1 | 2; tm: 1 | 2 | 4 | 8 | 16;
  /**
   * 'reg' (software adapters), 'tex' (lavapipe: the filter packed into a texture, im2col rows
   * shared through subgroups, ops/texmm.ts) or 'tiled' (real GPUs: implicit GEMM on the
   * shared-memory core).
   */
  variant: MatMulVariant; tile: TileConfig;
}

export interface DepthwiseParams extends ConvGeometry {
  activation: Activation; leakyAlpha: number; bias: boolean; biasLen: number;
}

const CONV_UNIFORMS = [
  ['M', 'u32'], ['N', 'u32'], ['biasLen', 'u32'], ['alpha', 'f32'], ['leak', 'f32'],
  ['inH', 'i32'], ['inW', 'i32'], ['inC', 'u32'], ['outH', 'u32'], ['outW', 'u32'],
  ['fh', 'u32'], ['fw', 'u32'], ['strideH', 'i32'], ['strideW', 'i32'], ['dilH', 'i32'], ['dilW', 'i32'],
  ['padTop', 'i32'], ['padLeft', 'i32'], ['K', 'u32'], ['batchB', 'u32'], ['Kp', 'u32'],
] as const;

function convUniforms(g: ConvGeometry, M: number, N: number, biasLen: number, leak: number): ArrayBuffer {
  return packUniforms([
    ['u32', M], ['u32', N], ['u32', biasLen], ['f32', 1], ['f32', leak],
    ['i32', g.inH], ['i32', g.inW], ['u32', g.inC], ['u32', g.outH], ['u32', g.outW],
    ['u32', g.fh], ['u32', g.fw], ['i32', g.strideH], ['i32', g.strideW], ['i32', g.dilH], ['i32', g.dilW],
    ['i32', g.padTop], ['i32', g.padLeft], ['u32', g.fh * g.fw * g.inC], ['u32', 1], ['u32', paddedK(g.fh * g.fw * g.inC)],
  ]);
}

function convSource(p: Conv2DParams): string {
  const cinV = p.inC % 4 === 0;
  const coutV = p.outC % 4 === 0;
  const NV = p.nv;
  const TM = p.tm;
  const rows = [...Array(TM).keys()];
  const vs = [...Array(NV).keys()];
  const bAt = (k: string, j: number): string => (coutV
    ? `W[(${k}) * N4 + min(col4 + ${j}u, N4 - 1u)]`
    : `vec4<f32>(${[0, 1, 2, 3].map((e) => `W[(${k}) * u.N + min(col0 + ${4 * j + e}u, u.N - 1u)]`).join(', ')})`);
  const fmaRow = (a: (r: number) => string, b: (j: number) => string): string =>
    rows.flatMap((r) => vs.map((j) => `acc${r}_${j} = fma(vec4<f32>(${a(r)}), ${b(j)}, acc${r}_${j});`)).join('\n        ');
  const inner = cinV
    ? `for (var ci = 0u; ci < u.inC; ci += 4u) {
        ${rows.map((r) => `let a${r} = select(vec4<f32>(0.0), X[(x${r} + ci) / 4u], ok${r});`).join('\n        ')}
        ${[0, 1, 2, 3].map((kk) => `${vs.map((j) => `let b${kk}_${j} = ${bAt(`kb + ci + ${kk}u`, j)};`).join(' ')}
        ${fmaRow((r) => `a${r}[${kk}]`, (j) => `b${kk}_${j}`)}`).join('\n        ')}
      }`
    : `for (var ci = 0u; ci < u.inC; ci++) {
        ${rows.map((r) => `let a${r} = select(0.0, X[x${r} + ci], ok${r});`).join('\n        ')}
        ${vs.map((j) => `let b${j} = ${bAt('kb + ci', j)};`).join('\n        ')}
        ${fmaRow((r) => `a${r}`, (j) => `b${j}`)}
      }`;
  return `${uniformStruct(CONV_UNIFORMS)}
@group(0) @binding(0) var<storage, read> X : array<${cinV ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> W : array<${coutV ? 'vec4<f32>' : 'f32'}>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias : array<f32>;' : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> C : array<${coutV ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> u : Uniforms;
${activationWgsl(p.activation)}
${epilogue({ mask: false, bias: p.bias }, { outVec: coutV })}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let z = 0u;
  let row0 = gid.y * ${TM}u;
  let col0 = gid.x * ${4 * NV}u;
  let col4 = gid.x * ${NV}u;
  let N4 = u.N / 4u;
  let hw = u.outH * u.outW;
  ${rows.map((r) => `let p${r} = min(row0 + ${r}u, u.M - 1u);
  let n${r} = p${r} / hw;
  let oh${r} = i32((p${r} % hw) / u.outW) * u.strideH - u.padTop;
  let ow${r} = i32(p${r} % u.outW) * u.strideW - u.padLeft;`).join('\n  ')}
  ${rows.flatMap((r) => vs.map((j) => `var acc${r}_${j} = vec4<f32>(0.0);`)).join('\n  ')}
  for (var kh = 0u; kh < u.fh; kh++) {
    for (var kw = 0u; kw < u.fw; kw++) {
      let kb = (kh * u.fw + kw) * u.inC;
      ${rows.map((r) => `let ih${r} = oh${r} + i32(kh) * u.dilH;
      let iw${r} = ow${r} + i32(kw) * u.dilW;
      let ok${r} = ih${r} >= 0 && ih${r} < u.inH && iw${r} >= 0 && iw${r} < u.inW;
      let x${r} = select(0u, ((n${r} * u32(u.inH) + u32(ih${r})) * u32(u.inW) + u32(iw${r})) * u.inC, ok${r});`).join('\n      ')}
      ${inner}
    }
  }
  ${rows.flatMap((r) => vs.map((j) => `store(z, row0 + ${r}u, col0 + ${4 * j}u, acc${r}_${j});`)).join('\n  ')}
}`;
}

// Implicit GEMM on the tiled core: A(m, k) is the im2col element of output pixel m and
// k = (kh·fw + kw)·Cin + ci, computed per load (one div/mod chain per vec4 of A per K step).
function convTiledSource(p: Conv2DParams): string {
  const cinV = p.inC % 4 === 0;
  const coutV = p.outC % 4 === 0;
  const TA = cinV ? 'vec4<f32>' : 'f32';
  const TB = coutV ? 'vec4<f32>' : 'f32';
  return `${uniformStruct(CONV_UNIFORMS)}
@group(0) @binding(0) var<storage, read> X : array<${TA}>;
@group(0) @binding(1) var<storage, read> W : array<${TB}>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias : array<f32>;' : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> C : array<${TB}>;
@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> u : Uniforms;
${activationWgsl(p.activation)}
${epilogue({ mask: false, bias: p.bias }, { outVec: coutV })}

fn readA(z : u32, m : u32, k : u32) -> ${TA} {
  if (m >= u.M || k >= u.K) { return ${TA}(0.0); }
  let ci = k % u.inC;
  let kq = k / u.inC;
  let kw = kq % u.fw;
  let kh = kq / u.fw;
  let hw = u.outH * u.outW;
  let n = m / hw;
  let pix = m % hw;
  let ih = i32(pix / u.outW) * u.strideH - u.padTop + i32(kh) * u.dilH;
  let iw = i32(pix % u.outW) * u.strideW - u.padLeft + i32(kw) * u.dilW;
  if (ih < 0 || ih >= u.inH || iw < 0 || iw >= u.inW) { return ${TA}(0.0); }
  return X[(((n * u32(u.inH) + u32(ih)) * u32(u.inW) + u32(iw)) * u.inC + ci)${cinV ? ' / 4u' : ''}];
}
fn readB(z : u32, k : u32, n : u32) -> ${TB} {
  if (k >= u.K || n >= u.N) { return ${TB}(0.0); }
  return W[(k * u.N + n)${coutV ? ' / 4u' : ''}];
}
${tiledMain(p.tile, cinV ? 'k4' : 'k1', coutV ? 'n4' : 'n1')}`;
}

// Implicit GEMM on the texture core: the filter [Kh·Kw·Cin, Cout] is B (packed into a texture by
// `recordConv2D`), and each lane walks its own k = (kh, kw, ci), stepping by the subgroup size with
// carries instead of a div/mod per element (integer division is scalarized on the CPU).
function convTexSource(p: Conv2DParams): string {
  const coutV = p.outC % 4 === 0;
  return `enable subgroups;
${uniformStruct(CONV_UNIFORMS)}
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var Bt : texture_2d<f32>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias : array<f32>;' : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> C : array<${coutV ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> u : Uniforms;
${activationWgsl(p.activation)}
${epilogue({ mask: false, bias: p.bias }, { outVec: coutV })}

// Branch-free (select, clamped index): a load under \`if\` costs llvmpipe a mask region per row.
fn convA(xb : u32, oh : i32, ow : i32, kh : u32, kw : u32, ci : u32) -> f32 {
  let ih = oh + i32(kh) * u.dilH;
  let iw = ow + i32(kw) * u.dilW;
  let ok = kh < u.fh && ih >= 0 && ih < u.inH && iw >= 0 && iw < u.inW;
  let i = select(0u, xb + (u32(ih) * u32(u.inW) + u32(iw)) * u.inC + ci, ok);
  return select(0.0, X[i], ok);
}

${texMain(p.tm as TexRows, {
    rowSetup: (r) => `let pix${r} = rowc${r} % (u.outH * u.outW);
  let xb${r} = (rowc${r} / (u.outH * u.outW)) * u32(u.inH) * u32(u.inW) * u.inC;
  let oh${r} = i32(pix${r} / u.outW) * u.strideH - u.padTop;
  let ow${r} = i32(pix${r} % u.outW) * u.strideW - u.padLeft;`,
    kSetup: `var ci = sl % u.inC;
  var kw = (sl / u.inC) % u.fw;
  var kh = (sl / u.inC) / u.fw;`,
    load: (r) => `convA(xb${r}, oh${r}, ow${r}, kh, kw, ci)`,
    kAdvance: `ci += 8u;
    loop {
      if (ci < u.inC) { break; }
      ci -= u.inC;
      kw += 1u;
      if (kw == u.fw) { kw = 0u; kh += 1u; }
    }`,
  })}`;
}

export const conv2dProgram: KernelProgram<Conv2DParams> = {
  name: 'conv2d',
  key: (p) => `${p.variant === 'tiled' ? `tiled${tileName(p.tile)}` : `${p.variant},nv${p.nv}tm${p.tm}`},${p.inC % 4 === 0 ? 'cV' : ''},${p.outC % 4 === 0 ? 'oV' : ''},${p.activation},${p.bias ? 'bias' : ''}`,
  wgsl: (p) => (p.variant === 'tiled' ? convTiledSource(p) : p.variant === 'tex' ? convTexSource(p) : convSource(p)),
  workgroupSize: (p) => (p.variant === 'tiled' ? tileWorkgroup(p.tile) : p.variant === 'tex' ? [8, 1, 1] : [8, 8, 1]),
  dispatch: (p) => {
    const M = p.batch * p.outH * p.outW;
    if (p.variant === 'tex') return texDispatch(M, p.outC, 1, p.tm as TexRows);
    return p.variant === 'tiled' ? [ceilDiv(p.outC, p.tile.bn), ceilDiv(M, p.tile.bm), 1] : [ceilDiv(p.outC, 8 * 4 * p.nv), ceilDiv(M, 8 * p.tm), 1];
  },
  uniforms: (p) => convUniforms(p, p.batch * p.outH * p.outW, p.outC, p.biasLen, p.leakyAlpha),
};

/** Records a conv2d with `bindings` = [X, W, bias?, C]; the 'tex' variant packs W first. */
export function recordConv2D(rec: KernelRecorder, pack: PackSource, p: Conv2DParams, bindings: readonly Binding[]): void {
  if (p.variant !== 'tex') {
    rec.dispatch(conv2dProgram, p, bindings);
    return;
  }
  const K = p.fh * p.fw * p.inC;
  const target = pack(ceilDiv(p.outC, 4), paddedK(K));
  const view = { view: target.view };
  if (!target.filled) {
    rec.dispatch(packBProgram, { K, N: p.outC, batchB: 1, transB: false }, [bindings[1]!, view]);
    target.markFilled();
  }
  rec.dispatch(conv2dProgram, p, [bindings[0]!, view, ...bindings.slice(2)]);
}

const DW_WG = 64;

function depthwiseSource(p: DepthwiseParams): string {
  const v4 = p.inC % 4 === 0;
  const T = v4 ? 'vec4<f32>' : 'f32';
  return `${uniformStruct(CONV_UNIFORMS)}
@group(0) @binding(0) var<storage, read> X : array<${T}>;
@group(0) @binding(1) var<storage, read> W : array<${T}>;
${p.bias ? `@group(0) @binding(2) var<storage, read> bias : array<${T}>;` : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> C : array<${T}>;
@group(0) @binding(${p.bias ? 4 : 3}) var<uniform> u : Uniforms;
${activationWgsl(p.activation)}

@compute @workgroup_size(${DW_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  // One thread per (output pixel, channel${v4 ? ' group of 4' : ''}).
  let i = (wid.y * nwg.x + wid.x) * ${DW_WG}u + lid;
  let cn = ${v4 ? 'u.N / 4u' : 'u.N'};
  if (i >= u.M * cn) { return; }
  let c = i % cn;
  let p = i / cn;
  let hw = u.outH * u.outW;
  let n = p / hw;
  let oh = i32((p % hw) / u.outW) * u.strideH - u.padTop;
  let ow = i32(p % u.outW) * u.strideW - u.padLeft;
  var acc = ${T}(0.0);
  for (var kh = 0u; kh < u.fh; kh++) {
    let ih = oh + i32(kh) * u.dilH;
    if (ih < 0 || ih >= u.inH) { continue; }
    for (var kw = 0u; kw < u.fw; kw++) {
      let iw = ow + i32(kw) * u.dilW;
      if (iw < 0 || iw >= u.inW) { continue; }
      let xi = ((n * u32(u.inH) + u32(ih)) * u32(u.inW) + u32(iw)) * cn + c;
      acc = fma(X[xi], W[(kh * u.fw + kw) * cn + c], acc);
    }
  }
  ${p.bias ? 'acc = acc + bias[c];' : ''}
  C[i] = ${v4 ? 'activate(acc, u.leak)' : 'activate(vec4<f32>(acc), u.leak).x'};
}`;
}

export const depthwiseProgram: KernelProgram<DepthwiseParams> = {
  name: 'depthwise',
  key: (p) => `${p.inC % 4 === 0 ? 'v4' : 's'},${p.activation},${p.bias ? 'bias' : ''}`,
  wgsl: depthwiseSource,
  workgroupSize: [DW_WG, 1, 1],
  dispatch: (p) => foldGroups(ceilDiv(p.batch * p.outH * p.outW * (p.inC % 4 === 0 ? p.inC / 4 : p.inC), DW_WG)),
  uniforms: (p) => convUniforms(p, p.batch * p.outH * p.outW, p.outC, p.biasLen, p.leakyAlpha),
};
