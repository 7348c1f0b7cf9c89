// LSTM and GRU (layout 0 [seq, batch, feature] or 1, batch-first; sequence_lens), forward, reverse and bidirectional, unrolled over
// time with the input projection for all steps done as one matmul.
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpTable, Tensor } from './types.js';
import { hostInts, opError } from './types.js';

type Act = (x: Tensor) => Tensor;

function activation(ctx: OpContext, name: string, alpha?: number, beta?: number): Act {
  switch (name) {
    case 'Sigmoid': return tf.sigmoid;
    case 'Tanh': return tf.tanh;
    case 'Relu': return tf.relu;
    case 'HardSigmoid': return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha ?? 0.2), beta ?? 0.5), 0, 1);
    default: throw opError(ctx.node, `activation '${name}' is not supported`);
  }
}

interface RnnSetup {
  x: Tensor; seq: number; batch: number; hidden: number; dirs: number;
  directions: ('forward' | 'reverse')[];
  acts: Act[];
  /** Valid steps per batch entry (sequence_lens); undefined: all of them. */
  lens?: number[];
  /** Initial state input `i` in [dirs, batch, hidden] (layout 1 stores [batch, dirs, hidden]). */
  initial(i: number): Tensor | undefined;
  /** Y [seq, dirs, batch, hidden] and the final states, in the node's layout. */
  finish(y: Tensor, states: Tensor[]): Tensor[];
}

function setup(ctx: OpContext, defaults: string[]): RnnSetup {
  if (ctx.attr.has('clip')) throw opError(ctx.node, 'the clip attribute is not supported');
  // layout 1 is batch-first: X [batch, seq, in], states [batch, dirs, hidden], Y [batch, seq, dirs, hidden].
  const batchFirst = ctx.attr.int('layout', 0) === 1;
  const x = batchFirst ? tf.transpose(ctx.inputs[0]!, [1, 0, 2]) : ctx.inputs[0]!;
  const lens = hostInts(ctx, 4);
  const direction = ctx.attr.string('direction', 'forward');
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const names = ctx.attr.strings('activations') ?? [...defaults, ...(dirs === 2 ? defaults : [])];
  const alphas = ctx.attr.floats('activation_alpha') ?? [];
  const betas = ctx.attr.floats('activation_beta') ?? [];
  return {
    x, seq: x.shape[0]!, batch: x.shape[1]!, hidden: ctx.attr.int('hidden_size', ctx.inputs[2]!.shape[2]!), dirs,
    directions: direction === 'bidirectional' ? ['forward', 'reverse'] : [direction as 'forward' | 'reverse'],
    acts: names.map((n, i) => activation(ctx, n, alphas[i], betas[i])),
    ...(lens && lens.some((l) => l < x.shape[0]!) ? { lens } : {}),
    initial: (i) => (!ctx.has(i) ? undefined : batchFirst ? tf.transpose(ctx.inputs[i]!, [1, 0, 2]) : ctx.inputs[i]!),
    finish: (y, states) => {
      const all = [y, ...states];
      return (batchFirst ? [tf.transpose(y, [2, 0, 1, 3]), ...states.map((t) => tf.transpose(t, [1, 0, 2]))] : all)
        .slice(0, ctx.node.outputs.length);
    },
  };
}

/** x·Wᵀ for every step at once: [seq, batch, gates·hidden]. */
function projectInput(x: Tensor, w: Tensor): Tensor {
  const [seq, batch, feat] = x.shape as [number, number, number];
  return tf.reshape(tf.matMul(tf.reshape(x, [seq * batch, feat]), w, false, true), [seq, batch, -1]);
}

const dirSlice = (t: Tensor, d: number) => tf.squeeze(tf.slice(t, [d], [1]), [0]);

/**
 * Runs one direction; `step` maps (x·Wᵀ at t, state) → new state whose [0] is h. With sequence
 * lengths, entries past their length keep their state and output zeros (so a reverse pass starts
 * at each entry's own last step).
 */
function unroll(xw: Tensor, seq: number, reverse: boolean, state: Tensor[], lens: number[] | undefined, step: (xt: Tensor, s: Tensor[]) => Tensor[]): { ys: Tensor[]; last: Tensor[] } {
  const steps = tf.unstack(xw, 0);
  const ys: Tensor[] = new Array<Tensor>(seq);
  let s = state;
  for (let k = 0; k < seq; k++) {
    const t = reverse ? seq - 1 - k : k;
    const next = step(steps[t]!, s);
    if (lens && lens.some((l) => t >= l)) {
      const valid = tf.broadcastTo(tf.tensor2d(lens.map((l) => t < l), [lens.length, 1], 'bool'), next[0]!.shape);
      s = next.map((n, i) => tf.where(valid, n, s[i]!));
      ys[t] = tf.where(valid, next[0]!, tf.zerosLike(next[0]!));
    } else {
      s = next;
      ys[t] = s[0]!;
    }
  }
  return { ys, last: s };
}

function lstm(ctx: OpContext): Tensor[] {
  const r = setup(ctx, ['Sigmoid', 'Tanh', 'Tanh']);
  const [, W, R, B, , , , P] = ctx.inputs;
  const H = r.hidden;
  const zeros = tf.zeros([r.dirs, r.batch, H]);
  const inputForget = ctx.attr.int('input_forget', 0) === 1;
  const Ys: Tensor[] = [];
  const Hs: Tensor[] = [];
  const Cs: Tensor[] = [];
  r.directions.forEach((dir, d) => {
    const [f, g, h] = r.acts.slice(d * 3, d * 3 + 3) as [Act, Act, Act];
    const w = dirSlice(W!, d);
    const rw = dirSlice(R!, d);
    const bias = ctx.has(3) ? tf.add(...(tf.split(dirSlice(B!, d), 2) as [Tensor, Tensor])) : tf.zeros([4 * H]);
    const p = ctx.has(7) ? tf.split(dirSlice(P!, d), 3) : undefined;
    const xw = tf.add(projectInput(r.x, w), bias);
    const init = [dirSlice(r.initial(5) ?? zeros, d), dirSlice(r.initial(6) ?? zeros, d)];
    const { ys, last } = unroll(xw, r.seq, dir === 'reverse', init, r.lens, (xt, [hp, cp]) => {
      const gates = tf.add(xt, tf.matMul(hp!, rw, false, true));
      let [gi, go, gf, gc] = tf.split(gates, 4, 1) as [Tensor, Tensor, Tensor, Tensor];
      if (p) { gi = tf.add(gi, tf.mul(p[0]!, cp!)); gf = tf.add(gf, tf.mul(p[2]!, cp!)); }
      const i = f(gi);
      const fg = inputForget ? tf.sub(1, i) : f(gf);
      const c = tf.add(tf.mul(fg, cp!), tf.mul(i, g(gc)));
      if (p) go = tf.add(go, tf.mul(p[1]!, c));
      return [tf.mul(f(go), h(c)), c];
    });
    Ys.push(tf.stack(ys, 0));
    Hs.push(last[0]!);
    Cs.push(last[1]!);
  });
  return r.finish(tf.stack(Ys, 1), [tf.stack(Hs, 0), tf.stack(Cs, 0)]);
}

function gru(ctx: OpContext): Tensor[] {
  const r = setup(ctx, ['Sigmoid', 'Tanh']);
  const [, W, R, B] = ctx.inputs;
  const H = r.hidden;
  const linearBeforeReset = ctx.attr.int('linear_before_reset', 0) === 1;
  const Ys: Tensor[] = [];
  const Hs: Tensor[] = [];
  r.directions.forEach((dir, d) => {
    const [f, g] = r.acts.slice(d * 2, d * 2 + 2) as [Act, Act];
    const rw = dirSlice(R!, d);
    const [wb, rb] = ctx.has(3) ? tf.split(dirSlice(B!, d), 2) as [Tensor, Tensor] : [tf.zeros([3 * H]), tf.zeros([3 * H])];
    const xw = tf.add(projectInput(r.x, dirSlice(W!, d)), wb);
    const [rz, rr, rh] = tf.split(rw, 3, 0) as [Tensor, Tensor, Tensor];
    const [rbz, rbr, rbh] = tf.split(rb, 3) as [Tensor, Tensor, Tensor];
    const rzr = tf.concat([rz, rr], 0);
    const rbzr = tf.concat([rbz, rbr]);
    const init = [dirSlice(r.initial(5) ?? tf.zeros([r.dirs, r.batch, H]), d)];
    const { ys, last } = unroll(xw, r.seq, dir === 'reverse', init, r.lens, (xt, [hp]) => {
      const [xz, xr, xh] = tf.split(xt, 3, 1) as [Tensor, Tensor, Tensor];
      const [hz, hr] = tf.split(tf.add(tf.matMul(hp!, rzr, false, true), rbzr), 2, 1) as [Tensor, Tensor];
      const z = f(tf.add(xz, hz));
      const rg = f(tf.add(xr, hr));
      const hh = linearBeforeReset
        ? g(tf.add(xh, tf.mul(rg, tf.add(tf.matMul(hp!, rh, false, true), rbh))))
        : g(tf.add(xh, tf.add(tf.matMul(tf.mul(rg, hp!), rh, false, true), rbh)));
      return [tf.add(tf.mul(tf.sub(1, z), hh), tf.mul(z, hp!))];
    });
    Ys.push(tf.stack(ys, 0));
    Hs.push(last[0]!);
  });
  return r.finish(tf.stack(Ys, 1), [tf.stack(Hs, 0)]);
}

export const recurrentOps: OpTable = {
  LSTM: { hostInputs: [4], run: lstm },
  GRU: { hostInputs: [4], run: gru },
};
