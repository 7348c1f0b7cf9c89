// Shared-memory tiled GEMM core for real GPUs, used by matmul and by conv2d (implicit GEMM).
// A workgroup computes a BM×BN output tile with (BN/TN)×(BM/TM) threads; each thread keeps a
// TM×TN block in registers (TN/4 vec4 per row). Per K step of BK, the threads stage A (BM×BK) and
// B (BK×BN) into workgroup memory with vec4 loads where the layout allows, both stored K-major as
// vec4 so the inner loop reads TM/4 + TN/4 vec4s and issues TM·TN/4 vec4 FMAs. Loads for the next
// K step are issued into registers before the current step's FMAs (register double buffering), so
// one barrier pair per step hides the global-memory latency behind the math.
// The caller supplies `readA(z, m, k)` / `readB(z, k, n)` (bounds-checked, zero outside), which is
// where conv2d's im2col index math lives.

export interface TileConfig { bm: number; bn: number; bk: number; tm: number; tn: number }

/** How A/B tiles are fetched: `k4` = vec4 of k..k+3, `m4`/`n4` = vec4 along M/N, `k1`/`m1`/`n1` = scalar, contiguous along that dim. */
export type ALoad = 'k4' | 'm4' | 'k1' | 'm1';
export type BLoad = 'n4' | 'k4' | 'n1' | 'k1';

export const tileName = (t: TileConfig): string => `${t.bm}x${t.bn}x${t.bk}:${t.tm}x${t.tn}`;

export function parseTile(s: string): TileConfig | undefined {
  const m = /^(\d+)x(\d+)x(\d+):(\d+)x(\d+)$/.exec(s);
  if (!m) return undefined;
  const [bm, bn, bk, tm, tn] = m.slice(1).map(Number) as [number, number, number, number, number];
  return { bm, bn, bk, tm, tn };
}

export function tileWorkgroup(t: TileConfig): [number, number, number] {
  return [t.bn / t.tn, t.bm / t.tm, 1];
}

/**
 * The tiled main(). Expects in scope: `u.K`, `fn readA(z, m, k)` returning vec4 (for k4/m4) or f32,
 * `fn readB(z, k, n)` likewise, and `fn store(z, r, c, v : vec4<f32>)` (the epilogue).
 */
export function tiledMain(t: TileConfig, aLoad: ALoad, bLoad: BLoad): string {
  const [wx, wy] = tileWorkgroup(t);
  const nt = wx * wy;
  const { bm, bn, bk, tm, tn } = t;
  const rowsV = tm / 4;
  const colsV = tn / 4;
  const range = (n: number): number[] => [...Array(n).keys()];

  // Each load slot e: index expression → (global fetch into register, store into shared memory).
  interface Slot { fetch: string; put: string }
  const aSlots: Slot[] = [];
  const aVec = aLoad === 'k4' || aLoad === 'm4';
  const aCount = aVec ? (bm * bk) / 4 : bm * bk;
  for (let e = 0; e < Math.ceil(aCount / nt); e++) {
    const idx = `(li + ${e * nt}u)`;
    const guard = (e + 1) * nt > aCount ? `${idx} < ${aCount}u` : '';
    let row: string, kk: string;
    if (aLoad === 'k4') { row = `${idx} / ${bk / 4}u`; kk = `(${idx} % ${bk / 4}u) * 4u`; }
    else if (aLoad === 'm4') { kk = `${idx} / ${bm / 4}u`; row = `(${idx} % ${bm / 4}u) * 4u`; }
    else if (aLoad === 'k1') { row = `${idx} / ${bk}u`; kk = `${idx} % ${bk}u`; }
    else { kk = `${idx} / ${bm}u`; row = `${idx} % ${bm}u`; }
    const T = aVec ? 'vec4<f32>' : 'f32';
    const fetch = `let ar${e} = ${row}; let ak${e} = ${kk};
      ${guard ? `var av${e} = ${T}(0.0); if (${guard}) { av${e} = readA(z, tileRow + ar${e}, tk + ak${e}); }`
    : `let av${e} = readA(z, tileRow + ar${e}, tk + ak${e});`}`;
    let put: string;
    if (aLoad === 'k4') put = [0, 1, 2, 3].map((c) => `As[ak${e} + ${c}u][ar${e} / 4u][ar${e} % 4u] = av${e}[${c}];`).join(' ');
    else if (aLoad === 'm4') put = `As[ak${e}][ar${e} / 4u] = av${e};`;
    else put = `As[ak${e}][ar${e} / 4u][ar${e} % 4u] = av${e};`;
    aSlots.push({ fetch, put: guard ? `if (${guard}) { ${put} }` : put });
  }
  const bSlots: Slot[] = [];
  const bVec = bLoad === 'n4' || bLoad === 'k4';
  const bCount = bVec ? (bn * bk) / 4 : bn * bk;
  for (let e = 0; e < Math.ceil(bCount / nt); e++) {
    const idx = `(li + ${e * nt}u)`;
    const guard = (e + 1) * nt > bCount ? `${idx} < ${bCount}u` : '';
    let col: string, kk: string;
    if (bLoad === 'n4') { kk = `${idx} / ${bn / 4}u`; col = `(${idx} % ${bn / 4}u) * 4u`; }
    else if (bLoad === 'k4') { col = `${idx} / ${bk / 4}u`; kk = `(${idx} % ${bk / 4}u) * 4u`; }
    else if (bLoad === 'n1') { kk = `${idx} / ${bn}u`; col = `${idx} % ${bn}u`; }
    else { col = `${idx} / ${bk}u`; kk = `${idx} % ${bk}u`; }
    const T = bVec ? 'vec4<f32>' : 'f32';
    const fetch = `let bc${e} = ${col}; let bk${e} = ${kk};
      ${guard ? `var bv${e} = ${T}(0.0); if (${guard}) { bv${e} = readB(z, tk + bk${e}, tileCol + bc${e}); }`
    : `let bv${e} = readB(z, tk + bk${e}, tileCol + bc${e});`}`;
    let put: string;
    if (bLoad === 'n4') put = `Bs[bk${e}][bc${e} / 4u] = bv${e};`;
    else if (bLoad === 'k4') put = [0, 1, 2, 3].map((c) => `Bs[bk${e} + ${c}u][bc${e} / 4u][bc${e} % 4u] = bv${e}[${c}];`).join(' ');
    else put = `Bs[bk${e}][bc${e} / 4u][bc${e} % 4u] = bv${e};`;
    bSlots.push({ fetch, put: guard ? `if (${guard}) { ${put} }` : put });
  }

  const accDecl = range(tm).flatMap((r) => range(colsV).map((j) => `var acc${r}_${j} = vec4<f32>(0.0);`)).join('\n  ');
  const inner = `${range(rowsV).map((i) => `let a${i} = As[kk][ty * ${rowsV}u + ${i}u];`).join('\n      ')}
      ${range(colsV).map((j) => `let b${j} = Bs[kk][tx + ${j * wx}u];`).join('\n      ')}
      ${range(tm).flatMap((r) => range(colsV).map((j) => `acc${r}_${j} = fma(vec4<f32>(a${r >> 2}[${r & 3}]), b${j}, acc${r}_${j});`)).join('\n      ')}`;
  const stores = range(tm).flatMap((r) => range(colsV).map((j) =>
    `store(z, tileRow + ty * ${tm}u + ${r}u, tileCol + (tx + ${j * wx}u) * 4u, acc${r}_${j});`)).join('\n  ');

  // The fetch block is written twice: before the loop (first tile) and inside it (next tile,
  // issued before this tile's FMAs). Names are block-scoped, so the second copy lives in its own block.
  const fetchAll = [...aSlots, ...bSlots].map((s) => s.fetch).join('\n      ');
  const putAll = [...aSlots, ...bSlots].map((s) => s.put).join('\n      ');
  const regDecl = [
    ...aSlots.map((_, e) => `var pa${e} : ${aVec ? 'vec4<f32>' : 'f32'};`),
    ...bSlots.map((_, e) => `var pb${e} : ${bVec ? 'vec4<f32>' : 'f32'};`),
  ].join('\n  ');
  const toRegs = [...aSlots.map((_, e) => `pa${e} = av${e};`), ...bSlots.map((_, e) => `pb${e} = bv${e};`)].join(' ');
  const fromRegs = [...aSlots.map((_, e) => `let av${e} = pa${e};`), ...bSlots.map((_, e) => `let bv${e} = pb${e};`)].join(' ');
  return `
var<workgroup> As : array<array<vec4<f32>, ${bm / 4}>, ${bk}>;
var<workgroup> Bs : array<array<vec4<f32>, ${bn / 4}>, ${bk}>;

@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>,
        @builtin(local_invocation_index) li : u32) {
  let z = wid.z;
  let tx = lid.x;
  let ty = lid.y;
  let tileRow = wid.y * ${bm}u;
  let tileCol = wid.x * ${bn}u;
  ${accDecl}
  ${regDecl}
  {
    let tk = 0u;
    ${fetchAll}
    ${toRegs}
  }
  for (var t = 0u; t < u.K; t += ${bk}u) {
    {
      ${aSlots.map((_, e) => `let ar${e} = ${slotPos('a', aLoad, e, nt, t)}[0]; let ak${e} = ${slotPos('a', aLoad, e, nt, t)}[1];`).join('\n      ')}
      ${bSlots.map((_, e) => `let bc${e} = ${slotPos('b', bLoad, e, nt, t)}[0]; let bk${e} = ${slotPos('b', bLoad, e, nt, t)}[1];`).join('\n      ')}
      ${fromRegs}
      ${putAll}
    }
    workgroupBarrier();
    if (t + ${bk}u < u.K) {
      let tk = t + ${bk}u;
      ${fetchAll}
      ${toRegs}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${inner}
    }
    workgroupBarrier();
  }
  ${stores}
}`;
}

/** WGSL `vec2<u32>(rowOrCol, k)` of load slot e (same mapping the fetch used). */
function slotPos(which: 'a' | 'b', mode: ALoad | BLoad, e: number, nt: number, t: TileConfig): string {
  const idx = `(li + ${e * nt}u)`;
  const bk = t.bk;
  const outer = which === 'a' ? t.bm : t.bn;
  switch (mode) {
    case 'k4': return `vec2<u32>(${idx} / ${bk / 4}u, (${idx} % ${bk / 4}u) * 4u)`;
    case 'm4': case 'n4': return `vec2<u32>((${idx} % ${outer / 4}u) * 4u, ${idx} / ${outer / 4}u)`;
    case 'k1': return `vec2<u32>(${idx} / ${bk}u, ${idx} % ${bk}u)`;
    default: return `vec2<u32>(${idx} % ${outer}u, ${idx} / ${outer}u)`;
  }
}
