// Reductions. Axes moved from the attribute to an input in opset 13 (ReduceSum) and 18 (the rest).
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpDef, OpTable, Tensor } from './types.js';
import { axisOf, hostInts } from './types.js';

function reduceOp(f: (x: Tensor, axes: number[], keep: boolean) => Tensor, inputSince = 18): OpDef {
  return {
    hostInputs: ({ opset }) => (opset >= inputSince ? [1] : []),
    run: (ctx: OpContext) => {
      const x = ctx.inputs[0]!;
      const keep = ctx.attr.int('keepdims', 1) === 1;
      const axes = ctx.opset >= inputSince ? hostInts(ctx, 1) : ctx.attr.ints('axes');
      if (!axes || axes.length === 0) {
        if (ctx.attr.int('noop_with_empty_axes', 0) === 1) return tf.clone(x);
        return f(x, Array.from({ length: x.rank }, (_, i) => i), keep);
      }
      return f(x, axes.map((a) => axisOf(a, x.rank)), keep);
    },
  };
}

export const reduceOps: OpTable = {
  ReduceSum: reduceOp((x, a, k) => tf.sum(x, a, k), 13),
  ReduceMean: reduceOp((x, a, k) => tf.mean(x, a, k)),
  ReduceMax: reduceOp((x, a, k) => tf.max(x, a, k)),
  ReduceMin: reduceOp((x, a, k) => tf.min(x, a, k)),
  ReduceProd: reduceOp((x, a, k) => tf.prod(x, a, k)),
  ReduceL1: reduceOp((x, a, k) => tf.sum(tf.abs(x), a, k)),
  ReduceL2: reduceOp((x, a, k) => tf.sqrt(tf.sum(tf.square(x), a, k))),
  ReduceSumSquare: reduceOp((x, a, k) => tf.sum(tf.square(x), a, k)),
  ReduceLogSum: reduceOp((x, a, k) => tf.log(tf.sum(x, a, k))),
  ReduceLogSumExp: reduceOp((x, a, k) => tf.logSumExp(x, a, k)),
};
