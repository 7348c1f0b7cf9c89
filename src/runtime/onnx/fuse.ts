// Pattern fusion: the transformer blocks PyTorch exports as primitive ops — LayerNorm at opset ≤ 16
// (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div, then Mul/Add for the affine part), the erf GELU
// (0.5·x·(1 + erf(x/√2)) in any operand order) and scaled dot-product attention
// (MatMul(q, kᵀ) → scale → [+ mask] → Softmax → MatMul(·, v)) — are rewritten into one internal op
// each (ops/fused.ts), which calls dawnserve's fused kernels on webgpu and the same tfjs math
// elsewhere. Runs on the plan's node list after constant folding, before the layout pass.
//
// A pattern is fused only when it matches exactly and none of its intermediate values is seen
// outside it: not a graph output, not captured by a subgraph, not read by any node outside the
// pattern. Constants (ε, 2, √2, 0.5, 1, scales) must be folded scalars; γ/β folded vectors.
import * as tf from '@tensorflow/tfjs-core';
import type { AttrValue, OnnxNode } from './model.js';
import { INTERNAL_DOMAIN } from './ops/nhwc.js';
import { intAttr, intsAttr, isDefault } from './node-attrs.js';

export interface FuseContext {
  /** Constants by name (folded values included); the pass adds the few it creates. */
  constants: Map<string, tf.Tensor>;
  /** Values read from outside the node list (graph outputs, subgraph captures): never fused away. */
  exposed: ReadonlySet<string>;
  /** Ranks known from the model's value_info / inputs. */
  ranks: ReadonlyMap<string, number>;
  opset: number;
}

export interface FuseCounts { layerNorm: number; gelu: number; attention: number }
export interface FuseResult { nodes: OnnxNode[]; counts: FuseCounts }

/** How close a constant must be to the value a pattern names (1, 0.5, 1/√2, 2). */
const TOLERANCE = 1e-6;

const near = (v: number | undefined, want: number): boolean => v !== undefined && Math.abs(v - want) <= TOLERANCE;

/** The operand of binary `node` that is not `v` (undefined when `v` is not an operand). */
function other(node: OnnxNode, v: string): string | undefined {
  if (node.inputs.length !== 2) return undefined;
  if (node.inputs[0] === v) return node.inputs[1];
  if (node.inputs[1] === v) return node.inputs[0];
  return undefined;
}

interface Match {
  /** Every node the pattern replaces. */
  nodes: OnnxNode[];
  /** The node producing the pattern's result: the replacement goes where it was. */
  last: OnnxNode;
  replacement: OnnxNode[];
  kind: keyof FuseCounts;
}

export async function fusePatterns(nodes: OnnxNode[], ctx: FuseContext): Promise<FuseResult> {
  const { constants } = ctx;
  const producer = new Map<string, OnnxNode>();
  /** Readers of each value, one entry per read (Mul(x, x) reads x twice). */
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const counts: FuseCounts = { layerNorm: 0, gelu: 0, attention: 0 };
  /** Nodes some accepted match replaces. */
  const taken = new Set<OnnxNode>();
  const replaced = new Map<OnnxNode, OnnxNode[]>();

  const uses = (v: string): OnnxNode[] => consumers.get(v) ?? [];
  /** The one node reading `v`, when nothing else (another node, a graph output, a subgraph) does. */
  const sole = (v: string | undefined): OnnxNode | undefined => {
    if (!v || ctx.exposed.has(v)) return undefined;
    const c = uses(v);
    return c.length === 1 ? c[0] : undefined;
  };
  /** A default-domain `op` with exactly one output, not part of an earlier match. */
  const isOp = (n: OnnxNode | undefined, op: string): n is OnnxNode =>
    n !== undefined && isDefault(n) && n.opType === op && n.outputs.length === 1 && !!n.outputs[0] && !taken.has(n);

  const hostCache = new Map<string, number[]>();
  const hostValues = async (name: string): Promise<number[] | undefined> => {
    const t = constants.get(name);
    if (!t) return undefined;
    let v = hostCache.get(name);
    if (!v) {
      v = Array.from(await t.data(), Number);
      hostCache.set(name, v);
    }
    return v;
  };
  /** A constant single value that broadcasts without raising any rank (rank 0 or [1]). */
  const scalar = async (name: string | undefined): Promise<number | undefined> => {
    const t = name ? constants.get(name) : undefined;
    if (!t || t.size !== 1 || t.rank > 1 || t.dtype === 'bool' || t.dtype === 'string') return undefined;
    return (await hostValues(name!))![0];
  };
  /** γ or β: a float constant of rank ≤ 1, broadcasting over the last axis only. */
  const affine = (name: string | undefined): boolean => {
    const t = name ? constants.get(name) : undefined;
    return t !== undefined && t.rank <= 1 && t.dtype === 'float32';
  };
  /** Mul(v, c) or Mul(c, v) → v·c; Div(v, c) → v·(1/c), for a scalar constant c. */
  const scaling = async (n: OnnxNode | undefined): Promise<{ input: string; factor: number } | undefined> => {
    if (!n || !(isOp(n, 'Mul') || isOp(n, 'Div')) || n.inputs.length !== 2) return undefined;
    const [a, b] = n.inputs as [string, string];
    if (!a || !b) return undefined;
    const cb = await scalar(b);
    if (cb !== undefined && !constants.has(a)) {
      const factor = n.opType === 'Mul' ? cb : 1 / cb;
      return Number.isFinite(factor) ? { input: a, factor } : undefined;
    }
    if (n.opType === 'Mul') {
      const ca = await scalar(a);
      if (ca !== undefined && !constants.has(b) && Number.isFinite(ca)) return { input: b, factor: ca };
    }
    return undefined;
  };
  let seq = 0;
  const newName = (base: string) => `${base}::fused${seq++}`;
  const attrs = (entries: Record<string, AttrValue>) => new Map(Object.entries(entries));

  // ---- LayerNorm: ReduceMean → Sub → Pow(·, 2) → ReduceMean → Add(ε) → Sqrt → Div [→ Mul(γ)] [→ Add(β)] ----

  /** ReduceMean keeping dims over exactly the last axis of a value of `x`'s rank. */
  const lastAxisMean = async (n: OnnxNode, x: string): Promise<boolean> => {
    if (intAttr(n, 'keepdims', 1) !== 1) return false;
    // Opset 18 moved the axes from the attribute to an (optional) input.
    const axes = ctx.opset >= 18 ? (n.inputs[1] ? await hostValues(n.inputs[1]) : undefined) : intsAttr(n, 'axes');
    if (!axes || axes.length !== 1) return false;
    const rank = ctx.ranks.get(x);
    return axes[0] === -1 || (rank !== undefined && axes[0] === rank - 1);
  };

  async function matchLayerNorm(m0: OnnxNode): Promise<Match | undefined> {
    const x = m0.inputs[0];
    const mean = m0.outputs[0]!;
    if (!x || !(await lastAxisMean(m0, x))) return undefined;
    const sub = sole(mean);
    if (!isOp(sub, 'Sub') || sub.inputs[0] !== x || sub.inputs[1] !== mean) return undefined;
    // The centred value d feeds exactly the variance's Pow and the final Div.
    const d = sub.outputs[0]!;
    if (ctx.exposed.has(d) || uses(d).length !== 2) return undefined;
    const pow = uses(d).find((n) => isOp(n, 'Pow') && n.inputs[0] === d);
    const div = uses(d).find((n) => isOp(n, 'Div') && n.inputs[0] === d);
    if (!pow || !div || pow === div || (await scalar(pow.inputs[1])) !== 2) return undefined;
    const m1 = sole(pow.outputs[0]);
    if (!isOp(m1, 'ReduceMean') || m1.inputs[0] !== pow.outputs[0] || !(await lastAxisMean(m1, x))) return undefined;
    const addEps = sole(m1.outputs[0]);
    if (!isOp(addEps, 'Add')) return undefined;
    const eps = await scalar(other(addEps, m1.outputs[0]!));
    if (eps === undefined || !(eps >= 0)) return undefined;
    const sqrt = sole(addEps.outputs[0]);
    if (!isOp(sqrt, 'Sqrt') || sole(sqrt.outputs[0]) !== div || div.inputs[1] !== sqrt.outputs[0]) return undefined;
    const group = [m0, sub, pow, m1, addEps, sqrt, div];
    let last: OnnxNode = div;
    let gamma: string | undefined;
    let beta: string | undefined;
    const mul = sole(last.outputs[0]);
    if (isOp(mul, 'Mul')) {
      const g = other(mul, last.outputs[0]!);
      if (affine(g)) { gamma = g; group.push(mul); last = mul; }
    }
    const add = sole(last.outputs[0]);
    if (isOp(add, 'Add')) {
      const b = other(add, last.outputs[0]!);
      if (affine(b)) { beta = b; group.push(add); last = add; }
    }
    // The kernel takes γ and β together: the missing one becomes its identity (β = 0, γ = 1).
    const fill = (like: string, value: number): string => {
      const name = `${like}::fused_${value === 0 ? 'zeros' : 'ones'}`;
      if (!constants.has(name)) constants.set(name, tf.fill(constants.get(like)!.shape, value));
      return name;
    };
    const vector = (n: string | undefined) => n !== undefined && constants.get(n)!.rank === 1;
    if (vector(gamma) && !beta) beta = fill(gamma!, 0);
    if (vector(beta) && !gamma) gamma = fill(beta!, 1);
    return {
      kind: 'layerNorm', nodes: group, last,
      replacement: [{
        name: `${m0.name}::LayerNorm`, opType: 'FusedLayerNorm', domain: INTERNAL_DOMAIN,
        inputs: [x, gamma ?? '', beta ?? ''], outputs: [last.outputs[0]!],
        attributes: attrs({ epsilon: { kind: 'float', value: eps } }),
      }],
    };
  }

  // ---- GELU: x·½·(1 + erf(x/√2)), the ½ on x, on the sum or on the product ----

  async function matchGelu(erf: OnnxNode): Promise<Match | undefined> {
    const e = erf.inputs[0];
    const pre = e ? producer.get(e) : undefined;
    if (sole(e) !== erf) return undefined;
    const scaled = await scaling(pre);
    if (!scaled || !near(scaled.factor, Math.SQRT1_2)) return undefined;
    const x = scaled.input;
    const add = sole(erf.outputs[0]);
    if (!isOp(add, 'Add') || !near(await scalar(other(add, erf.outputs[0]!)), 1)) return undefined;
    const a = add.outputs[0]!;
    const m1 = sole(a);
    if (!isOp(m1, 'Mul')) return undefined;
    const o = other(m1, a);
    if (!o) return undefined;
    const group = [pre!, erf, add, m1];
    let last: OnnxNode;
    if (o === x) {
      // (x · (1 + erf)) · ½
      const m2 = sole(m1.outputs[0]);
      const half = await scaling(m2);
      if (!half || half.input !== m1.outputs[0] || !near(half.factor, 0.5)) return undefined;
      group.push(m2!);
      last = m2!;
    } else if (near(await scalar(o), 0.5)) {
      // x · ((1 + erf) · ½)
      const m2 = sole(m1.outputs[0]);
      if (!isOp(m2, 'Mul') || other(m2, m1.outputs[0]!) !== x) return undefined;
      group.push(m2);
      last = m2;
    } else {
      // (x · ½) · (1 + erf)
      const h = producer.get(o);
      const half = await scaling(h);
      if (sole(o) !== m1 || !half || half.input !== x || !near(half.factor, 0.5)) return undefined;
      group.push(h!);
      last = m1;
    }
    return {
      kind: 'gelu', nodes: group, last,
      replacement: [{
        name: `${erf.name}::Gelu`, opType: 'FusedGelu', domain: INTERNAL_DOMAIN, inputs: [x], outputs: [last.outputs[0]!],
        attributes: new Map(),
      }],
    };
  }

  // ---- Attention: MatMul(q·a, kᵀ·b) · c [+ mask] → Softmax(last axis) → MatMul(·, v) ----

  /** Scalar scalings applied to `t` on its way to `consumer` (each node read by the next only). */
  async function stripScales(t: string, consumer: OnnxNode): Promise<{ value: string; scale: number; nodes: OnnxNode[]; consumer: OnnxNode }> {
    let scale = 1;
    const stripped: OnnxNode[] = [];
    for (;;) {
      if (sole(t) !== consumer) break;
      const n = producer.get(t);
      const s = await scaling(n);
      if (!s) break;
      scale *= s.factor;
      stripped.push(n!);
      consumer = n!;
      t = s.input;
    }
    return { value: t, scale, nodes: stripped, consumer };
  }

  /** The scores `t` (read by its consumer only) as scalings of a MatMul's output. */
  async function scoreChain(t: string, consumer: OnnxNode): Promise<{ mm: OnnxNode; scale: number; nodes: OnnxNode[] } | undefined> {
    if (sole(t) !== consumer) return undefined;
    const s = await stripScales(t, consumer);
    const mm = producer.get(s.value);
    if (!isOp(mm, 'MatMul') || sole(s.value) !== s.consumer) return undefined;
    return { mm, scale: s.scale, nodes: [...s.nodes, mm] };
  }

  async function matchAttention(sm: OnnxNode): Promise<Match | undefined> {
    const s = sm.inputs[0];
    const p = sm.outputs[0]!;
    if (!s) return undefined;
    const pv = sole(p);
    if (!isOp(pv, 'MatMul') || pv.inputs[0] !== p || pv.inputs[1] === p || !pv.inputs[1]) return undefined;
    const v = pv.inputs[1];
    const group: OnnxNode[] = [sm, pv];
    let mask: string | undefined;
    let chain = await scoreChain(s, sm);
    const add = producer.get(s);
    if (!chain && isOp(add, 'Add') && sole(s) === sm) {
      for (const [scores, m] of [[add.inputs[0], add.inputs[1]], [add.inputs[1], add.inputs[0]]] as [string, string][]) {
        if (!scores || !m || scores === m) continue;
        chain = await scoreChain(scores, add);
        if (chain) { mask = m; group.push(add); break; }
      }
    }
    if (!chain) return undefined;
    group.push(...chain.nodes);
    const [qIn, kIn] = chain.mm.inputs;
    if (!qIn || !kIn || qIn === kIn) return undefined;
    const q = await stripScales(qIn, chain.mm);
    const kT = await stripScales(kIn, chain.mm);
    group.push(...q.nodes, ...kT.nodes);
    let scale = chain.scale * q.scale * kT.scale;
    const replacement: OnnxNode[] = [];
    let k = kT.value;
    let transposedK = 1;
    /** Rank of k (scalings and a Transpose keep it). */
    let rk = ctx.ranks.get(kIn) ?? ctx.ranks.get(kT.value);
    // kᵀ = Transpose(src, perm): then k = Transpose(src, perm with its last two entries swapped).
    const tr = producer.get(kT.value);
    if (isOp(tr, 'Transpose') && sole(kT.value) === kT.consumer && tr.inputs[0]) {
      const srcRank = ctx.ranks.get(tr.inputs[0]);
      const perm = intsAttr(tr, 'perm') ?? (srcRank !== undefined ? Array.from({ length: srcRank }, (_, i) => srcRank - 1 - i) : undefined);
      if (perm && perm.length >= 2) {
        const src = await stripScales(tr.inputs[0], tr);
        rk ??= perm.length;
        group.push(tr, ...src.nodes);
        scale *= src.scale;
        const swapped = [...perm.slice(0, -2), perm[perm.length - 1]!, perm[perm.length - 2]!];
        transposedK = 0;
        if (swapped.every((a, i) => a === i)) {
          k = src.value;
        } else {
          k = newName(kT.value);
          replacement.push({
            name: `${tr.name}::k`, opType: 'Transpose', domain: '', inputs: [src.value], outputs: [k],
            attributes: attrs({ perm: { kind: 'ints', value: swapped } }),
          });
        }
      }
    }
    // Softmax over the last axis (before opset 13, over the flattened trailing dims from `axis`, the
    // same thing when `axis` is the last one). The scores' rank: MatMul's larger operand rank.
    const axis = intAttr(sm, 'axis', ctx.opset >= 13 ? -1 : 1);
    const rq = ctx.ranks.get(qIn) ?? ctx.ranks.get(q.value);
    const rank = ctx.ranks.get(s) ?? ctx.ranks.get(p) ?? (rq !== undefined && rk !== undefined && rq >= 2 && rk >= 2 ? Math.max(rq, rk) : undefined);
    if (axis !== -1 && (rank === undefined || axis !== rank - 1)) return undefined;
    if (!Number.isFinite(scale) || scale === 0) return undefined;
    if (new Set(group).size !== group.length) return undefined;
    replacement.push({
      name: `${sm.name}::Attention`, opType: 'FusedAttention', domain: INTERNAL_DOMAIN,
      inputs: mask ? [q.value, k, v, mask] : [q.value, k, v], outputs: [pv.outputs[0]!],
      attributes: attrs({ scale: { kind: 'float', value: scale }, transposed_k: { kind: 'int', value: transposedK } }),
    });
    return { kind: 'attention', nodes: group, last: pv, replacement };
  }

  for (const node of nodes) {
    if (taken.has(node) || !isDefault(node)) continue;
    let match: Match | undefined;
    if (node.opType === 'ReduceMean') match = await matchLayerNorm(node);
    else if (node.opType === 'Erf') match = await matchGelu(node);
    else if (node.opType === 'Softmax') match = await matchAttention(node);
    if (!match || match.nodes.some((n) => taken.has(n))) continue;
    for (const n of match.nodes) taken.add(n);
    replaced.set(match.last, match.replacement);
    counts[match.kind]++;
  }
  if (!replaced.size) return { nodes, counts };
  const out: OnnxNode[] = [];
  for (const node of nodes) {
    const r = replaced.get(node);
    if (r) out.push(...r);
    else if (!taken.has(node)) out.push(node);
  }
  return { nodes: out, counts };
}
