// Neural-network ops on NCHW tensors. tfjs convolutions and pools are NHWC-only on most backends,
// so each one transposes in and out (a layout-propagation pass would remove most of these).
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpTable, Tensor } from './types.js';
import { axisOf, hostInts, opError } from './types.js';
import { layerNorm as kernelLayerNorm } from '../../../kernels/index.js';

const toNhwc = (x: Tensor) => tf.transpose(x, [0, 2, 3, 1]);
const toNchw = (x: Tensor) => tf.transpose(x, [0, 3, 1, 2]);

/** Begin/end padding per spatial dim from ONNX pads or auto_pad. */
export function spatialPads(ctx: OpContext, inSize: number[], k: number[], s: number[], d: number[]): [number[], number[]] {
  const n = inSize.length;
  const autoPad = ctx.attr.string('auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inSize[i]! / s[i]!);
      const total = Math.max(0, (out - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - inSize[i]!);
      const b = autoPad === 'SAME_LOWER' ? Math.ceil(total / 2) : Math.floor(total / 2);
      begin.push(b);
      end.push(total - b);
    }
    return [begin, end];
  }
  const pads = autoPad === 'VALID' ? undefined : ctx.attr.ints('pads');
  return [pads?.slice(0, n) ?? new Array<number>(n).fill(0), pads?.slice(n, 2 * n) ?? new Array<number>(n).fill(0)];
}

/** Brings a 1-D (N,C,W) op to 2-D (N,C,1,W); returns the lifted tensors and how to undo it. */
function lift1d(x: Tensor, node: OpContext['node']): { x4: Tensor; is1d: boolean } {
  if (x.rank === 4) return { x4: x, is1d: false };
  if (x.rank === 3) return { x4: tf.expandDims(x, 2), is1d: true };
  throw opError(node, `only 1-D and 2-D spatial inputs are supported (got rank ${x.rank})`);
}

const pairs2 = (v: number[] | undefined, is1d: boolean, dflt: number): [number, number] =>
  is1d ? [1, v?.[0] ?? dflt] : [v?.[0] ?? dflt, v?.[1] ?? dflt];

function conv(ctx: OpContext): Tensor {
  const [x, w, b] = ctx.inputs;
  const { x4, is1d } = lift1d(x!, ctx.node);
  const w4 = is1d ? tf.expandDims(w!, 2) : w!;
  const [cout, cinPerGroup, kh, kw] = w4.shape as [number, number, number, number];
  const strides = pairs2(ctx.attr.ints('strides'), is1d, 1);
  const dil = pairs2(ctx.attr.ints('dilations'), is1d, 1);
  const group = ctx.attr.int('group', 1);
  const [begin, end] = is1d
    ? spatialPads(ctx, [x4.shape[3]!], [kw], [strides[1]], [dil[1]]).map((p) => [0, p[0]!])
    : spatialPads(ctx, x4.shape.slice(2), [kh, kw], strides, dil);
  const [pt, pl] = begin as [number, number];
  const [pb, pr] = end as [number, number];
  const input = tf.pad(toNhwc(x4), [[0, 0], [pt!, pb!], [pl!, pr!], [0, 0]]);
  const cin = x4.shape[1]!;
  let y: Tensor;
  if (group === 1) {
    y = tf.conv2d(input as tf.Tensor4D, tf.transpose(w4, [2, 3, 1, 0]) as tf.Tensor4D, strides, 'valid', 'NHWC', dil);
  } else if (group === cin && cinPerGroup === 1) {
    // Depthwise: output channel o reads input channel floor(o / multiplier).
    const filter = tf.reshape(tf.transpose(w4, [2, 3, 1, 0]), [kh, kw, cin, cout / cin]) as tf.Tensor4D;
    y = tf.depthwiseConv2d(input as tf.Tensor4D, filter, strides, 'valid', 'NHWC', dil);
  } else {
    const xs = tf.split(input, group, 3);
    const ws = tf.split(w4, group, 0);
    y = tf.concat(xs.map((xg, g) =>
      tf.conv2d(xg as tf.Tensor4D, tf.transpose(ws[g]!, [2, 3, 1, 0]) as tf.Tensor4D, strides, 'valid', 'NHWC', dil)), 3);
  }
  if (b) y = tf.add(y, b);
  const out = toNchw(y);
  return is1d ? tf.squeeze(out, [2]) : out;
}

function convTranspose(ctx: OpContext): Tensor {
  const [x, w, b] = ctx.inputs;
  const { x4, is1d } = lift1d(x!, ctx.node);
  const w4 = is1d ? tf.expandDims(w!, 2) : w!;
  const [, coutPerGroup, kh, kw] = w4.shape as [number, number, number, number];
  const group = ctx.attr.int('group', 1);
  const s = pairs2(ctx.attr.ints('strides'), is1d, 1);
  const d = pairs2(ctx.attr.ints('dilations'), is1d, 1);
  if (d[0] !== 1 || d[1] !== 1) throw opError(ctx.node, 'dilated ConvTranspose is not supported');
  const outPad = pairs2(ctx.attr.ints('output_padding'), is1d, 0);
  const [n, , h, wd] = x4.shape as [number, number, number, number];
  const full = [(h - 1) * s[0] + kh, (wd - 1) * s[1] + kw];
  const xs = tf.split(toNhwc(x4), group, 3);
  const ws = tf.split(w4, group, 0);
  let y = tf.concat(xs.map((xg, g) => tf.conv2dTranspose(xg as tf.Tensor4D,
    tf.transpose(ws[g]!, [2, 3, 1, 0]) as tf.Tensor4D, [n, full[0]!, full[1]!, coutPerGroup], s, 'valid')), 3);
  // Total padding from pads, auto_pad or output_shape, as the ONNX spec derives it.
  const outShape = ctx.attr.ints('output_shape');
  const autoPad = ctx.attr.string('auto_pad', 'NOTSET');
  const begin: number[] = [];
  const end: number[] = [];
  const pads = ctx.attr.ints('pads');
  for (let i = 0; i < 2; i++) {
    const target = outShape ? (is1d ? [1, outShape[0]!] : outShape)[i] : undefined;
    if (target !== undefined || (autoPad !== 'NOTSET' && autoPad !== 'VALID')) {
      const want = target ?? [h, wd][i]! * s[i]!;
      const total = full[i]! + outPad[i]! - want;
      const half = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? half : total - half);
      end.push(autoPad === 'SAME_UPPER' ? total - half : half);
    } else {
      const j = is1d ? 0 : i;
      const n2 = is1d ? 1 : 2;
      begin.push(is1d && i === 0 ? 0 : pads?.[j] ?? 0);
      end.push(is1d && i === 0 ? 0 : pads?.[j + n2] ?? 0);
    }
  }
  if (outPad[0] || outPad[1]) y = tf.pad(y, [[0, 0], [0, outPad[0]], [0, outPad[1]], [0, 0]]);
  y = tf.slice(y, [0, begin[0]!, begin[1]!, 0], [-1, y.shape[1]! - begin[0]! - end[0]!, y.shape[2]! - begin[1]! - end[1]!, -1]);
  if (b) y = tf.add(y, b);
  const out = toNchw(y);
  return is1d ? tf.squeeze(out, [2]) : out;
}

/** Max/average pooling; `nhwc`: the input is already NHWC (the layout pass put it there) and so is the result. */
export function pool(ctx: OpContext, kind: 'max' | 'avg', nhwc = false, indices = false): Tensor | Tensor[] {
  const { x4, is1d } = nhwc ? { x4: ctx.inputs[0]!, is1d: false } : lift1d(ctx.inputs[0]!, ctx.node);
  const k = pairs2(ctx.attr.ints('kernel_shape'), is1d, 1);
  const s = pairs2(ctx.attr.ints('strides'), is1d, 1);
  const d = pairs2(ctx.attr.ints('dilations'), is1d, 1);
  const inSize = nhwc ? x4.shape.slice(1, 3) : x4.shape.slice(2);
  const [b1, e1] = spatialPads(ctx, is1d ? inSize.slice(1) : inSize, is1d ? [k[1]] : k, is1d ? [s[1]] : s, is1d ? [d[1]] : d);
  const begin = is1d ? [0, b1[0]!] : b1;
  const end = is1d ? [0, e1[0]!] : e1;
  // ceil_mode: extend the end so the last partial window exists; those cells never count.
  const extra = [0, 1].map((i) => {
    if (!ctx.attr.int('ceil_mode', 0)) return 0;
    const span = inSize[i]! + begin[i]! + end[i]! - ((k[i]! - 1) * d[i]! + 1);
    let out = Math.ceil(span / s[i]!) + 1;
    if ((out - 1) * s[i]! >= inSize[i]! + begin[i]!) out--;
    return Math.max(0, (out - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - (inSize[i]! + begin[i]! + end[i]!));
  });
  const pads: [number, number][] = [[0, 0], [begin[0]!, end[0]! + extra[0]!], [begin[1]!, end[1]! + extra[1]!], [0, 0]];
  if (indices) return maxPoolWithIndices(x4, is1d, k, s, d, pads, ctx.attr.int('storage_order', 0) === 1);
  const x = (nhwc ? x4 : toNhwc(x4)) as tf.Tensor4D;
  const padded = pads.some(([a, c]) => a || c);
  let y: Tensor;
  if (kind === 'max') {
    const xp = padded ? tf.pad(x, pads, -Infinity) : x;
    y = d[0] === 1 && d[1] === 1 ? tf.maxPool(xp, k, s, 'valid') : tf.pool(xp, k, 'max', 'valid', d, s);
  } else {
    y = tf.avgPool(padded ? tf.pad(x, pads, 0) : x, k, s, 'valid');
    if (padded) {
      // Divide by the count of real (or, with count_include_pad, non-ceil) cells in each window.
      const includePad = ctx.attr.int('count_include_pad', 0) === 1;
      const ones = tf.ones([1, inSize[0]!, inSize[1]!, 1]);
      const mask = includePad
        ? tf.pad(tf.pad(ones, [[0, 0], [begin[0]!, end[0]!], [begin[1]!, end[1]!], [0, 0]], 1), [[0, 0], [0, extra[0]!], [0, extra[1]!], [0, 0]])
        : tf.pad(ones, pads, 0);
      y = tf.div(y, tf.avgPool(mask as tf.Tensor4D, k, s, 'valid'));
    }
  }
  if (nhwc) return y;
  const out = toNchw(y);
  return is1d ? tf.squeeze(out, [2]) : out;
}

/**
 * MaxPool with its Indices output (NCHW): a running max over the kernel's strided windows, the
 * first maximum winning as in onnxruntime; indices into the flattened input, row-major by default
 * or column-major per image with storage_order = 1.
 */
function maxPoolWithIndices(x: Tensor, is1d: boolean, k: number[], s: number[], d: number[], nhwcPads: [number, number][], colMajor: boolean): Tensor[] {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  // Indices travel as float32 (exact below 2^24): the wasm backend's int32 pad/where lose them.
  if (n * c * h * w > 1 << 24) throw new Error('MaxPool Indices: input too large for exact indices');
  const flat = tf.range(0, n * c * h * w, 1, 'float32');
  const idx = colMajor
    ? tf.reshape(tf.transpose(tf.reshape(flat, [n, c, w, h]), [0, 1, 3, 2]), x.shape)
    : tf.reshape(flat, x.shape);
  const pads: [number, number][] = [[0, 0], [0, 0], nhwcPads[1]!, nhwcPads[2]!];
  const xp = tf.pad(x, pads, -Infinity);
  const ip = tf.pad(idx, pads, -1);
  const out = [0, 1].map((i) => Math.floor((xp.shape[i + 2]! - ((k[i]! - 1) * d[i]! + 1)) / s[i]!) + 1);
  let best: Tensor | undefined;
  let bestIdx: Tensor | undefined;
  for (let i = 0; i < k[0]!; i++) {
    for (let j = 0; j < k[1]!; j++) {
      const b = [0, 0, i * d[0]!, j * d[1]!];
      const e = [n, c, b[2]! + (out[0]! - 1) * s[0]! + 1, b[3]! + (out[1]! - 1) * s[1]! + 1];
      const v = tf.stridedSlice(xp, b, e, [1, 1, s[0]!, s[1]!]);
      const vi = tf.stridedSlice(ip, b, e, [1, 1, s[0]!, s[1]!]);
      if (!best || !bestIdx) { best = v; bestIdx = vi; continue; }
      const better = tf.greater(v, best);
      best = tf.where(better, v, best);
      bestIdx = tf.where(better, vi, bestIdx);
    }
  }
  const indices = tf.cast(bestIdx!, 'int32');
  return is1d ? [tf.squeeze(best!, [2]), tf.squeeze(indices, [2])] : [best!, indices];
}

/** Reshapes a per-channel vector to broadcast over NC… */
const perChannel = (v: Tensor, rank: number): Tensor => tf.reshape(v, [1, -1, ...new Array<number>(rank - 2).fill(1)]);

function batchNorm(ctx: OpContext): Tensor {
  const [x, scale, bias, mean, variance] = ctx.inputs;
  const r = x!.rank;
  const eps = ctx.attr.float('epsilon', 1e-5);
  const k = tf.div(scale!, tf.sqrt(tf.add(variance!, eps)));
  return tf.add(tf.mul(tf.sub(x!, perChannel(mean!, r)), perChannel(k, r)), perChannel(bias!, r));
}

function instanceNorm(ctx: OpContext): Tensor {
  const [x, scale, bias] = ctx.inputs;
  const axes = Array.from({ length: x!.rank - 2 }, (_, i) => i + 2);
  const { mean, variance } = tf.moments(x!, axes, true);
  const y = tf.div(tf.sub(x!, mean), tf.sqrt(tf.add(variance, ctx.attr.float('epsilon', 1e-5))));
  return tf.add(tf.mul(y, perChannel(scale!, x!.rank)), perChannel(bias!, x!.rank));
}

function layerNorm(ctx: OpContext): Tensor[] {
  const [x, scale, bias] = ctx.inputs;
  const axis = axisOf(ctx.attr.int('axis', -1), x!.rank);
  const axes = Array.from({ length: x!.rank - axis }, (_, i) => axis + i);
  // Last-axis normalisation with only Y requested: dawnserve's fused kernel on webgpu (tfjs ops elsewhere).
  const last = x!.shape[x!.rank - 1]!;
  const perChannel = (t: Tensor | undefined): boolean => !t || (t.rank === 1 && t.shape[0] === last);
  if (axis === x!.rank - 1 && ctx.node.outputs.length === 1 && perChannel(scale) && perChannel(ctx.has(2) ? bias : undefined)) {
    return [kernelLayerNorm(x!, scale, ctx.has(2) ? bias : undefined, ctx.attr.float('epsilon', 1e-5))];
  }
  const mean = tf.mean(x!, axes, true);
  const centered = tf.sub(x!, mean);
  const invStd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axes, true), ctx.attr.float('epsilon', 1e-5)));
  let y = tf.mul(tf.mul(centered, invStd), scale!);
  if (ctx.has(2)) y = tf.add(y, bias!);
  return [y, mean, invStd].slice(0, ctx.node.outputs.length);
}

/** Softmax-family op along `axis` (opset ≥ 13) or over the flattened trailing dims (older). */
function softmaxLike(ctx: OpContext, f: (x: Tensor) => Tensor): Tensor {
  const x = ctx.inputs[0]!;
  if (ctx.opset < 13) {
    const axis = axisOf(ctx.attr.int('axis', 1), x.rank);
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return tf.reshape(f(tf.reshape(x, [outer, -1])), x.shape);
  }
  const axis = axisOf(ctx.attr.int('axis', -1), x.rank);
  if (axis === x.rank - 1) return f(x);
  // tfjs softmax works on the last axis only.
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  perm[axis] = x.rank - 1;
  perm[x.rank - 1] = axis;
  return tf.transpose(f(tf.transpose(x, perm)), perm);
}

export function matMul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 1 && b.rank === 1) return tf.sum(tf.mul(a, b));
  const a2 = a.rank === 1 ? tf.expandDims(a, 0) : a;
  const b2 = b.rank === 1 ? tf.expandDims(b, 1) : b;
  let y: Tensor;
  if (b2.rank === 2 && a2.rank > 2) {
    // The common [B, T, D] × [D, E] case: one 2-D matmul, no broadcast copies.
    const lead = a2.shape.slice(0, -1);
    y = tf.reshape(tf.matMul(tf.reshape(a2, [-1, a2.shape[a2.rank - 1]!]), b2), [...lead, b2.shape[1]!]);
  } else {
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
    y = tf.matMul(tf.broadcastTo(a2, [...batch, ...a2.shape.slice(-2)]), tf.broadcastTo(b2, [...batch, ...b2.shape.slice(-2)]));
  }
  if (a.rank === 1) y = tf.squeeze(y, [y.rank - 2]);
  if (b.rank === 1) y = tf.squeeze(y, [y.rank - 1]);
  return y;
}

function gemm(ctx: OpContext): Tensor {
  const [a, b, c] = ctx.inputs;
  const alpha = ctx.attr.float('alpha', 1);
  const beta = ctx.attr.float('beta', 1);
  let y = tf.matMul(a!, b!, ctx.attr.int('transA', 0) === 1, ctx.attr.int('transB', 0) === 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  if (ctx.has(2)) y = tf.add(y, beta === 1 ? c! : tf.mul(c!, beta));
  return y;
}

type CoordMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn';

function sourceCoord(mode: string, o: number, scale: number, inSize: number, outSize: number): number {
  switch (mode as CoordMode) {
    case 'half_pixel': return (o + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel': return outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
    case 'asymmetric': return o / scale;
    case 'tf_half_pixel_for_nn': return (o + 0.5) / scale;
    default: throw new Error(`Resize coordinate_transformation_mode '${mode}' is not supported`);
  }
}

function nearestIndex(mode: string, x: number): number {
  switch (mode) {
    case 'round_prefer_floor': return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil': return Math.round(x);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: throw new Error(`Resize nearest_mode '${mode}' is not supported`);
  }
}

/**
 * Resize as one gather (nearest) or two gathers and a lerp (linear) per resized axis: separable,
 * so it is exact for every coordinate mode and rank, not only tfjs's image resize modes.
 */
/** Keys cubic convolution weight for distance |x| (coefficient a; PyTorch's bicubic uses −0.75). */
function cubicWeight(x: number, a: number): number {
  const d = Math.abs(x);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

/**
 * Resize as one gather (nearest), two gathers and a lerp (linear) or four weighted gathers (cubic)
 * per resized axis: separable, so it is exact for every coordinate mode and rank, not only tfjs's
 * image resize modes.
 */
function resize(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const legacy = ctx.node.opType === 'Upsample' || ctx.opset < 11;
  let scalesIn = legacy ? (ctx.opset >= 9 ? hostInts(ctx, 1) : ctx.attr.floats('scales')) : hostInts(ctx, 2);
  let sizes = legacy ? undefined : hostInts(ctx, 3);
  let mode = ctx.attr.string('mode', 'nearest');
  if (mode === 'bilinear') mode = 'linear';
  if (mode === 'bicubic') mode = 'cubic';
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw opError(ctx.node, `mode '${mode}' is not supported`);
  const policy = ctx.attr.string('keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') throw opError(ctx.node, `keep_aspect_ratio_policy '${policy}' is not supported`);
  // Opset 18 `axes`: scales/sizes name only those axes; the others keep their size.
  const axes = ctx.attr.ints('axes')?.map((a) => axisOf(a, x.rank));
  if (axes) {
    const expand = (v: number[] | undefined, fill: (i: number) => number) => {
      if (!v || v.length === 0) return v;
      const full = Array.from({ length: x.rank }, (_, i) => fill(i));
      axes.forEach((a, i) => { full[a] = v[i]!; });
      return full;
    };
    scalesIn = expand(scalesIn, () => 1);
    sizes = expand(sizes, (i) => x.shape[i]!);
  }
  const coordMode = legacy ? 'asymmetric' : ctx.attr.string('coordinate_transformation_mode', 'half_pixel');
  const nearestMode = legacy ? 'floor' : ctx.attr.string('nearest_mode', 'round_prefer_floor');
  const cubicA = ctx.attr.float('cubic_coeff_a', -0.75);
  const excludeOutside = ctx.attr.int('exclude_outside', 0) === 1;
  let y = x;
  for (let axis = 0; axis < x.rank; axis++) {
    const inSize = x.shape[axis]!;
    const useSizes = sizes !== undefined && sizes.length > 0;
    const outSize = useSizes ? sizes![axis]! : Math.floor(inSize * scalesIn![axis]!);
    const scale = useSizes ? outSize / inSize : scalesIn![axis]!;
    if (outSize === inSize && scale === 1) continue;
    const src = Array.from({ length: outSize }, (_, o) => sourceCoord(coordMode, o, scale, inSize, outSize));
    const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
    const wShape = new Array<number>(x.rank).fill(1);
    wShape[axis] = outSize;
    if (mode === 'nearest') {
      y = tf.gather(y, tf.tensor1d(src.map((c) => clamp(nearestIndex(nearestMode, c))), 'int32'), axis);
      continue;
    }
    if (mode === 'cubic') {
      // Four taps at floor(c) − 1 … floor(c) + 2, clamped to the edge (or dropped with exclude_outside).
      const taps = [-1, 0, 1, 2].map((k) => src.map((c) => Math.floor(c) + k));
      const weights = taps.map((idx, k) => idx.map((i, o) => {
        const w = cubicWeight(src[o]! - Math.floor(src[o]!) - (k - 1), cubicA);
        return excludeOutside && (i < 0 || i >= inSize) ? 0 : w;
      }));
      if (excludeOutside) {
        for (let o = 0; o < outSize; o++) {
          const total = weights.reduce((acc, w) => acc + w[o]!, 0);
          for (const w of weights) w[o] = w[o]! / total;
        }
      }
      y = taps.map((idx, k) => tf.mul(tf.gather(y, tf.tensor1d(idx.map(clamp), 'int32'), axis), tf.tensor(weights[k]!, wShape, 'float32')))
        .reduce((acc, t) => tf.add(acc, t));
      continue;
    }
    const c = src.map((v) => Math.min(Math.max(v, 0), inSize - 1));
    const i0 = c.map(Math.floor);
    const w = tf.tensor(c.map((v, i) => v - i0[i]!), wShape, 'float32');
    const lo = tf.gather(y, tf.tensor1d(i0, 'int32'), axis);
    const hi = tf.gather(y, tf.tensor1d(i0.map((i) => clamp(i + 1)), 'int32'), axis);
    y = tf.add(lo, tf.mul(tf.sub(hi, lo), w));
  }
  return y === x ? tf.clone(x) : y;
}

export const nnOps: OpTable = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: (ctx) => pool(ctx, 'max', false, ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== ''),
  AveragePool: (ctx) => pool(ctx, 'avg'),
  GlobalAveragePool: ({ inputs: [x] }) => tf.mean(x!, Array.from({ length: x!.rank - 2 }, (_, i) => i + 2), true),
  GlobalMaxPool: ({ inputs: [x] }) => tf.max(x!, Array.from({ length: x!.rank - 2 }, (_, i) => i + 2), true),
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LayerNormalization: layerNorm,
  Softmax: (ctx) => softmaxLike(ctx, (x) => tf.softmax(x)),
  LogSoftmax: (ctx) => softmaxLike(ctx, (x) => tf.logSoftmax(x)),
  MatMul: ({ inputs: [a, b] }) => matMul(a!, b!),
  Gemm: gemm,
  Resize: { hostInputs: [1, 2, 3], run: resize },
  Upsample: { hostInputs: [1], run: resize },
};
