// Internal ops the fusion pass (fuse.ts) rewrites decomposed transformer patterns into. Each calls
// the fused function from src/kernels (one WGSL kernel on webgpu with our kernels registered, the
// same tfjs math elsewhere or for shapes the kernels do not cover). Internal domain only: a model
// cannot name them.
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpTable, Tensor } from './types.js';
import { matMul } from './nn.js';
import { attention, gelu, layerNorm } from '../../../kernels/index.js';

/** Inputs: x, γ?, β?; attribute epsilon. Normalises over the last axis. */
function fusedLayerNorm(ctx: OpContext): Tensor {
  const [x, gamma, beta] = ctx.inputs;
  // An empty x gives an empty result of its shape (γ/β have rank ≤ 1); the kernels take no empty tensors.
  if (x!.size === 0) return tf.zeros(x!.shape, x!.dtype);
  return layerNorm(x!, ctx.has(1) ? gamma : undefined, ctx.has(2) ? beta : undefined, ctx.attr.float('epsilon', 1e-5));
}

const swapLast = (t: Tensor): Tensor => {
  const perm = Array.from({ length: t.rank }, (_, i) => i);
  perm[t.rank - 2] = t.rank - 1;
  perm[t.rank - 1] = t.rank - 2;
  return tf.transpose(t, perm);
};

/** `mask`'s leading dims broadcast into `lead` without growing it (so the result keeps q's shape). */
function maskFits(mask: Tensor, lead: number[]): boolean {
  const ml = mask.shape.slice(0, -2);
  if (mask.rank < 2 || ml.length > lead.length) return false;
  const off = lead.length - ml.length;
  return ml.every((d, i) => d === 1 || d === lead[off + i]);
}

/**
 * softmax(scale · q·kᵀ + mask)·v over the last axis. Inputs: q [..., Sq, D], k [..., Sk, D]
 * (or kᵀ [..., D, Sk] with transposed_k = 1), v [..., Sk, Dv], mask? (additive); attribute scale.
 */
function fusedAttention(ctx: OpContext): Tensor {
  const [q, kIn, v, mask] = ctx.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const scale = ctx.attr.float('scale', 1);
  const transposed = ctx.attr.int('transposed_k', 0) === 1;
  const r = q.rank;
  const lead = q.shape.slice(0, -2);
  const sameLead = (t: Tensor) => t.rank === r && t.shape.slice(0, -2).every((d, i) => d === lead[i]);
  const empty = [q, kIn, v, mask].some((t) => t !== undefined && t.size === 0);
  if (!empty && r >= 2 && kIn.rank === r && sameLead(kIn) && sameLead(v) && (!mask || maskFits(mask, lead))) {
    return attention(q, transposed ? swapLast(kIn) : kIn, v, mask, scale);
  }
  // Broadcast batch dims, 1-D operands, empty tensors: ONNX MatMul semantics, op by op.
  const kT = transposed ? kIn : swapLast(kIn);
  let s = tf.mul(matMul(q, kT), scale);
  if (mask) s = tf.add(s, mask);
  return matMul(tf.softmax(s), v);
}

export const fusedOps: OpTable = {
  FusedLayerNorm: fusedLayerNorm,
  FusedGelu: ({ inputs: [x] }) => (x!.size === 0 ? tf.zeros(x!.shape, x!.dtype) : gelu(x!)),
  FusedAttention: fusedAttention,
};
