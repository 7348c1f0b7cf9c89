// Shared pieces for row-wise kernels (softmax, layer norm): grid folding and the three ways to
// reduce a row — one thread per row ('row', best on lavapipe where a workgroup is one CPU thread
// and barriers are emulated), a 64-thread shared-memory tree ('wg'), or subgroup ops ('sg').
import type { RowVariant } from '../options.js';
import { ceilDiv } from '../program.js';

export const ROW_WG = 64;
const MAX_GROUPS = 65535;

/** Fold `groups` workgroups into x/y so neither exceeds the per-dimension limit. */
export function foldGroups(groups: number): [number, number, number] {
  return groups <= MAX_GROUPS ? [groups, 1, 1] : [MAX_GROUPS, ceilDiv(groups, MAX_GROUPS), 1];
}

export function rowDispatch(variant: RowVariant, rows: number): [number, number, number] {
  return foldGroups(variant === 'row' ? ceilDiv(rows, ROW_WG) : rows);
}

/** WGSL prelude: `enable` directive (must be first in the module). */
export function rowEnable(variant: RowVariant): string {
  return variant === 'sg' ? 'enable subgroups;\n' : '';
}

/** Entry point header; defines `row` (this thread's row for 'row', this workgroup's otherwise) and `lid`. */
export function rowMainHeader(variant: RowVariant): string {
  return `@compute @workgroup_size(${ROW_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>,
        @builtin(local_invocation_index) lid : u32${variant === 'sg' ? ',\n        @builtin(subgroup_invocation_id) sid : u32, @builtin(subgroup_size) sgs : u32' : ''}) {
  let group = wid.y * nwg.x + wid.x;
  let row = ${variant === 'row' ? `group * ${ROW_WG}u + lid` : 'group'};`;
}

/** `rowSum(v)` / `rowMax(v)` across the workgroup (call in uniform control flow). */
export function rowReducers(variant: RowVariant): string {
  if (variant === 'row') return '';
  if (variant === 'wg') {
    return `var<workgroup> red : array<f32, ${ROW_WG}>;
fn treeReduce(v : f32, lid : u32, isMax : bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn rowSum(v : f32, lid : u32) -> f32 { return treeReduce(v, lid, false); }
fn rowMax(v : f32, lid : u32) -> f32 { return treeReduce(v, lid, true); }
`;
  }
  return `var<workgroup> red : array<f32, ${ROW_WG}>;
fn rowSum(v : f32, lid : u32, sid : u32, sgs : u32) -> f32 {
  let x = subgroupAdd(v);
  if (sid == 0u) { red[lid / sgs] = x; }
  workgroupBarrier();
  var r = 0.0;
  for (var i = 0u; i < (${ROW_WG}u + sgs - 1u) / sgs; i++) { r += red[i]; }
  workgroupBarrier();
  return r;
}
fn rowMax(v : f32, lid : u32, sid : u32, sgs : u32) -> f32 {
  let x = subgroupMax(v);
  if (sid == 0u) { red[lid / sgs] = x; }
  workgroupBarrier();
  var r = red[0];
  for (var i = 1u; i < (${ROW_WG}u + sgs - 1u) / sgs; i++) { r = max(r, red[i]); }
  workgroupBarrier();
  return r;
}
`;
}

/** Arguments to pass to rowSum/rowMax after the value. */
export function reduceArgs(variant: RowVariant): string {
  return variant === 'sg' ? 'lid, sid, sgs' : 'lid';
}

/** Row variant for an adapter unless a test forces one. */
export function chooseRowVariant(forced: RowVariant | undefined, software: boolean, subgroups: boolean): RowVariant {
  if (forced) return forced === 'sg' && !subgroups ? 'wg' : forced;
  if (software) return 'row';
  return subgroups ? 'sg' : 'wg';
}
