// Batched matmul C[z] = act(alpha·op(A[z])·op(B[z]) + mask[z] + bias), fp32.
// Two variants, chosen from the adapter:
//  - 'reg' (software adapters): each thread keeps a 4×(4·nv) block in registers, vec4 loads where
//    the layout allows, no workgroup memory. On lavapipe this measured ~2× tfjs's shared-memory
//    kernel: llvmpipe runs a workgroup on one CPU thread, so barriers are emulated and the CPU
//    caches already provide the reuse that shared memory buys on a GPU.
//  - 'tex' (software adapters with 8-wide subgroups, i.e. lavapipe): B packed into a texture and A
//    shared through subgroup broadcasts (ops/texmm.ts); ~2× 'reg' there. Needs a pack dispatch
//    first, so callers record it with `recordMatMul`.
//  - 'tiled' (real GPUs): 32×32 output tile per 8×8 workgroup staged through workgroup memory.
import type { AdapterSummary } from '../device.js';
import type { Binding, KernelRecorder } from '../dispatcher.js';
import { type Activation, activationWgsl } from './activation.js';
import { type KernelProgram, ceilDiv, packUniforms, uniformStruct } from '../program.js';
import { type ALoad, type BLoad, type TileConfig, tileName, tileWorkgroup, tiledMain } from './tiled.js';
import { type TexRows, packBProgram, packFits, paddedK, texCoreAvailable, texDispatch, texMain, texRows } from './texmm.js';
import type { PackSource } from '../pack-cache.js';

export type MatMulVariant = 'reg' | 'tiled' | 'tex';
/** 'grid': 8×8 threads per workgroup; 'rowu': 64×1 threads sharing their rows, so A loads are uniform. */
export type RegLayout = 'grid' | 'rowu';

export interface MatMulParams {
  M: number; N: number; K: number;
  /** Output batch; A and B batches are `z % batchA`, `z % batchB` (1 = broadcast). */
  batch: number; batchA: number; batchB: number;
  transA: boolean; transB: boolean;
  activation: Activation;
  leakyAlpha: number;
  /** Bias of length N (or 1), added after alpha/mask. */
  bias: boolean; biasLen: number;
  /** Additive mask [maskBatch, M, N] (attention), read at `z % maskBatch`. */
  mask: boolean; maskBatch: number;
  alpha: number;
  variant: MatMulVariant;
  /** vec4 columns per thread in the 'reg' variant (1 → 4 cols, 2 → 8 cols). */
  nv: 1 | 2;
  /** Rows per thread in the 'reg' variant; rows per workgroup in the 'tex' variant. */
  tm: 1 | 2 | 4 | 8 | 16;
  reg: RegLayout;
  /** Block tile of the 'tiled' variant. */
  tile: TileConfig;
}

export function matMulDefaults(p: Partial<MatMulParams> & Pick<MatMulParams, 'M' | 'N' | 'K'>): MatMulParams {
  return {
    batch: 1, batchA: 1, batchB: 1, transA: false, transB: false, activation: 'linear', leakyAlpha: 0.2,
    bias: false, biasLen: 1, mask: false, maskBatch: 1, alpha: 1, variant: 'reg', nv: 1, tm: 4, reg: 'grid', tile: TILE_32, ...p,
  };
}

interface Layout { aVec: boolean; bVecN: boolean; bVecK: boolean; outVec: boolean }

function layoutOf(p: MatMulParams): Layout {
  const aVec = !p.transA && p.K % 4 === 0;
  return { aVec, bVecN: !p.transB && p.N % 4 === 0, bVecK: p.transB && p.K % 4 === 0 && aVec, outVec: p.N % 4 === 0 };
}

const UNIFORMS = [
  ['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['batchA', 'u32'], ['batchB', 'u32'], ['biasLen', 'u32'],
  ['maskBatch', 'u32'], ['alpha', 'f32'], ['leak', 'f32'], ['Kp', 'u32'],
] as const;

function bindings(p: MatMulParams, l: Layout): string {
  const decl: string[] = [];
  let i = 0;
  const reg = p.variant === 'reg';
  decl.push(`@group(0) @binding(${i++}) var<storage, read> A : array<${reg && l.aVec ? 'vec4<f32>' : 'f32'}>;`);
  decl.push(`@group(0) @binding(${i++}) var<storage, read> B : array<${reg && (l.bVecN || l.bVecK) ? 'vec4<f32>' : 'f32'}>;`);
  if (p.bias) decl.push(`@group(0) @binding(${i++}) var<storage, read> bias : array<f32>;`);
  if (p.mask) decl.push(`@group(0) @binding(${i++}) var<storage, read> mask : array<f32>;`);
  decl.push(`@group(0) @binding(${i++}) var<storage, read_write> C : array<${l.outVec ? 'vec4<f32>' : 'f32'}>;`);
  decl.push(`@group(0) @binding(${i++}) var<uniform> u : Uniforms;`);
  return decl.join('\n');
}

/** Epilogue: scale, mask, bias, activation, bounds-checked store of one 4-wide row segment. */
export function epilogue(p: Pick<MatMulParams, 'mask' | 'bias'>, l: Pick<Layout, 'outVec'>): string {
  const maskAdd = p.mask
    ? `let mb = (z % u.maskBatch) * u.M * u.N + r * u.N;
    v = v + vec4<f32>(mask[mb + min(c, u.N - 1u)], mask[mb + min(c + 1u, u.N - 1u)], mask[mb + min(c + 2u, u.N - 1u)], mask[mb + min(c + 3u, u.N - 1u)]);`
    : '';
  const biasAdd = p.bias
    ? `let bl = u.biasLen - 1u;
    v = v + vec4<f32>(bias[min(c, bl)], bias[min(c + 1u, bl)], bias[min(c + 2u, bl)], bias[min(c + 3u, bl)]);`
    : '';
  const store = l.outVec
    ? `if (c < u.N) { C[((z * u.M + r) * u.N + c) / 4u] = v; }`
    : `let o = (z * u.M + r) * u.N;
    for (var e = 0u; e < 4u; e++) { if (c + e < u.N) { C[o + c + e] = v[e]; } }`;
  return `
fn store(z : u32, r : u32, c : u32, acc : vec4<f32>) {
  if (r >= u.M) { return; }
  var v = acc * u.alpha;
  ${maskAdd}
  ${biasAdd}
  v = activate(v, u.leak);
  ${store}
}`;
}

function regSource(p: MatMulParams, l: Layout): string {
  const TM = p.tm;
  const NV = p.nv;
  const rows = [...Array(TM).keys()];
  const vs = [...Array(NV).keys()];
  const decl: string[] = [];
  for (const r of rows) for (const j of vs) decl.push(`var acc${r}_${j} = vec4<f32>(0.0);`);
  const rowIdx = rows.map((r) => `let r${r} = min(row0 + ${r}u, u.M - 1u);`).join('\n  ')
    + (l.aVec ? `\n  ${rows.map((r) => `let ar${r} = aBase4 + r${r} * K4;`).join('\n  ')}` : '')
    + (l.bVecN ? `\n  ${vs.map((j) => `let bc${j} = bBase4 + min(col4 + ${j}u, N4 - 1u);`).join('\n  ')}` : '');

  // B for k (scalar index expression) and column vector j → vec4 expression.
  const bAt = (k: string, j: number): string => {
    if (l.bVecN) return `B[bc${j} + (${k}) * N4]`;
    const cols = [0, 1, 2, 3].map((e) => `min(col0 + ${4 * j + e}u, u.N - 1u)`);
    const at = (c: string): string => (p.transB ? `B[bBase + ${c} * u.K + (${k})]` : `B[bBase + (${k}) * u.N + ${c}]`);
    return `vec4<f32>(${cols.map(at).join(', ')})`;
  };
  let loop: string;
  if (l.aVec && l.bVecK) {
    // A·Bᵀ with both operands contiguous along K: 4-wide dot products.
    const cols = vs.flatMap((j) => [0, 1, 2, 3].map((e) => ({ j, e, name: `b${j}_${e}` })));
    loop = `for (var k4 = 0u; k4 < K4; k4++) {
    ${rows.map((r) => `let a${r} = A[ar${r} + k4];`).join('\n    ')}
    ${cols.map((c) => `let ${c.name} = B[bBase4 + min(col0 + ${4 * c.j + c.e}u, u.N - 1u) * K4 + k4];`).join('\n    ')}
    ${rows.flatMap((r) => vs.map((j) => `acc${r}_${j} += vec4<f32>(${[0, 1, 2, 3].map((e) => `dot(a${r}, b${j}_${e})`).join(', ')});`)).join('\n    ')}
  }`;
  } else if (l.aVec) {
    const inner = [0, 1, 2, 3].map((kk) => {
      const bl = vs.map((j) => `let b${kk}_${j} = ${bAt(`k + ${kk}u`, j)};`).join('\n    ');
      const fm = rows.flatMap((r) => vs.map((j) => `acc${r}_${j} = fma(vec4<f32>(a${r}[${kk}]), b${kk}_${j}, acc${r}_${j});`)).join('\n    ');
      return `${bl}\n    ${fm}`;
    }).join('\n    ');
    loop = `for (var k4 = 0u; k4 < K4; k4++) {
    let k = k4 * 4u;
    ${rows.map((r) => `let a${r} = A[ar${r} + k4];`).join('\n    ')}
    ${inner}
  }`;
  } else {
    const aAt = (r: number): string => (p.transA ? `A[aBase + k * u.M + r${r}]` : `A[aBase + r${r} * u.K + k]`);
    loop = `for (var k = 0u; k < u.K; k++) {
    ${rows.map((r) => `let a${r} = ${aAt(r)};`).join('\n    ')}
    ${vs.map((j) => `let b${j} = ${bAt('k', j)};`).join('\n    ')}
    ${rows.flatMap((r) => vs.map((j) => `acc${r}_${j} = fma(vec4<f32>(a${r}), b${j}, acc${r}_${j});`)).join('\n    ')}
  }`;
  }
  const stores = rows.flatMap((r) => vs.map((j) => `store(z, row0 + ${r}u, col0 + ${4 * j}u, acc${r}_${j});`)).join('\n  ');
  return `${uniformStruct(UNIFORMS)}
${bindings(p, l)}
${activationWgsl(p.activation)}
${epilogue(p, l)}

@compute @workgroup_size(${p.reg === 'rowu' ? '64, 1, 1' : '8, 8, 1'})
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let z = gid.z;
  let row0 = gid.y * ${TM}u;
  let col0 = gid.x * ${4 * NV}u;
  let col4 = gid.x * ${NV}u;
  let K4 = u.K / 4u;
  let N4 = u.N / 4u;
  let aBase = (z % u.batchA) * u.M * u.K;
  let bBase = (z % u.batchB) * u.K * u.N;
  let aBase4 = aBase / 4u;
  let bBase4 = bBase / 4u;
  ${rowIdx}
  ${decl.join('\n  ')}
  ${loop}
  ${stores}
}`;
}

interface TiledLoads { a: ALoad; b: BLoad }

function tiledLoads(p: MatMulParams): TiledLoads {
  const a: ALoad = p.transA ? (p.M % 4 === 0 ? 'm4' : 'm1') : (p.K % 4 === 0 ? 'k4' : 'k1');
  const b: BLoad = p.transB ? (p.K % 4 === 0 ? 'k4' : 'k1') : (p.N % 4 === 0 ? 'n4' : 'n1');
  return { a, b };
}

function tiledSource(p: MatMulParams, l: Layout): string {
  const { a, b } = tiledLoads(p);
  const aV = a === 'k4' || a === 'm4';
  const bV = b === 'n4' || b === 'k4';
  const aIdx = a === 'k4' || a === 'k1' ? 'm * u.K + k' : 'k * u.M + m';
  const bIdx = b === 'n4' || b === 'n1' ? 'k * u.N + n' : 'n * u.K + k';
  const T = (v: boolean): string => (v ? 'vec4<f32>' : 'f32');
  const decl = [
    `@group(0) @binding(0) var<storage, read> A : array<${T(aV)}>;`,
    `@group(0) @binding(1) var<storage, read> B : array<${T(bV)}>;`,
  ];
  let i = 2;
  if (p.bias) decl.push(`@group(0) @binding(${i++}) var<storage, read> bias : array<f32>;`);
  if (p.mask) decl.push(`@group(0) @binding(${i++}) var<storage, read> mask : array<f32>;`);
  decl.push(`@group(0) @binding(${i++}) var<storage, read_write> C : array<${l.outVec ? 'vec4<f32>' : 'f32'}>;`);
  decl.push(`@group(0) @binding(${i++}) var<uniform> u : Uniforms;`);
  return `${uniformStruct(UNIFORMS)}
${decl.join('\n')}
${activationWgsl(p.activation)}
${epilogue(p, l)}

fn readA(z : u32, m : u32, k : u32) -> ${T(aV)} {
  if (m >= u.M || k >= u.K) { return ${T(aV)}(0.0); }
  return A[((z % u.batchA) * u.M * u.K + ${aIdx})${aV ? ' / 4u' : ''}];
}
fn readB(z : u32, k : u32, n : u32) -> ${T(bV)} {
  if (k >= u.K || n >= u.N) { return ${T(bV)}(0.0); }
  return B[((z % u.batchB) * u.K * u.N + ${bIdx})${bV ? ' / 4u' : ''}];
}
${tiledMain(p.tile, a, b)}`;
}

export const matMulProgram: KernelProgram<MatMulParams> = {
  name: 'matmul',
  key: (p) => {
    const l = layoutOf(p);
    const t = tiledLoads(p);
    if (p.variant === 'tex') {
      return ['tex', `tm${p.tm}`, p.transA ? 'tA' : '', l.outVec ? 'oV' : '', p.activation, p.bias ? 'bias' : '', p.mask ? 'mask' : ''].join(',');
    }
    const shape = p.variant === 'reg' ? `nv${p.nv}tm${p.tm}${p.reg}` : `${tileName(p.tile)}${t.a}${t.b}`;
    return [p.variant, shape, p.transA ? 'tA' : '', p.transB ? 'tB' : '',
      l.aVec ? 'aV' : '', l.bVecN ? 'bN' : '', l.bVecK ? 'bK' : '', l.outVec ? 'oV' : '',
      p.activation, p.bias ? 'bias' : '', p.mask ? 'mask' : ''].join(',');
  },
  wgsl: (p) => (p.variant === 'reg' ? regSource(p, layoutOf(p)) : p.variant === 'tex' ? texSource(p, layoutOf(p)) : tiledSource(p, layoutOf(p))),
  workgroupSize: (p) => (p.variant === 'tiled' ? tileWorkgroup(p.tile) : p.variant === 'tex' ? [8, 1, 1] : p.reg === 'rowu' ? [64, 1, 1] : [8, 8, 1]),
  dispatch: (p) => {
    if (p.variant === 'tex') return texDispatch(p.M, p.N, p.batch, p.tm as TexRows);
    if (p.variant === 'tiled') return [ceilDiv(p.N, p.tile.bn), ceilDiv(p.M, p.tile.bm), p.batch];
    return p.reg === 'rowu' ? [ceilDiv(p.N, 64 * 4 * p.nv), ceilDiv(p.M, p.tm), p.batch] : [ceilDiv(p.N, 8 * 4 * p.nv), ceilDiv(p.M, 8 * p.tm), p.batch];
  },
  uniforms: (p) => packUniforms([
    ['u32', p.M], ['u32', p.N], ['u32', p.K], ['u32', p.batchA], ['u32', p.batchB], ['u32', p.biasLen],
    ['u32', p.maskBatch], ['f32', p.alpha], ['f32', p.leakyAlpha], ['u32', paddedK(p.K)],
  ]),
};

/**
 * Records C = op(A)·op(B) (+ mask, bias) with `bindings` = [A, B, bias?, mask?, C] as the
 * program declares them; the 'tex' variant first packs B into the device's pack texture.
 */
export function recordMatMul(rec: KernelRecorder, pack: PackSource, p: MatMulParams, bindings: readonly Binding[]): void {
  if (p.variant !== 'tex') {
    rec.dispatch(matMulProgram, p, bindings);
    return;
  }
  const target = pack(ceilDiv(p.N, 4), p.batchB * paddedK(p.K));
  const view = { view: target.view };
  if (!target.filled) {
    rec.dispatch(packBProgram, { K: p.K, N: p.N, batchB: p.batchB, transB: p.transB }, [bindings[1]!, view]);
    target.markFilled();
  }
  rec.dispatch(matMulProgram, p, [bindings[0]!, view, ...bindings.slice(2)]);
}

/** What a packed B holds (the kept-texture key: the same tensor may be read with other shapes). */
export function packKey(p: Pick<MatMulParams, 'K' | 'N' | 'batchB' | 'transB'>): string {
  return `${p.batchB}x${p.K}x${p.N}${p.transB ? 'T' : ''}`;
}

function texSource(p: MatMulParams, l: Layout): string {
  const decl = [
    '@group(0) @binding(0) var<storage, read> A : array<f32>;',
    '@group(0) @binding(1) var Bt : texture_2d<f32>;',
  ];
  let i = 2;
  if (p.bias) decl.push(`@group(0) @binding(${i++}) var<storage, read> bias : array<f32>;`);
  if (p.mask) decl.push(`@group(0) @binding(${i++}) var<storage, read> mask : array<f32>;`);
  decl.push(`@group(0) @binding(${i++}) var<storage, read_write> C : array<${l.outVec ? 'vec4<f32>' : 'f32'}>;`);
  decl.push(`@group(0) @binding(${i++}) var<uniform> u : Uniforms;`);
  return `enable subgroups;
${uniformStruct(UNIFORMS)}
${decl.join('\n')}
${activationWgsl(p.activation)}
${epilogue(p, l)}

${texMain(p.tm as TexRows, {
    // Branch-free: a load under an `if` costs llvmpipe a mask region per row (measured +10–16%).
    rowSetup: (r) => `let ab${r} = (z % u.batchA) * u.M * u.K + ${p.transA ? `rowc${r}` : `rowc${r} * u.K`};`,
    kSetup: '',
    load: (r) => `select(0.0, A[ab${r} + ${p.transA ? 'kc * u.M' : 'kc'}], kin)`,
    kAdvance: '',
  })}`;
}

/** Default for the register-blocked variant's params (unused there). */
export const TILE_32: TileConfig = { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 };
/** 32 rows × 64 columns, 16×8 threads × 4×4. */
export const TILE_32x64: TileConfig = { bm: 32, bn: 64, bk: 16, tm: 4, tn: 4 };
/** 64×64, 16×16 threads × 4×4. */
export const TILE_64: TileConfig = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

/**
 * Block tile for the real-GPU variant, by the number of 64×64 output tiles. From the H100 sweep
 * (bench/kernels-tiled-tune.ts, docs/kernels-tune-h100.json): 64×64 with 4×4 per thread won
 * between ~100 and ~500 tiles (1024², 128×768·768×3072); above that (2048²) 32×32 won (the
 * larger tiles lost 2× there); below (256², 512², the conv shapes) 32×64 won. 8×8 outputs per
 * thread and 128-wide tiles lost everywhere on the H100 (0.2–1.1× tfjs).
 */
export function chooseTile(M: number, N: number, batch: number): TileConfig {
  const tiles64 = ceilDiv(M, 64) * ceilDiv(N, 64) * batch;
  if (tiles64 > 512) return TILE_32;
  if (tiles64 > 64) return TILE_64;
  return TILE_32x64;
}

export interface GemmShape { M: number; N: number; K: number; batch: number; batchB: number }

/**
 * Variant for an adapter and a GEMM: the texture core on lavapipe when B fits the pack texture,
 * register blocking on other CPU-backed adapters, shared-memory tiles on GPUs. `forced` (tests,
 * benchmarks) picks one; a forced 'tex' that cannot run here falls back to 'reg'.
 */
export function pickMatMulVariant(adapter: AdapterSummary, s: GemmShape, forced?: MatMulVariant, tile?: TileConfig):
  Pick<MatMulParams, 'variant' | 'nv' | 'tm' | 'reg' | 'tile'> {
  const texOk = texCoreAvailable(adapter) && packFits(adapter, s.K, s.N, s.batchB);
  const variant = forced === 'tex' ? (texOk ? 'tex' : 'reg') : forced ?? (adapter.software ? (texOk ? 'tex' : 'reg') : 'tiled');
  if (variant === 'tex') return { variant, nv: 1, tm: texRows(s.M), reg: 'grid', tile: TILE_32 };
  return chooseMatMulVariant(variant === 'reg', s.M, s.N, s.batch, tile);
}

/**
 * Whether tfjs's own kernel should run this GEMM instead of ours: on real GPUs, for outputs of at
 * most 128 tiles of 64×64. There the H100 measured our tiled kernel at 0.7–0.8× of tfjs's for
 * 256² (16 tiles), 512² (64) and 128×3072 (96) — launch-bound shapes where tfjs's programs win —
 * and 1.4× from 1024² (256 tiles) up (docs/kernels.md). Software adapters always take ours.
 */
export function preferTfjsMatMul(adapter: AdapterSummary, M: number, N: number, batch: number): boolean {
  return !adapter.software && ceilDiv(M, 64) * ceilDiv(N, 64) * batch <= 128;
}

/** Variant for an adapter: register blocking on CPU-backed adapters, shared-memory tiles on GPUs. */
export function chooseMatMulVariant(software: boolean, M: number, N: number, batch = 1, tile?: TileConfig):
  Pick<MatMulParams, 'variant' | 'nv' | 'tm' | 'reg' | 'tile'> {
  if (!software) return { variant: 'tiled', nv: 1, tm: 4, reg: 'grid', tile: tile ?? chooseTile(M, N, batch) };
  // bench/kernels-matmul-tune.ts on lavapipe: 4×4 per thread in an 8×8 grid beat 4×8 (register
  // spills: llvmpipe keeps each vec4 lane in its own 8-wide SIMD register) and the 64×1 layout.
  return { variant: 'reg', nv: 1, tm: 4, reg: 'grid', tile: TILE_32 };
}
