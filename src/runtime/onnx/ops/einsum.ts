// Einsum: tfjs's kernel where the backend has one (cpu, webgpu), else broadcast-multiply-and-sum,
// which handles any equation without repeated letters or ellipses (the wasm backend has no Einsum).
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpTable, Tensor } from './types.js';
import { opError } from './types.js';

export function einsumFallback(equation: string, inputs: Tensor[]): Tensor {
  const [lhs, rhs] = equation.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  const letters = [...new Set(terms.join(''))].sort();
  const out = rhs ?? letters.filter((l) => terms.join('').split(l).length === 2).join('');
  // Align every operand to `letters` order, with size-1 axes for letters it lacks.
  const aligned = terms.map((term, i) => {
    const x = inputs[i]!;
    const present = letters.filter((l) => term.includes(l));
    const perm = present.map((l) => term.indexOf(l));
    const t = tf.transpose(x, perm);
    return tf.reshape(t, letters.map((l) => (term.includes(l) ? x.shape[term.indexOf(l)]! : 1)));
  });
  const product = aligned.slice(1).reduce((acc, t) => tf.mul(acc, t), aligned[0]!);
  const sumAxes = letters.flatMap((l, i) => (out.includes(l) ? [] : [i]));
  const reduced = sumAxes.length ? tf.sum(product, sumAxes) : product;
  const kept = letters.filter((l) => out.includes(l));
  return tf.transpose(reduced, [...out].map((l) => kept.indexOf(l)));
}

function einsum(ctx: OpContext): Tensor {
  const equation = ctx.attr.string('equation', '').replace(/\s+/g, '');
  const terms = equation.split('->')[0]!.split(',');
  if (equation.includes('.') || terms.some((t) => new Set(t).size !== t.length)) {
    throw opError(ctx.node, `equation '${equation}' is not supported (ellipsis or repeated index)`);
  }
  // tfjs 4.22's kernel mishandles a letter summed away inside a single operand ('bij,jk->k').
  const out = equation.split('->')[1] ?? '';
  const safe = terms.every((t) => [...t].every((l) => out.includes(l) || terms.filter((u) => u.includes(l)).length > 1));
  if (safe && ctx.inputs.length <= 2 && tf.getKernel('Einsum', tf.getBackend())) return tf.einsum(equation, ...ctx.inputs);
  return einsumFallback(equation, ctx.inputs);
}

export const einsumOps: OpTable = { Einsum: einsum };
