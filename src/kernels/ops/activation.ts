// Fused activations for matmul/conv epilogues. tfjs's fused ops allow linear, relu, relu6, elu,
// leakyrelu, sigmoid (prelu falls back to tfjs); gelu/tanh/hardswish are for the ONNX executor.
export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'tanh', 'gelu', 'hardswish'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export function isActivation(s: string): s is Activation {
  return (ACTIVATIONS as readonly string[]).includes(s);
}

/** WGSL erf (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7), shared by GELU kernels. */
export const ERF_WGSL = /* wgsl */ `
fn erf4(x : vec4<f32>) -> vec4<f32> {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return sign(x) * y;
}
fn gelu4(x : vec4<f32>) -> vec4<f32> {
  return 0.5 * x * (1.0 + erf4(x * 0.7071067811865476));
}
`;

/** `fn activate(v, leak)`; `leak` is leakyrelu's alpha (ignored by the others). */
export function activationWgsl(act: Activation): string {
  const body: Record<Activation, string> = {
    linear: 'return v;',
    relu: 'return max(v, vec4<f32>(0.0));',
    relu6: 'return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0));',
    elu: 'return select(exp(v) - 1.0, v, v >= vec4<f32>(0.0));',
    leakyrelu: 'return select(v * leak, v, v >= vec4<f32>(0.0));',
    sigmoid: 'return 1.0 / (1.0 + exp(-v));',
    // Overflow-safe form: some drivers return NaN for tanh of large arguments.
    tanh: 'let e = exp(-2.0 * abs(v)); return sign(v) * (1.0 - e) / (1.0 + e);',
    gelu: 'return gelu4(v);',
    hardswish: 'return v * clamp(v / 6.0 + 0.5, vec4<f32>(0.0), vec4<f32>(1.0));',
  };
  return `${act === 'gelu' ? ERF_WGSL : ''}
fn activate(v : vec4<f32>, leak : f32) -> vec4<f32> { ${body[act]} }
`;
}
