// Elementwise GELU (erf form, as ONNX Gelu and PyTorch's default), vec4 when the size allows.
import { ERF_WGSL } from './activation.js';
import { type KernelProgram, ceilDiv, packUniforms, uniformStruct } from '../program.js';
import { foldGroups } from './rows.js';

export interface GeluParams { size: number }

const WG = 256;

export const geluProgram: KernelProgram<GeluParams> = {
  name: 'gelu',
  key: (p) => (p.size % 4 === 0 ? 'v4' : 's'),
  wgsl: (p) => {
    const v4 = p.size % 4 === 0;
    return `${uniformStruct([['n', 'u32']])}
@group(0) @binding(0) var<storage, read> X : array<${v4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read_write> Y : array<${v4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<uniform> u : Uniforms;
${ERF_WGSL}
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= u.n) { return; }
  ${v4 ? 'Y[i] = gelu4(X[i]);' : 'Y[i] = gelu4(vec4<f32>(X[i])).x;'}
}`;
  },
  workgroupSize: [WG, 1, 1],
  dispatch: (p) => foldGroups(ceilDiv(p.size % 4 === 0 ? p.size / 4 : p.size, WG)),
  uniforms: (p) => packUniforms([['u32', p.size % 4 === 0 ? p.size / 4 : p.size]]),
};
