// Ops tfjs has no kernel for, for the ONNX executor. On webgpu with our kernels registered they
// run as one WGSL kernel; elsewhere (or for shapes the kernel does not cover) as tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import { attentionShape } from './tfjs/attention.js';
import { layerNormSupported } from './tfjs/rows.js';
import { kernelOptions } from './options.js';

function ours(name: string, inputs: readonly (Tensor | undefined)[]): boolean {
  return kernelOptions.enabled && tf.getBackend() === 'webgpu' && tf.getKernel(name, 'webgpu') !== undefined
    && inputs.every((t) => !t || t.dtype === 'float32');
}

function defined(m: Record<string, Tensor | undefined>): NamedTensorMap {
  const out: NamedTensorMap = {};
  for (const [k, v] of Object.entries(m)) if (v) out[k] = v;
  return out;
}

/** Layer normalization over the last axis (ONNX LayerNormalization with axis = -1). */
export function layerNorm(x: Tensor, gamma?: Tensor, beta?: Tensor, eps = 1e-5): Tensor {
  if (ours('DawnLayerNorm', [x, gamma, beta]) && layerNormSupported(x, gamma, beta)) {
    return tf.engine().runKernel('DawnLayerNorm', defined({ x, gamma, beta }), { epsilon: eps }) as Tensor;
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const d = tf.sub(x, mean);
    const variance = tf.mean(tf.square(d), -1, true);
    let y = tf.mul(d, tf.rsqrt(tf.add(variance, eps)));
    if (gamma) y = tf.mul(y, gamma);
    if (beta) y = tf.add(y, beta);
    return y;
  });
}

/** GELU, erf form: 0.5·x·(1 + erf(x/√2)). */
export function gelu(x: Tensor): Tensor {
  if (ours('DawnGelu', [x])) return tf.engine().runKernel('DawnGelu', { x }) as Tensor;
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/**
 * Scaled dot-product attention softmax(scale·Q·Kᵀ + mask)·V. q [..., Sq, D], k [..., Sk, D],
 * v [..., Sk, Dv]; `mask` is additive (use −1e9 or −Infinity for masked positions).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, scale: number): Tensor {
  if (ours('DawnAttention', [q, k, v, mask]) && attentionShape(q, k, v, mask)) {
    return tf.engine().runKernel('DawnAttention', defined({ q, k, v, mask }), { scale }) as Tensor;
  }
  return tf.tidy(() => {
    let s = tf.mul(tf.matMul(q, k, false, true), scale);
    if (mask) s = tf.add(s, mask);
    return tf.matMul(tf.softmax(s), v);
  });
}
