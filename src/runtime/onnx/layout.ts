// Layout pass: PyTorch exports are NCHW, tfjs convolutions and pools are NHWC. Instead of a
// transpose in and out of every conv/pool, values inside conv regions are kept NHWC and converted
// once where the region starts and where an NCHW-only op reads them. Along the way, conv weights are
// transposed to tfjs's filter layout once at load, a following BatchNormalization is folded into
// them, and bias + activation are fused into tfjs's fused conv2d / matMul kernels.
import * as tf from '@tensorflow/tfjs-core';
import type { AttrValue, OnnxNode } from './model.js';
import type { FusedActivation } from './ops/nhwc.js';
import { INTERNAL_DOMAIN } from './ops/nhwc.js';
import { floatAttr, intAttr, intsAttr, isDefault, stringAttr } from './node-attrs.js';

export interface LayoutContext {
  /** Constants by name; the pass adds the re-laid-out ones (the plan drops those left unused). */
  constants: Map<string, tf.Tensor>;
  /** Graph outputs: always produced NCHW under their own names. */
  outputs: ReadonlySet<string>;
  /** Values subgraphs read by name: likewise kept NCHW. */
  pinned: ReadonlySet<string>;
  /** Ranks known from the model's value_info / inputs. */
  ranks: ReadonlyMap<string, number>;
  opset: number;
}

export interface LayoutResult { nodes: OnnxNode[]; transposes: number; fused: number }

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
/** Where NCHW axis i sits in NHWC. */
const NHWC_AXIS = [0, 3, 1, 2];

/** Elementwise ops of one input (later inputs, as Clip's bounds, are scalars): any layout works. */
const UNARY = new Set([
  'Relu', 'Sigmoid', 'Tanh', 'Clip', 'HardSwish', 'HardSigmoid', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign',
  'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Erf', 'Gelu', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos',
  'Identity', 'Cast', 'Not', 'IsNaN',
]);
/** Elementwise ops whose inputs broadcast together: any layout works once every input shares it. */
const BROADCAST = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Mod',
  'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor', 'Where',
]);

export async function planLayout(nodes: OnnxNode[], ctx: LayoutContext): Promise<LayoutResult> {
  const { constants } = ctx;
  const uses = new Map<string, number>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      uses.set(i, (uses.get(i) ?? 0) + 1);
      consumers.set(i, [...(consumers.get(i) ?? []), n]);
    }
  }
  for (const name of [...ctx.outputs, ...ctx.pinned]) uses.set(name, (uses.get(name) ?? 0) + 2);
  const exposed = (n: string) => ctx.outputs.has(n) || ctx.pinned.has(n);
  /** The one node reading `name`, when nothing else (graph outputs, subgraphs) does. */
  const soleConsumer = (name: string): OnnxNode | undefined =>
    uses.get(name) === 1 && !exposed(name) ? consumers.get(name)?.[0] : undefined;

  const out: OnnxNode[] = [];
  const skip = new Set<OnnxNode>();
  /** Values stored NHWC (logically NCHW, rank 4). */
  const nhwc = new Set<string>();
  /** NHWC values with H = W = 1, whose NHWC and NCHW element orders coincide. */
  const unit = new Set<string>();
  const nchwCopy = new Map<string, string>();
  const nhwcCopy = new Map<string, string>();
  const ranks = new Map(ctx.ranks);
  let transposes = 0;
  let fused = 0;
  let seq = 0;

  const rankOf = (n: string): number | undefined => (nhwc.has(n) ? 4 : constants.get(n)?.rank ?? ranks.get(n));
  const newConst = (base: string, t: tf.Tensor): string => {
    const name = `${base}::${seq++}`;
    constants.set(name, t);
    return name;
  };
  const transposeNode = (from: string, to: string, perm: number[]): OnnxNode => ({
    name: `layout_${to}`, opType: 'Transpose', domain: '', inputs: [from], outputs: [to],
    attributes: new Map<string, AttrValue>([['perm', { kind: 'ints', value: perm }]]),
  });
  const toNchw = (name: string): string => {
    if (!nhwc.has(name)) return name;
    let copy = nchwCopy.get(name);
    if (!copy) {
      copy = `${name}::nchw`;
      out.push(transposeNode(name, copy, TO_NCHW));
      transposes++;
      nchwCopy.set(name, copy);
    }
    return copy;
  };
  /** `name` as NHWC; constants of lower rank are first given leading 1s (broadcasting). */
  const toNhwc = (name: string): string => {
    if (nhwc.has(name)) return name;
    let copy = nhwcCopy.get(name);
    if (copy) return copy;
    const c = constants.get(name);
    if (c) {
      copy = newConst(name, tf.tidy(() => tf.transpose(tf.reshape(c, [...new Array<number>(4 - c.rank).fill(1), ...c.shape]), TO_NHWC)));
    } else {
      copy = `${name}::nhwc`;
      out.push(transposeNode(name, copy, TO_NHWC));
      transposes++;
    }
    nhwc.add(copy);
    nhwcCopy.set(name, copy);
    return copy;
  };
  /** Can `name` join an NHWC elementwise op? (NHWC already, a broadcastable constant, or known rank 4.) */
  const canJoin = (name: string): boolean => {
    if (!name || nhwc.has(name)) return true;
    const c = constants.get(name);
    if (c) return c.rank <= 4;
    return ranks.get(name) === 4;
  };
  /** The input for an NHWC op: scalars and single values stay as they are. */
  const joined = (name: string): string => {
    if (!name || nhwc.has(name)) return name;
    const c = constants.get(name);
    if (c && c.size === 1 && c.rank <= 4) return name;
    return toNhwc(name);
  };
  /** A constant that broadcasts over H and W (size 1 there) in its NHWC form. */
  const unitConst = (name: string): boolean => {
    const c = constants.get(name);
    return c !== undefined && (c.size === 1 || (c.rank === 4 && c.shape[1] === 1 && c.shape[2] === 1));
  };
  /** Emits a node whose outputs are NHWC; graph outputs and captured values get an NCHW copy under their name. */
  const emitNhwc = (node: OnnxNode, isUnit = false): void => {
    const outputs = node.outputs.map((o) => (o && exposed(o) ? `${o}::nhwc` : o));
    out.push({ ...node, outputs });
    node.outputs.forEach((o, i) => {
      const stored = outputs[i]!;
      if (!o) return;
      nhwc.add(stored);
      if (isUnit) unit.add(stored);
      if (stored !== o) {
        out.push(transposeNode(stored, o, TO_NCHW));
        transposes++;
        nhwcCopy.set(o, stored);
        ranks.set(o, 4);
      }
    });
  };
  const withAttrs = (node: OnnxNode, extra: Record<string, AttrValue>): Map<string, AttrValue> =>
    new Map([...node.attributes, ...Object.entries(extra)]);

  /** The activation `node` applies, if tfjs's fused kernels have it. */
  const fusable = async (node: OnnxNode | undefined): Promise<{ act: FusedActivation; alpha?: number } | undefined> => {
    if (!node || !isDefault(node) || node.outputs.length !== 1) return undefined;
    switch (node.opType) {
      case 'Relu': return { act: 'relu' };
      case 'Sigmoid': return { act: 'sigmoid' };
      case 'LeakyRelu': return { act: 'leakyrelu', alpha: floatAttr(node, 'alpha', 0.01) };
      case 'Clip': {
        let lo: number | undefined;
        let hi: number | undefined;
        if (ctx.opset >= 11) {
          const bound = async (i: number) => {
            const n = node.inputs[i];
            if (!n) return undefined;
            const c = constants.get(n);
            return c ? Number((await c.data())[0]) : NaN;
          };
          lo = await bound(1);
          hi = await bound(2);
        } else {
          lo = floatAttr(node, 'min', -Infinity);
          hi = floatAttr(node, 'max', Infinity);
        }
        if (lo === 0 && hi === 6) return { act: 'relu6' };
        if (lo === 0 && (hi === undefined || hi === Infinity)) return { act: 'relu' };
        return undefined;
      }
      default: return undefined;
    }
  };
  /** Folds a following activation into `node` (rewritten to produce the activation's output). */
  const absorbActivation = async (outName: string): Promise<{ out: string; attrs: Record<string, AttrValue> }> => {
    const next = soleConsumer(outName);
    const f = await fusable(next);
    if (!next || !f) return { out: outName, attrs: {} };
    skip.add(next);
    const attrs: Record<string, AttrValue> = { activation: { kind: 'string', value: f.act } };
    if (f.alpha !== undefined) attrs.alpha = { kind: 'float', value: f.alpha };
    return { out: next.outputs[0]!, attrs };
  };

  for (const node of nodes) {
    if (skip.has(node)) continue;
    const op = isDefault(node) ? node.opType : '';
    const x = node.inputs[0] ?? '';

    if (op === 'Conv') {
      const w = constants.get(node.inputs[1] ?? '');
      const b = node.inputs[2] ? constants.get(node.inputs[2]) : undefined;
      if (w && w.rank === 4 && (!node.inputs[2] || b) && (intsAttr(node, 'kernel_shape')?.length ?? 2) === 2) {
        const [cout, cinPerGroup, kh, kw] = w.shape as [number, number, number, number];
        const group = intAttr(node, 'group', 1);
        const depthwise = group > 1 && cinPerGroup === 1 && cout % group === 0;
        let weight = w;
        let bias = b;
        let last = node.outputs[0]!;
        const owned: tf.Tensor[] = [];
        // Conv → BatchNormalization (inference, constant statistics): scale the filter, shift the bias.
        const bn = soleConsumer(last);
        const bnParams = bn && isDefault(bn) && bn.opType === 'BatchNormalization' && bn.outputs.filter((o) => o).length === 1
          ? bn.inputs.slice(1, 5).map((n) => constants.get(n)) : undefined;
        if (bn && bnParams && bnParams.every((t) => t !== undefined && t.rank === 1)) {
          const [scale, beta, mean, variance] = bnParams as tf.Tensor[];
          const eps = floatAttr(bn, 'epsilon', 1e-5);
          const k = tf.tidy(() => tf.div(scale!, tf.sqrt(tf.add(variance!, eps))));
          weight = tf.mul(w, tf.reshape(k, [cout, 1, 1, 1]));
          bias = tf.tidy(() => tf.add(tf.mul(b ? tf.sub(b, mean!) : tf.neg(mean!), k), beta!));
          owned.push(k, weight);
          skip.add(bn);
          last = bn.outputs[0]!;
        }
        const act = await absorbActivation(last);
        if (bias || act.attrs.activation || bn) fused++;
        const filter = tf.tidy(() => {
          const hwio = tf.transpose(weight, [2, 3, 1, 0]);
          return depthwise ? tf.reshape(hwio, [kh, kw, group, cout / group]) : hwio;
        });
        tf.dispose(owned);
        const inputs = [toNhwc(x), newConst(`${node.inputs[1]}.filter`, filter)];
        if (bias) inputs.push(bias === b ? node.inputs[2]! : newConst(`${node.inputs[1]}.bias`, bias));
        emitNhwc({
          ...node, domain: INTERNAL_DOMAIN, inputs, outputs: [act.out],
          attributes: withAttrs(node, { ...act.attrs, depthwise: { kind: 'int', value: depthwise ? 1 : 0 } }),
        });
        continue;
      }
    }

    if ((op === 'MaxPool' || op === 'AveragePool') && intsAttr(node, 'kernel_shape')?.length === 2 && !node.outputs[1]) {
      emitNhwc({ ...node, domain: INTERNAL_DOMAIN, inputs: [toNhwc(x)], outputs: node.outputs.slice(0, 1) });
      continue;
    }

    if ((op === 'GlobalAveragePool' || op === 'GlobalMaxPool') && nhwc.has(x)) {
      emitNhwc({ ...node, domain: INTERNAL_DOMAIN }, true);
      continue;
    }

    if (op === 'BatchNormalization' && nhwc.has(x) && node.outputs.filter((o) => o).length === 1) {
      const params = node.inputs.slice(1, 5).map((n) => constants.get(n));
      if (params.every((t) => t !== undefined && t.rank === 1)) {
        // Per-channel affine on the last (channel) axis: y = x·k + (β − μ·k).
        const [scale, beta, mean, variance] = params as tf.Tensor[];
        const eps = floatAttr(node, 'epsilon', 1e-5);
        const [k, shift] = tf.tidy(() => {
          const kk = tf.div(scale!, tf.sqrt(tf.add(variance!, eps)));
          return [kk, tf.sub(beta!, tf.mul(mean!, kk))];
        });
        const mid = `${node.outputs[0]}::scaled`;
        out.push({ ...node, opType: 'Mul', inputs: [x, newConst(`${node.name}.k`, k!)], outputs: [mid], attributes: new Map() });
        nhwc.add(mid);
        emitNhwc({ ...node, opType: 'Add', inputs: [mid, newConst(`${node.name}.shift`, shift!)], attributes: new Map() }, unit.has(x));
        continue;
      }
    }

    if (UNARY.has(op) && nhwc.has(x) && node.outputs.length === 1) {
      emitNhwc(node, unit.has(x));
      continue;
    }

    if (BROADCAST.has(op) && node.inputs.some((n) => nhwc.has(n)) && node.inputs.every(canJoin)) {
      const inputs = node.inputs.map(joined);
      emitNhwc({ ...node, inputs }, inputs.every((n) => !n || unit.has(n) || unitConst(n)));
      continue;
    }

    if (op === 'Concat' && node.inputs.some((n) => nhwc.has(n)) && node.inputs.every((n) => !n || nhwc.has(n) || rankOf(n) === 4)) {
      const axis = intAttr(node, 'axis', 0);
      const a = axis < 0 ? axis + 4 : axis;
      emitNhwc({
        ...node, inputs: node.inputs.map((n) => (n ? toNhwc(n) : n)),
        attributes: withAttrs(node, { axis: { kind: 'int', value: NHWC_AXIS[a]! } }),
      });
      continue;
    }

    if (op === 'Pad' && nhwc.has(x) && !node.inputs[3]) {
      const perm = (p: ArrayLike<number>) => [0, 2, 3, 1].flatMap((i) => [p[i]!]).concat([0, 2, 3, 1].map((i) => p[i + 4]!));
      if (ctx.opset < 11) {
        const pads = intsAttr(node, 'pads');
        if (pads?.length === 8) {
          emitNhwc({ ...node, attributes: withAttrs(node, { pads: { kind: 'ints', value: perm(pads) } }) });
          continue;
        }
      } else {
        const c = constants.get(node.inputs[1] ?? '');
        if (c && c.size === 8) {
          const pads = perm(await c.data());
          emitNhwc({ ...node, inputs: [x, newConst(node.inputs[1]!, tf.tensor1d(pads, 'int32')), ...node.inputs.slice(2)] });
          continue;
        }
      }
    }

    if ((op === 'Resize' || op === 'Upsample') && nhwc.has(x) && !node.attributes.has('axes')
      && stringAttr(node, 'coordinate_transformation_mode', '') !== 'tf_crop_and_resize') {
      // Scales or sizes per axis, reordered like the data (roi only matters for tf_crop_and_resize).
      const slots = op === 'Upsample' ? (ctx.opset >= 9 ? [1] : []) : [2, 3];
      const inputs = node.inputs.slice();
      let ok = op !== 'Upsample' || ctx.opset >= 9;
      for (const i of slots) {
        const n = inputs[i];
        if (!n) continue;
        const c = constants.get(n);
        if (!c || c.size === 0) { if (!c) ok = false; continue; }
        if (c.size !== 4) { ok = false; continue; }
        const v = await c.data();
        inputs[i] = newConst(n, tf.tensor1d(TO_NHWC.map((a) => v[a]!), c.dtype as 'float32' | 'int32'));
      }
      if (ok) {
        emitNhwc({ ...node, inputs });
        continue;
      }
    }

    // H = W = 1: the NHWC data already is in NCHW element order, so a reshape can read it directly.
    if (op === 'Flatten' && unit.has(x) && intAttr(node, 'axis', 1) === 1) {
      out.push(node);
      continue;
    }
    if (op === 'Reshape' && unit.has(x) && ctx.opset >= 5) {
      out.push({ ...node, domain: INTERNAL_DOMAIN });
      continue;
    }
    if (op === 'Shape' && nhwc.has(x)) {
      out.push({ ...node, domain: INTERNAL_DOMAIN });
      continue;
    }

    if ((op === 'Gemm' || op === 'MatMul') && node.outputs.length === 1) {
      const rewritten = await fuseMatMul(node);
      if (rewritten) {
        out.push({ ...rewritten, inputs: rewritten.inputs.map((n) => (n ? toNchw(n) : n)) });
        fused++;
        continue;
      }
    }

    // Layout-sensitive (or unknown) op: it reads NCHW.
    out.push({ ...node, inputs: node.inputs.map((n) => (n ? toNchw(n) : n)) });
  }
  return { nodes: out, transposes, fused };

  /** Gemm (alpha = beta = 1, 1-D constant C) or MatMul (2-D B) + 1-D constant bias Add, then an activation. */
  async function fuseMatMul(node: OnnxNode): Promise<OnnxNode | undefined> {
    let bias: string | undefined;
    let last = node.outputs[0]!;
    const attrs: Record<string, AttrValue> = {};
    if (node.opType === 'Gemm') {
      if (floatAttr(node, 'alpha', 1) !== 1 || (node.inputs[2] && floatAttr(node, 'beta', 1) !== 1)) return undefined;
      if (node.inputs[2]) {
        const c = constants.get(node.inputs[2]);
        if (!c || c.rank !== 1) return undefined;
        bias = node.inputs[2];
      }
      attrs.transA = { kind: 'int', value: intAttr(node, 'transA', 0) };
      attrs.transB = { kind: 'int', value: intAttr(node, 'transB', 0) };
      // PyTorch's Linear stores W as [out, in] (transB = 1): transpose it once here, not per run.
      const b = constants.get(node.inputs[1]!);
      if (b && b.rank === 2 && intAttr(node, 'transB', 0) === 1) {
        const bt = newConst(node.inputs[1]!, tf.transpose(b));
        attrs.transB = { kind: 'int', value: 0 };
        return finish(node, [node.inputs[0]!, bt], bias, last, attrs);
      }
    } else {
      const b = constants.get(node.inputs[1] ?? '');
      if (!b || b.rank !== 2) return undefined;
      const add = soleConsumer(last);
      if (add && isDefault(add) && add.opType === 'Add') {
        const other = add.inputs[0] === last ? add.inputs[1]! : add.inputs[0]!;
        const c = constants.get(other);
        if (c && c.rank === 1 && c.size === b.shape[1]) {
          bias = other;
          skip.add(add);
          last = add.outputs[0]!;
        }
      }
    }
    if (node.opType === 'MatMul' && !bias && !soleConsumer(last)) return undefined;
    return finish(node, [node.inputs[0]!, node.inputs[1]!], bias, last, attrs);
  }

  async function finish(node: OnnxNode, ab: string[], bias: string | undefined, last: string, attrs: Record<string, AttrValue>): Promise<OnnxNode | undefined> {
    const act = await absorbActivation(last);
    if (node.opType === 'MatMul' && !bias && !act.attrs.activation) return undefined;
    return {
      ...node, domain: INTERNAL_DOMAIN, opType: 'FusedMatMul', inputs: [...ab, ...(bias ? [bias] : [])],
      outputs: [act.out], attributes: new Map(Object.entries({ ...attrs, ...act.attrs })),
    };
  }
}
