// Shape and data-movement ops. Their shape-like inputs are read on the host; the plan folds them
// at load time whenever those inputs are constants.
import * as tf from '@tensorflow/tfjs-core';
import type { ConstTensor } from '../model.js';
import { tfDTypeOf, onnxTypeName } from '../model.js';
import type { OpContext, OpTable, Tensor } from './types.js';
import { axisOf, hostInts, opError } from './types.js';

export function constToTensor(c: ConstTensor): Tensor {
  return tf.tensor(c.data, c.shape, c.dtype);
}

/** Axes from input `i` (opset ≥ `since`) or from the `axes` attribute (older opsets). */
function axesOf(ctx: OpContext, i: number, since: number): number[] | undefined {
  return ctx.opset >= since ? hostInts(ctx, i) : ctx.attr.ints('axes');
}

function reshape(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const allowZero = ctx.attr.int('allowzero', 0) === 1;
  const shape = ctx.opset >= 5 ? hostInts(ctx, 1)! : ctx.attr.ints('shape')!;
  // 0 copies the input's dimension (unless allowzero); -1 is inferred by tfjs.
  return tf.reshape(x, shape.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d)));
}

function squeeze(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const axes = axesOf(ctx, 1, 13);
  return tf.squeeze(x, axes?.map((a) => axisOf(a, x.rank)));
}

function unsqueeze(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const axes = axesOf(ctx, 1, 13)!;
  const rank = x.rank + axes.length;
  const sorted = axes.map((a) => axisOf(a, rank)).sort((a, b) => a - b);
  const shape = x.shape.slice();
  for (const a of sorted) shape.splice(a, 0, 1);
  return tf.reshape(x, shape);
}

/** ONNX Slice semantics: clamping, negative indices and steps, then tf.slice + gathers for steps ≠ 1. */
export function sliceTensor(x: Tensor, starts: number[], ends: number[], axes?: number[], steps?: number[]): Tensor {
  const begin = new Array<number>(x.rank).fill(0);
  const size = x.shape.slice();
  const strided: [number, number[]][] = [];
  starts.forEach((start, i) => {
    const axis = axisOf(axes?.[i] ?? i, x.rank);
    const dim = x.shape[axis]!;
    const step = steps?.[i] ?? 1;
    let s = start < 0 ? start + dim : start;
    let e = ends[i]! < 0 ? ends[i]! + dim : ends[i]!;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    if (step === 1) {
      begin[axis] = s;
      size[axis] = Math.max(0, e - s);
    } else {
      const idx: number[] = [];
      for (let k = s; step > 0 ? k < e : k > e; k += step) idx.push(k);
      strided.push([axis, idx]);
    }
  });
  let y = tf.slice(x, begin, size);
  for (const [axis, idx] of strided) y = tf.gather(y, tf.tensor1d(idx, 'int32'), axis);
  return y;
}

function slice(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  if (ctx.opset < 10) {
    return sliceTensor(x, ctx.attr.ints('starts')!, ctx.attr.ints('ends')!, ctx.attr.ints('axes'));
  }
  return sliceTensor(x, hostInts(ctx, 1)!, hostInts(ctx, 2)!, hostInts(ctx, 3), hostInts(ctx, 4));
}

function split(ctx: OpContext): Tensor[] {
  const x = ctx.inputs[0]!;
  const axis = axisOf(ctx.attr.int('axis', 0), x.rank);
  const n = ctx.node.outputs.length;
  const sizes = ctx.opset >= 13 ? hostInts(ctx, 1) : ctx.attr.ints('split');
  if (sizes) return tf.split(x, sizes, axis);
  const dim = x.shape[axis]!;
  // Opset 18: the last chunk may be smaller when the axis does not divide evenly.
  const chunk = Math.ceil(dim / n);
  const even = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  return tf.split(x, even, axis);
}

/** Pads with ONNX `pads` = [begin_0 … begin_n, end_0 … end_n]; negative pads crop. */
export function padTensor(x: Tensor, pads: number[], mode: string, value: number, axes?: number[]): Tensor {
  const rank = x.rank;
  const before = new Array<number>(rank).fill(0);
  const after = new Array<number>(rank).fill(0);
  const ax = axes?.map((a) => axisOf(a, rank)) ?? Array.from({ length: rank }, (_, i) => i);
  ax.forEach((a, i) => { before[a] = pads[i]!; after[a] = pads[i + ax.length]!; });
  const crop = before.some((p) => p < 0) || after.some((p) => p < 0);
  let y = x;
  if (crop) {
    y = tf.slice(y, before.map((p) => Math.max(0, -p)), y.shape.map((d, i) => d - Math.max(0, -before[i]!) - Math.max(0, -after[i]!)));
  }
  const pairs = before.map((p, i): [number, number] => [Math.max(0, p), Math.max(0, after[i]!)]);
  if (mode === 'constant') return tf.pad(y, pairs, value);
  if (mode === 'reflect') return tf.mirrorPad(y, pairs, 'reflect');
  if (mode === 'edge') {
    pairs.forEach(([b, e], axis) => {
      if (b === 0 && e === 0) return;
      const dim = y.shape[axis]!;
      const idx = Array.from({ length: dim + b + e }, (_, k) => Math.min(Math.max(k - b, 0), dim - 1));
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), axis);
    });
    return y === x ? tf.clone(y) : y;
  }
  throw new Error(`Pad mode '${mode}' is not supported`);
}

function pad(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const mode = ctx.attr.string('mode', 'constant');
  if (ctx.opset < 11) return padTensor(x, ctx.attr.ints('pads')!, mode, ctx.attr.float('value', 0));
  const value = hostInts(ctx, 2)?.[0] ?? 0;
  return padTensor(x, hostInts(ctx, 1)!, mode, value, hostInts(ctx, 3));
}

function constant(ctx: OpContext): Tensor {
  const a = ctx.attr;
  const t = a.tensor('value');
  if (t) return constToTensor(t);
  if (a.has('value_float')) return tf.scalar(a.float('value_float', 0), 'float32');
  if (a.has('value_floats')) return tf.tensor1d(a.floats('value_floats')!, 'float32');
  if (a.has('value_int')) return tf.scalar(a.int('value_int', 0), 'int32');
  if (a.has('value_ints')) return tf.tensor1d(a.ints('value_ints')!, 'int32');
  throw opError(ctx.node, 'no supported value attribute (sparse and string constants are not supported)');
}

function cast(ctx: OpContext): Tensor {
  const to = ctx.attr.int('to', 0);
  const dtype = tfDTypeOf(to);
  if (!dtype) throw opError(ctx.node, `cast to ${onnxTypeName(to)} is not supported`);
  return tf.cast(ctx.inputs[0]!, dtype);
}

function gather(ctx: OpContext): Tensor {
  const [x, idx] = ctx.inputs;
  const axis = axisOf(ctx.attr.int('axis', 0), x!.rank);
  // Negative indices count from the end in ONNX; tfjs would read out of range.
  const fixed = tf.where(tf.less(idx!, 0), tf.add(idx!, tf.scalar(x!.shape[axis]!, idx!.dtype)), idx!);
  return tf.gather(x!, fixed, axis);
}

function expand(ctx: OpContext): Tensor {
  const x = ctx.inputs[0]!;
  const target = hostInts(ctx, 1)!;
  // Bidirectional broadcast: a 1 in the target keeps the input's dimension.
  const shape = tf.broadcast_util.assertAndGetBroadcastShape(x.shape, target);
  return tf.broadcastTo(x, shape);
}

function constantOfShape(ctx: OpContext): Tensor {
  const shape = hostInts(ctx, 0)!;
  const v = ctx.attr.tensor('value');
  return tf.fill(shape, v ? v.data[0]! : 0, v?.dtype ?? 'float32');
}

function range(ctx: OpContext): Tensor {
  const [start, limit, delta] = [0, 1, 2].map((i) => Number(ctx.host(i)[0]));
  return tf.range(start!, limit!, delta!, ctx.inputs[0]!.dtype === 'int32' ? 'int32' : 'float32');
}

function shape(ctx: OpContext): Tensor {
  const dims = ctx.inputs[0]!.shape;
  const start = ctx.attr.int('start', 0);
  const end = ctx.attr.int('end', dims.length);
  return tf.tensor1d(dims.slice(start, end), 'int32');
}

export const shapeOps: OpTable = {
  Identity: ({ inputs: [x] }) => tf.clone(x!),
  Dropout: ({ inputs: [x], node }) => (node.outputs.length > 1 && node.outputs[1]
    ? [tf.clone(x!), tf.cast(tf.onesLike(x!), 'bool')] : tf.clone(x!)),
  Constant: constant,
  Cast: cast,
  CastLike: ({ inputs: [x, like] }) => tf.cast(x!, like!.dtype),
  Shape: shape,
  Size: ({ inputs: [x] }) => tf.scalar(x!.size, 'int32'),
  Reshape: { hostInputs: ({ opset }) => (opset >= 5 ? [1] : []), run: reshape },
  Flatten: ({ inputs: [x], attr }) => {
    const axis = axisOf(attr.int('axis', 1), x!.rank);
    const outer = x!.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return tf.reshape(x!, [outer, x!.size / Math.max(outer, 1) || 0]);
  },
  Transpose: ({ inputs: [x], attr }) => tf.transpose(x!, attr.ints('perm')),
  Concat: ({ inputs, attr }) => {
    // tfjs rejects some empty operands that ONNX allows (e.g. a [0] shape piece).
    const parts = inputs.filter((t) => t.size > 0);
    return tf.concat(parts.length ? parts : inputs, axisOf(attr.int('axis', 0), inputs[0]!.rank));
  },
  Squeeze: { hostInputs: [1], run: squeeze },
  Unsqueeze: { hostInputs: [1], run: unsqueeze },
  Slice: { hostInputs: [1, 2, 3, 4], run: slice },
  Split: { hostInputs: [1], run: split },
  Pad: { hostInputs: [1, 2, 3], run: pad },
  Gather: gather,
  Expand: { hostInputs: [1], run: expand },
  Tile: { hostInputs: [1], run: (ctx) => tf.tile(ctx.inputs[0]!, hostInts(ctx, 1)!) },
  ConstantOfShape: { hostInputs: [0], run: constantOfShape },
  Range: { hostInputs: [0, 1, 2], run: range },
  ArgMax: ({ inputs: [x], attr }) => {
    const axis = axisOf(attr.int('axis', 0), x!.rank);
    const y = tf.argMax(x!, axis);
    return attr.int('keepdims', 1) ? tf.expandDims(y, axis) : y;
  },
  ArgMin: ({ inputs: [x], attr }) => {
    const axis = axisOf(attr.int('axis', 0), x!.rank);
    const y = tf.argMin(x!, axis);
    return attr.int('keepdims', 1) ? tf.expandDims(y, axis) : y;
  },
};
