// GEMM core for software adapters with subgroups (lavapipe). llvmpipe turns every storage-buffer
// load whose address varies per invocation — and, because loop counters live in registers it
// treats as varying, every load inside a loop — into a branchy per-lane, per-component loop of
// scalar loads (read off its LLVM IR, GALLIVM_DEBUG=ir). Texture fetches and subgroup broadcasts
// compile to straight SIMD code instead. So this core
//  - packs B once per call into an rgba32float texture (texel = 4 consecutive columns, one row of K
//    per texel row, batches stacked, K padded to a multiple of 8 with zeros), read with textureLoad;
//  - has each of the 8 lanes of a subgroup load one A element of a row for 8 consecutive k and
//    hands it to the others with subgroupBroadcast, so a row costs one load per 8 k, not 8.
// One workgroup is one subgroup (8 lanes × 4 columns) and TM rows. On the project machine this
// measured 12.7 GFLOP/s at 1024² against 5–6 for the register-blocked buffer kernel.
import type { AdapterSummary } from '../device.js';
import { PACK_TEXTURE_MAX_BYTES } from '../pack-cache.js';
import { type KernelProgram, ceilDiv, packUniforms, uniformStruct } from '../program.js';

/** Lanes per subgroup this core is written for (lavapipe's fixed size on AVX2). */
export const TEX_SUBGROUP = 8;

export type TexRows = 4 | 8 | 16;

/** Whether the adapter runs the texture core: a software adapter with subgroups of exactly 8. */
export function texCoreAvailable(a: AdapterSummary): boolean {
  return a.software && a.subgroups && a.subgroupMinSize === TEX_SUBGROUP && a.subgroupMaxSize === TEX_SUBGROUP;
}

/** K rounded up to the subgroup step (the packed texture's rows per batch). */
export function paddedK(K: number): number {
  return ceilDiv(K, TEX_SUBGROUP) * TEX_SUBGROUP;
}

/** Whether B [batchB, K, N] fits the pack texture (dimension limit and our size cap). */
export function packFits(a: AdapterSummary, K: number, N: number, batchB: number): boolean {
  const maxDim = a.limits['maxTextureDimension2D'] ?? 8192;
  const w = ceilDiv(N, 4);
  const h = batchB * paddedK(K);
  return w <= maxDim && h <= maxDim && w * h * 16 <= PACK_TEXTURE_MAX_BYTES;
}

/** Rows per workgroup: 16 measured best at 1024²; fewer when M is small so no work is wasted. */
export function texRows(M: number): TexRows {
  return M <= 4 ? 4 : M <= 8 ? 8 : 16;
}

export interface PackParams { K: number; N: number; batchB: number; transB: boolean }

const PACK_UNIFORMS = [['K', 'u32'], ['N', 'u32'], ['N4', 'u32'], ['Kp', 'u32'], ['rows', 'u32']] as const;

/** B (or Bᵀ) from a storage buffer into the pack texture, zero-padded in K and in the last texel. */
export const packBProgram: KernelProgram<PackParams> = {
  name: 'pack-b',
  key: (p) => (p.transB ? 'tB' : 'B'),
  wgsl: (p) => `${uniformStruct(PACK_UNIFORMS)}
@group(0) @binding(0) var<storage, read> B : array<f32>;
@group(0) @binding(1) var T : texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> u : Uniforms;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) g : vec3<u32>) {
  if (g.x >= u.N4 || g.y >= u.rows) { return; }
  let k = g.y % u.Kp;
  var v = vec4<f32>(0.0);
  if (k < u.K) {
    let base = (g.y / u.Kp) * u.K * u.N;
    for (var e = 0u; e < 4u; e++) {
      let n = g.x * 4u + e;
      if (n < u.N) { v[e] = B[base + ${p.transB ? 'n * u.K + k' : 'k * u.N + n'}]; }
    }
  }
  textureStore(T, vec2<u32>(g.x, g.y), v);
}`,
  workgroupSize: [8, 8, 1],
  dispatch: (p) => [ceilDiv(ceilDiv(p.N, 4), 8), ceilDiv(p.batchB * paddedK(p.K), 8), 1],
  uniforms: (p) => packUniforms([['u32', p.K], ['u32', p.N], ['u32', ceilDiv(p.N, 4)], ['u32', paddedK(p.K)], ['u32', p.batchB * paddedK(p.K)]]),
};

/** How a caller's kernel reads A for the texture core (matmul: a buffer; conv: im2col). */
export interface TexASource {
  /** Per output row r (0..TM-1), after `rowc${r}` = its row index clamped to M − 1 is defined. */
  rowSetup(r: number): string;
  /** Before the K loop. */
  kSetup: string;
  /**
   * The f32 A element of row r at this lane's k (must be 0 for k ≥ K). In scope: `k` = k0 + sl,
   * `kin` = k < K, `kc` = k clamped to K − 1.
   */
  load(r: number): string;
  /** At the end of each K step (after k0 += 8). */
  kAdvance: string;
}

/**
 * `main` of the texture core. Expects, declared by the caller: `u` with M, N, K, batchB, Kp;
 * `Bt : texture_2d<f32>` (the pack texture); `store(z, r, c, acc)` (the matmul epilogue).
 */
export function texMain(tm: TexRows, a: TexASource): string {
  const rows = [...Array(tm).keys()];
  const lanes = [...Array(TEX_SUBGROUP).keys()];
  return `@compute @workgroup_size(${TEX_SUBGROUP}, 1, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(subgroup_invocation_id) sl : u32) {
  let z = wg.z;
  let row0 = wg.y * ${tm}u;
  let c4 = wg.x * ${TEX_SUBGROUP}u + sl;
  let tx = min(c4, (u.N + 3u) / 4u - 1u);
  let ty = (z % u.batchB) * u.Kp;
  ${rows.map((r) => `let rowc${r} = min(row0 + ${r}u, u.M - 1u);\n  ${a.rowSetup(r)}`).join('\n  ')}
  ${rows.map((r) => `var acc${r} = vec4<f32>(0.0);`).join(' ')}
  ${a.kSetup}
  for (var k0 = 0u; k0 < u.K; k0 += ${TEX_SUBGROUP}u) {
    let k = k0 + sl;
    let kin = k < u.K;
    let kc = min(k, u.K - 1u);
    ${rows.map((r) => `let a${r} = ${a.load(r)};`).join('\n    ')}
    ${lanes.map((l) => `{
      let b = textureLoad(Bt, vec2<u32>(tx, ty + k0 + ${l}u), 0);
      ${rows.map((r) => `acc${r} = fma(vec4<f32>(subgroupBroadcast(a${r}, ${l}u)), b, acc${r});`).join('\n      ')}
    }`).join('\n    ')}
    ${a.kAdvance}
  }
  ${rows.map((r) => `store(z, row0 + ${r}u, c4 * 4u, acc${r});`).join('\n  ')}
}`;
}

/** Workgroup counts of the texture core for an M × N output and `batch` outputs. */
export function texDispatch(M: number, N: number, batch: number, tm: TexRows): [number, number, number] {
  return [ceilDiv(ceilDiv(N, 4), TEX_SUBGROUP), ceilDiv(M, tm), batch];
}
