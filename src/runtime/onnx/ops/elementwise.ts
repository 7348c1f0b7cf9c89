// Elementwise math, activations, comparisons and logic: one tfjs call each where tfjs has the op.
import * as tf from '@tensorflow/tfjs-core';
import type { OpTable, Tensor } from './types.js';
import { hostInts } from './types.js';
import { gelu as kernelGelu } from '../../../kernels/index.js';

const hardSigmoid = (x: Tensor, alpha: number, beta: number): Tensor =>
  tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);

/** Variadic ops (Sum, Max, Min, Mean) fold pairwise with broadcasting. */
const variadic = (f: (a: Tensor, b: Tensor) => Tensor) => ({ inputs }: { inputs: Tensor[] }): Tensor =>
  inputs.length === 1 ? tf.clone(inputs[0]!) : inputs.slice(1).reduce((acc, x) => f(acc, x), inputs[0]!);

/** ONNX integer Div truncates toward zero; tfjs int32 div floors. */
function div(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'int32') return tf.div(a, b);
  const q = tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32'));
  return tf.cast(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), 'int32');
}

export const elementwiseOps: OpTable = {
  Add: ({ inputs: [a, b] }) => tf.add(a!, b!),
  Sub: ({ inputs: [a, b] }) => tf.sub(a!, b!),
  Mul: ({ inputs: [a, b] }) => tf.mul(a!, b!),
  Div: ({ inputs: [a, b] }) => div(a!, b!),
  Pow: ({ inputs: [a, b] }) => tf.pow(a!, b!.dtype === a!.dtype ? b! : tf.cast(b!, a!.dtype)),
  Mod: ({ inputs: [a, b], attr }) => (attr.int('fmod', 0) ? tf.sub(a!, tf.mul(b!, div(a!, b!))) : tf.mod(a!, b!)),
  Sum: variadic(tf.add),
  Max: variadic(tf.maximum),
  Min: variadic(tf.minimum),
  Mean: (ctx) => tf.div(variadic(tf.add)(ctx), ctx.inputs.length),
  Abs: ({ inputs: [x] }) => tf.abs(x!),
  Neg: ({ inputs: [x] }) => tf.neg(x!),
  Sqrt: ({ inputs: [x] }) => tf.sqrt(x!),
  Reciprocal: ({ inputs: [x] }) => tf.reciprocal(x!),
  Exp: ({ inputs: [x] }) => tf.exp(x!),
  Log: ({ inputs: [x] }) => tf.log(x!),
  Erf: ({ inputs: [x] }) => tf.erf(x!),
  Floor: ({ inputs: [x] }) => tf.floor(x!),
  Ceil: ({ inputs: [x] }) => tf.ceil(x!),
  Round: ({ inputs: [x] }) => tf.round(x!), // both round half to even
  Sign: ({ inputs: [x] }) => tf.sign(x!),
  Sin: ({ inputs: [x] }) => tf.sin(x!),
  Cos: ({ inputs: [x] }) => tf.cos(x!),
  Tan: ({ inputs: [x] }) => tf.tan(x!),
  Atan: ({ inputs: [x] }) => tf.atan(x!),
  Relu: ({ inputs: [x] }) => tf.relu(x!),
  Sigmoid: ({ inputs: [x] }) => tf.sigmoid(x!),
  Tanh: ({ inputs: [x] }) => tf.tanh(x!),
  Softplus: ({ inputs: [x] }) => tf.softplus(x!),
  Softsign: ({ inputs: [x] }) => tf.div(x!, tf.add(tf.abs(x!), 1)),
  LeakyRelu: ({ inputs: [x], attr }) => tf.leakyRelu(x!, attr.float('alpha', 0.01)),
  PRelu: ({ inputs: [x, slope] }) => tf.where(tf.greaterEqual(x!, 0), x!, tf.mul(x!, slope!)),
  Elu: ({ inputs: [x], attr }) => tf.where(tf.greater(x!, 0), x!, tf.mul(tf.sub(tf.exp(x!), 1), attr.float('alpha', 1))),
  Selu: ({ inputs: [x], attr }) => tf.mul(
    tf.where(tf.greater(x!, 0), x!, tf.mul(tf.sub(tf.exp(x!), 1), attr.float('alpha', 1.67326319217681884765625))),
    attr.float('gamma', 1.05070102214813232421875)),
  HardSigmoid: ({ inputs: [x], attr }) => hardSigmoid(x!, attr.float('alpha', 0.2), attr.float('beta', 0.5)),
  HardSwish: ({ inputs: [x] }) => tf.mul(x!, hardSigmoid(x!, 1 / 6, 0.5)),
  Gelu: ({ inputs: [x], attr }) => (attr.string('approximate', 'none') === 'tanh'
    ? tf.mul(tf.mul(x!, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x!, tf.mul(0.044715, tf.pow(x!, 3)))))))
    : kernelGelu(x!)), // erf form: dawnserve's kernel on webgpu, the same tfjs ops elsewhere
  Clip: {
    // Opset 11 moved min/max from attributes to optional inputs.
    hostInputs: ({ opset }) => (opset >= 11 ? [1, 2] : []),
    run: (ctx) => {
      const lo = ctx.opset >= 11 ? hostInts(ctx, 1)?.[0] : ctx.attr.float('min', -Infinity);
      const hi = ctx.opset >= 11 ? hostInts(ctx, 2)?.[0] : ctx.attr.float('max', Infinity);
      let y = ctx.inputs[0]!;
      // tf.clipByValue wants both bounds; one-sided clips use maximum/minimum.
      if (lo !== undefined && lo !== -Infinity) y = tf.maximum(y, tf.scalar(lo, y.dtype));
      if (hi !== undefined && hi !== Infinity) y = tf.minimum(y, tf.scalar(hi, y.dtype));
      return y === ctx.inputs[0] ? tf.clone(y) : y;
    },
  },
  Equal: ({ inputs: [a, b] }) => tf.equal(a!, b!),
  Greater: ({ inputs: [a, b] }) => tf.greater(a!, b!),
  GreaterOrEqual: ({ inputs: [a, b] }) => tf.greaterEqual(a!, b!),
  Less: ({ inputs: [a, b] }) => tf.less(a!, b!),
  LessOrEqual: ({ inputs: [a, b] }) => tf.lessEqual(a!, b!),
  And: ({ inputs: [a, b] }) => tf.logicalAnd(a!, b!),
  Or: ({ inputs: [a, b] }) => tf.logicalOr(a!, b!),
  Xor: ({ inputs: [a, b] }) => tf.logicalXor(a!, b!),
  Not: ({ inputs: [x] }) => tf.logicalNot(x!),
  IsNaN: ({ inputs: [x] }) => tf.isNaN(x!),
  Where: ({ inputs: [c, a, b] }) => {
    const shape = tf.broadcast_util.assertAndGetBroadcastShape(tf.broadcast_util.assertAndGetBroadcastShape(c!.shape, a!.shape), b!.shape);
    return tf.where(tf.broadcastTo(c!, shape), tf.broadcastTo(a!, shape), tf.broadcastTo(b!, shape));
  },
};
