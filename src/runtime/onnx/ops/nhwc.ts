// Internal ops the layout pass (layout.ts) rewrites NCHW nodes into: their activations are NHWC,
// convolution weights were transposed once at load, and a bias and activation may be fused in.
// They live in their own domain, so a model cannot name them.
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpTable, Tensor } from './types.js';
import { hostInts, opError } from './types.js';
import { matMul, pool, spatialPads } from './nn.js';

export const INTERNAL_DOMAIN = 'dawnserve.internal';

/** Activations tfjs's fused kernels apply (ONNX Clip(0, 6) is relu6). */
export type FusedActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'leakyrelu';

const activationOf = (ctx: OpContext): FusedActivation => ctx.attr.string('activation', 'linear') as FusedActivation;

/**
 * Conv on NHWC input with a filter already in tfjs's layout: [kh, kw, cin/group, cout], or
 * [kh, kw, cin, multiplier] when `depthwise` is set. Inputs: x, filter, bias?.
 */
function conv(ctx: OpContext): Tensor {
  const [x, w, b] = ctx.inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D | undefined];
  const [kh, kw] = w.shape;
  const strides = (ctx.attr.ints('strides') ?? [1, 1]) as [number, number];
  const dil = (ctx.attr.ints('dilations') ?? [1, 1]) as [number, number];
  const group = ctx.attr.int('group', 1);
  const [[pt, pl], [pb, pr]] = spatialPads(ctx, x.shape.slice(1, 3), [kh, kw], strides, dil) as [[number, number], [number, number]];
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
  const activation = activationOf(ctx);
  const alpha = ctx.attr.float('alpha', 0.01);
  const fused = { strides, pad, dataFormat: 'NHWC' as const, dilations: dil, activation, leakyreluAlpha: alpha };
  if (ctx.attr.int('depthwise', 0)) {
    // tfjs's fused depthwise conv takes one padding for all sides; other pads go in a Pad first.
    const even = pt === pb && pl === pr && pt === pl;
    const xp = even ? x : tf.pad(x, pad);
    return tf.fused.depthwiseConv2d({ x: xp, filter: w, bias: b, ...fused, pad: even ? pt : 'valid' });
  }
  if (group === 1) return tf.fused.conv2d({ x, filter: w, bias: b, ...fused });
  // Grouped (not depthwise): one convolution per group, then the bias and activation.
  const xs = tf.split(x, group, 3);
  const ws = tf.split(w, group, 3);
  let y: Tensor = tf.concat(xs.map((xg, g) => tf.conv2d(xg as tf.Tensor4D, ws[g] as tf.Tensor4D, strides, pad, 'NHWC', dil)), 3);
  if (b) y = tf.add(y, b);
  return applyActivation(y, activation, alpha, ctx);
}

function applyActivation(y: Tensor, activation: FusedActivation, alpha: number, ctx: OpContext): Tensor {
  switch (activation) {
    case 'linear': return y;
    case 'relu': return tf.relu(y);
    case 'relu6': return tf.relu6(y);
    case 'sigmoid': return tf.sigmoid(y);
    case 'leakyrelu': return tf.leakyRelu(y, alpha);
    default: throw opError(ctx.node, `activation '${String(activation)}' is not supported`);
  }
}

/**
 * MatMul/Gemm with the bias and activation in one kernel. Inputs: a, b, bias?. `a` may have
 * leading batch dims when `b` is 2-D (folded into rows, as ONNX MatMul broadcasts).
 */
function fusedMatMul(ctx: OpContext): Tensor {
  const [a, b, bias] = ctx.inputs;
  const transA = ctx.attr.int('transA', 0) === 1;
  const transB = ctx.attr.int('transB', 0) === 1;
  const activation = activationOf(ctx);
  const alpha = ctx.attr.float('alpha', 0.01);
  if (b!.rank !== 2) {
    let y = matMul(a!, b!);
    if (bias) y = tf.add(y, bias);
    return applyActivation(y, activation, alpha, ctx);
  }
  const lead = a!.shape.slice(0, -1);
  // tfjs-backend-wasm 4.22's fused kernel adds the bias wrongly with transposeB and more than one
  // row; the layout pass pre-transposes constant B, and this covers a B computed at run time.
  const bm = transB && bias ? tf.transpose(b!) : b!;
  const a2 = a!.rank === 2 ? a! : tf.reshape(a!, [-1, a!.shape[a!.rank - 1]!]);
  const y = tf.fused.matMul({
    a: a2 as tf.Tensor2D, b: bm as tf.Tensor2D, transposeA: transA, transposeB: transB && !bias, bias, activation, leakyreluAlpha: alpha,
  });
  return a!.rank === 2 ? y : tf.reshape(y, [...lead, y.shape[1]!]);
}

/** Shape of an NHWC value, reported in the NCHW order the model expects. */
function shape(ctx: OpContext): Tensor {
  const [n, h, w, c] = ctx.inputs[0]!.shape as [number, number, number, number];
  const dims = [n, c, h, w];
  return tf.tensor1d(dims.slice(ctx.attr.int('start', 0), ctx.attr.int('end', 4)), 'int32');
}

/** Reshape of an NHWC value with H = W = 1 (same element order as NCHW); a 0 copies the NCHW dim. */
function reshapeUnit(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const [n, , , c] = x.shape as [number, number, number, number];
  const nchw = [n, c, 1, 1];
  const target = hostInts(ctx, 1)!;
  const allowZero = ctx.attr.int('allowzero', 0) === 1;
  return tf.reshape(x, target.map((d, i) => (d === 0 && !allowZero ? nchw[i]! : d)));
}

export const nhwcOps: OpTable = {
  Shape: shape,
  Reshape: { hostInputs: [1], run: reshapeUnit },
  Conv: conv,
  MaxPool: (ctx) => pool(ctx, 'max', true),
  AveragePool: (ctx) => pool(ctx, 'avg', true),
  GlobalAveragePool: ({ inputs: [x] }) => tf.mean(x!, [1, 2], true),
  GlobalMaxPool: ({ inputs: [x] }) => tf.max(x!, [1, 2], true),
  FusedMatMul: fusedMatMul,
};
