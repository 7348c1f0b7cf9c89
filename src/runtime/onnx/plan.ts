// Load-time planning of an ONNX graph: resolve every op (unsupported ones fail the load), order
// the nodes, fold constant subgraphs and static Shape chains, drop no-ops and dead nodes, and work
// out where each intermediate tensor is last used so execution frees it right after.
import * as tf from '@tensorflow/tfjs-core';
import type { OnnxGraph, OnnxModel, OnnxNode } from './model.js';
import { lookupOp } from './ops/index.js';
import type { OpContext, OpDef } from './ops/types.js';
import { Attributes } from './ops/types.js';
import { constToTensor } from './ops/shape.js';
import { planLayout } from './layout.js';
import { fusePatterns } from './fuse.js';
import { INTERNAL_DOMAIN } from './ops/nhwc.js';
import { InferenceServerError, internal, invalidArg, unsupported } from '../errors.js';

/** A subgraph run: If picks one branch, Loop runs its body until M or cond stops it. */
type Control = { kind: 'If'; then: OnnxPlan; else: OnnxPlan } | { kind: 'Loop'; body: OnnxPlan };

interface Step {
  node: OnnxNode;
  def: OpDef;
  attr: Attributes;
  hostInputs: readonly number[];
  /** Values to dispose once this step has run (their last use, or produced and never read). */
  release: string[];
  /** Outer-scope values the node's subgraphs read: extra inputs for ordering and lifetimes. */
  captures: string[];
  control?: Control;
}

export interface PlanStats {
  nodes: number;
  steps: number;
  folded: number;
  removed: number;
  /** If/Loop subgraphs planned (recursively). */
  subgraphs: number;
  /** NCHW↔NHWC transposes the layout pass left in the plan (each runs once per inference). */
  layoutTransposes: number;
  /** Conv/MatMul/Gemm nodes that absorbed a bias and/or an activation. */
  fused: number;
  /** Decomposed transformer patterns rewritten into one fused op (the three counts below together; subgraphs included). */
  fusedPatterns: number;
  /** ReduceMean/Sub/Pow/…/Div [Mul Add] chains run as one layer normalization. */
  fusedLayerNorm: number;
  /** 0.5·x·(1 + erf(x/√2)) chains run as one GELU. */
  fusedGelu: number;
  /** MatMul → scale → [mask Add] → Softmax → MatMul chains run as one attention. */
  fusedAttention: number;
}

/** Ops whose result depends on more than their inputs' values, so never evaluated at load. */
const NEVER_FOLD = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** Ops the plan runs itself, because they execute subgraphs. */
const CONTROL_OPS = new Set(['If', 'Loop']);
/** Host copies are kept for constants up to this many elements (shape-like values). */
const HOST_COPY_LIMIT = 1 << 16;
/** Stands in for If/Loop in a Step: the plan runs them itself (see runStep). */
const CONTROL_DEF: OpDef = { run: () => { throw internal('control-flow ops run in the plan'); }, noFold: true };

function resolveHostInputs(def: OpDef, node: OnnxNode, opset: number): readonly number[] {
  const h = def.hostInputs;
  return typeof h === 'function' ? h({ opset, node }) : h ?? [];
}

const subgraphsOf = (node: OnnxNode): OnnxGraph[] =>
  [...node.attributes.values()].flatMap((a) => (a.kind === 'graph' ? [a.value] : []));

const captureCache = new WeakMap<OnnxNode, string[]>();

/** Names a node's subgraphs read from enclosing scopes (ONNX subgraphs see every outer value). */
function capturesOf(node: OnnxNode): string[] {
  let c = captureCache.get(node);
  if (!c) {
    const free = new Set<string>();
    for (const g of subgraphsOf(node)) {
      const defined = new Set([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
      for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
      for (const n of g.nodes) for (const i of [...n.inputs, ...capturesOf(n)]) if (i && !defined.has(i)) free.add(i);
    }
    c = [...free];
    captureCache.set(node, c);
  }
  return c;
}

/** Everything a node reads: its inputs, then what its subgraphs capture. */
const readsOf = (node: OnnxNode): string[] => [...node.inputs, ...capturesOf(node)];

/** Kahn's algorithm, keeping the file order among ready nodes. */
function topoSort(graph: OnnxGraph, available: Set<string>): OnnxNode[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const indegree = graph.nodes.map(() => 0);
  const consumers = graph.nodes.map((): number[] => []);
  graph.nodes.forEach((n, i) => {
    for (const input of new Set(readsOf(n))) {
      if (!input || available.has(input)) continue;
      const p = producer.get(input);
      if (p === undefined) throw invalidArg(`ONNX node '${n.name}' (${n.opType}) reads '${input}', which no node, input or initializer provides`);
      indegree[i]!++;
      consumers[p]!.push(i);
    }
  });
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  const order: OnnxNode[] = [];
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(graph.nodes[i]!);
    for (const c of consumers[i]!) if (--indegree[c]! === 0) ready.push(c);
  }
  if (order.length !== graph.nodes.length) throw invalidArg('ONNX graph has a cycle');
  return order;
}

/** Reads a scalar condition or count on the host. */
async function scalarOf(t: tf.Tensor): Promise<number> {
  return Number((await t.data())[0] ?? 0);
}

export class OnnxPlan {
  private constructor(
    readonly inputNames: string[],
    readonly outputNames: string[],
    private readonly opset: number,
    private readonly steps: Step[],
    private readonly constants: Map<string, tf.Tensor>,
    private readonly constHost: Map<string, ArrayLike<number>>,
    /** Graph inputs never read by any step: disposed right away. */
    private readonly unusedInputs: string[],
    /** Names read from enclosing graphs (subgraphs only): never owned, never released here. */
    private readonly outer: ReadonlySet<string>,
    readonly stats: PlanStats,
  ) {}

  static async build(model: OnnxModel): Promise<OnnxPlan> {
    return OnnxPlan.buildGraph(model.graph, model.opset, new Set());
  }

  private static async buildGraph(graph: OnnxGraph, opset: number, outer: ReadonlySet<string>): Promise<OnnxPlan> {
    for (const node of graph.nodes) {
      if (node.domain === INTERNAL_DOMAIN || (!CONTROL_OPS.has(node.opType) && !lookupOp(node.domain, node.opType))) {
        const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
        throw unsupported(`unsupported ONNX operator '${op}' (node '${node.name}')`);
      }
    }
    const inputNames = graph.inputs.map((v) => v.name);
    const outputNames = graph.outputs.map((v) => v.name);
    const available = new Set([...inputNames, ...graph.initializers.keys(), ...outer]);
    const ordered = topoSort(graph, available);

    const constants = new Map<string, tf.Tensor>();
    const stats: PlanStats = {
      nodes: graph.nodes.length, steps: 0, folded: 0, removed: 0, subgraphs: 0, layoutTransposes: 0, fused: 0,
      fusedPatterns: 0, fusedLayerNorm: 0, fusedGelu: 0, fusedAttention: 0,
    };
    const plan = new OnnxPlan(inputNames, outputNames, opset, [], constants, new Map(), [], outer, stats);
    try {
      for (const [name, c] of graph.initializers) constants.set(name, constToTensor(c));
      await plan.fold(ordered, graph);
    } catch (e) {
      plan.dispose();
      throw e;
    }
    return plan;
  }

  /** Folds, removes no-ops and dead nodes, fuses transformer patterns, rewrites layouts, then computes last uses. */
  private async fold(ordered: OnnxNode[], graph: OnnxGraph): Promise<void> {
    const staticShapes = new Map<string, number[]>();
    for (const v of [...graph.inputs, ...graph.valueInfo.values()]) {
      if (v.dims && v.dims.every((d): d is number => typeof d === 'number' && d >= 0)) staticShapes.set(v.name, v.dims);
    }
    const outputs = new Set(this.outputNames);
    // Values subgraphs read by name: they keep their names and their NCHW layout.
    const captured = new Set(ordered.flatMap(capturesOf));
    const alias = new Map<string, string>();
    const resolve = (n: string) => alias.get(n) ?? n;
    let kept: OnnxNode[] = [];
    for (const original of ordered) {
      const node = { ...original, inputs: original.inputs.map((n) => (n ? resolve(n) : n)) };
      const control = CONTROL_OPS.has(node.opType);
      const def = control ? undefined : lookupOp(node.domain, node.opType)!;
      const present = node.inputs.filter((n) => n);
      const exposed = (o: string) => outputs.has(o) || captured.has(o);
      // No-ops: their output is another name for their input (unless the graph exposes it).
      if ((node.opType === 'Identity' || (node.opType === 'Dropout' && !node.outputs[1])) && !exposed(node.outputs[0]!)) {
        alias.set(node.outputs[0]!, node.inputs[0]!);
        this.stats.removed++;
        continue;
      }
      if (node.opType === 'Shape' && staticShapes.has(node.inputs[0]!) && !outputs.has(node.outputs[0]!)) {
        const dims = staticShapes.get(node.inputs[0]!)!;
        const start = new Attributes(node).int('start', 0);
        const end = new Attributes(node).int('end', dims.length);
        this.constants.set(node.outputs[0]!, tf.tensor1d(dims.slice(start, end), 'int32'));
        this.stats.folded++;
        continue;
      }
      const foldable = def && !def.noFold && !NEVER_FOLD.has(node.opType) && present.every((n) => this.constants.has(n))
        && !node.outputs.some((o) => outputs.has(o));
      if (foldable) {
        const step = this.makeStep(node, def);
        await this.runStep(step, (n) => this.constants.get(n), (n, t) => this.constants.set(n, t));
        this.stats.folded++;
        continue;
      }
      kept.push(node);
    }
    const ranks = new Map<string, number>();
    for (const v of [...graph.inputs, ...graph.valueInfo.values()]) if (v.dims) ranks.set(v.name, v.dims.length);
    // Decomposed LayerNorm / GELU / attention → one fused op each (intermediates nobody else reads).
    const fusion = await fusePatterns(kept, { constants: this.constants, exposed: new Set([...outputs, ...captured]), ranks, opset: this.opset });
    kept = fusion.nodes;
    this.stats.fusedLayerNorm = fusion.counts.layerNorm;
    this.stats.fusedGelu = fusion.counts.gelu;
    this.stats.fusedAttention = fusion.counts.attention;
    this.stats.fusedPatterns = fusion.counts.layerNorm + fusion.counts.gelu + fusion.counts.attention;
    if (!this.outer.size) {
      const layout = await planLayout(kept, { constants: this.constants, outputs, pinned: captured, ranks, opset: this.opset });
      kept = layout.nodes;
      this.stats.layoutTransposes = layout.transposes;
      this.stats.fused = layout.fused;
    }
    // Dead-node elimination: keep nodes that some graph output depends on.
    const needed = new Set(this.outputNames);
    const live: OnnxNode[] = [];
    for (let i = kept.length - 1; i >= 0; i--) {
      const node = kept[i]!;
      if (!node.outputs.some((o) => o && needed.has(o))) { this.stats.removed++; continue; }
      live.push(node);
      for (const n of readsOf(node)) if (n) needed.add(n);
    }
    kept = live.reverse();
    for (const [name, t] of this.constants) {
      if (!needed.has(name)) { t.dispose(); this.constants.delete(name); }
    }
    // Last use: walk backwards; the first time a value this graph owns is seen is its last read.
    const seen = new Set<string>(this.outputNames);
    const steps = kept.map((node) => this.makeStep(node, CONTROL_OPS.has(node.opType) ? CONTROL_DEF : lookupOp(node.domain, node.opType)!));
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i]!;
      for (const o of step.node.outputs) if (o && !seen.has(o)) { step.release.push(o); seen.add(o); }
      for (const n of [...step.node.inputs, ...step.captures]) {
        if (n && !seen.has(n) && !this.constants.has(n) && !this.outer.has(n)) { step.release.push(n); seen.add(n); }
      }
    }
    this.unusedInputs.push(...this.inputNames.filter((n) => !seen.has(n)));
    this.steps.push(...steps);
    this.stats.steps = steps.length;
    // Subgraphs see this graph's values and everything this graph sees.
    const visible = new Set([...this.outer, ...this.inputNames, ...this.constants.keys(), ...kept.flatMap((n) => n.outputs)]);
    for (const step of steps) {
      if (!CONTROL_OPS.has(step.node.opType)) continue;
      const sub = (name: string) => {
        const g = step.attr.graph(name);
        if (!g) throw invalidArg(`ONNX node '${step.node.name}' (${step.node.opType}): attribute '${name}' is required`);
        return OnnxPlan.buildGraph(g, this.opset, visible);
      };
      step.control = step.node.opType === 'If'
        ? { kind: 'If', then: await sub('then_branch'), else: await sub('else_branch') }
        : { kind: 'Loop', body: await sub('body') };
      for (const p of this.subplans(step)) {
        this.stats.subgraphs += 1 + p.stats.subgraphs;
        this.stats.fusedLayerNorm += p.stats.fusedLayerNorm;
        this.stats.fusedGelu += p.stats.fusedGelu;
        this.stats.fusedAttention += p.stats.fusedAttention;
        this.stats.fusedPatterns += p.stats.fusedPatterns;
      }
    }
    // Host copies of constants that ops read as shapes/axes/pads, so execution never waits on them.
    for (const step of steps) {
      for (const i of step.hostInputs) {
        const n = step.node.inputs[i];
        const t = n ? this.constants.get(n) : undefined;
        if (t && t.size <= HOST_COPY_LIMIT && !this.constHost.has(n!)) this.constHost.set(n!, await t.data() as ArrayLike<number>);
      }
    }
  }

  private subplans(step: Step): OnnxPlan[] {
    const c = step.control;
    return !c ? [] : c.kind === 'If' ? [c.then, c.else] : [c.body];
  }

  private makeStep(node: OnnxNode, def: OpDef): Step {
    return {
      node, def, attr: new Attributes(node), hostInputs: resolveHostInputs(def, node, this.opset), release: [],
      captures: capturesOf(node),
    };
  }

  /** Executes one node: host inputs are read first, then the op runs inside tf.tidy. */
  private async runStep(step: Step, get: (n: string) => tf.Tensor | undefined, set: (n: string, t: tf.Tensor) => void): Promise<void> {
    const { node } = step;
    const inputs = node.inputs.map((n) => {
      if (!n) return undefined;
      const t = get(n);
      if (!t) throw internal(`ONNX value '${n}' is not available for node '${node.name}'`);
      return t;
    });
    if (step.control) {
      const results = step.control.kind === 'If'
        ? await this.runIf(step.control, inputs, get)
        : await this.runLoop(step.control.body, node, inputs, get);
      node.outputs.forEach((o, i) => {
        const t = results[i];
        if (o && t) set(o, t);
        else t?.dispose();
      });
      for (let i = node.outputs.length; i < results.length; i++) results[i]!.dispose();
      return;
    }
    const host = new Map<number, ArrayLike<number>>();
    for (const i of step.hostInputs) {
      const n = node.inputs[i];
      if (n) host.set(i, this.constHost.get(n) ?? ((await inputs[i]!.data()) as ArrayLike<number>));
    }
    const ctx: OpContext = {
      node, opset: this.opset, inputs: inputs as tf.Tensor[], attr: step.attr,
      has: (i) => inputs[i] !== undefined,
      host: (i) => {
        const v = host.get(i);
        if (!v) throw invalidArg(`ONNX node '${node.name}' (${node.opType}): input ${i} is required`);
        return v;
      },
    };
    let results: tf.Tensor[];
    try {
      results = tf.tidy(() => {
        const r = step.def.run(ctx);
        // An op may hand back one of its inputs; a clone keeps ownership (and disposal) separate.
        return (Array.isArray(r) ? r : [r]).map((t) => (inputs.includes(t) ? tf.clone(t) : t));
      });
    } catch (e) {
      if (e instanceof InferenceServerError) throw e;
      throw invalidArg(`ONNX node '${node.name}' (${node.opType}) failed: ${(e as Error).message}`);
    }
    node.outputs.forEach((o, i) => {
      const t = results[i];
      if (o && t) set(o, t);
      else t?.dispose();
    });
    for (let i = node.outputs.length; i < results.length; i++) results[i]!.dispose();
  }

  private async runIf(c: Extract<Control, { kind: 'If' }>, inputs: (tf.Tensor | undefined)[], get: (n: string) => tf.Tensor | undefined): Promise<tf.Tensor[]> {
    const branch = (await scalarOf(inputs[0]!)) ? c.then : c.else;
    return branch.runOrdered(new Map(), get);
  }

  /**
   * ONNX Loop: inputs (M, cond, v_initial…), body (iter, cond_in, v…) → (cond_out, v…, scan…);
   * outputs are the final loop-carried values, then every scan output stacked on a new axis 0.
   */
  private async runLoop(body: OnnxPlan, node: OnnxNode, inputs: (tf.Tensor | undefined)[], get: (n: string) => tf.Tensor | undefined): Promise<tf.Tensor[]> {
    const [m, condIn, ...initial] = inputs;
    const max = m ? await scalarOf(m) : Infinity;
    let cond = condIn ? (await scalarOf(condIn)) !== 0 : true;
    const nCarried = initial.length;
    const nScan = body.outputNames.length - 1 - nCarried;
    if (body.inputNames.length !== 2 + nCarried || nScan < 0) {
      throw invalidArg(`ONNX node '${node.name}' (Loop): body takes ${body.inputNames.length} inputs and gives ${body.outputNames.length} outputs for ${nCarried} loop-carried values`);
    }
    // Loop-carried values are owned by the loop (a clone of the initial values, then each body's outputs).
    let carried = initial.map((t) => tf.clone(t!));
    const scans: tf.Tensor[][] = Array.from({ length: nScan }, () => []);
    try {
      for (let i = 0; i < max && cond; i++) {
        const feeds = new Map<string, tf.Tensor>([
          [body.inputNames[0]!, tf.scalar(i, 'int32')],
          [body.inputNames[1]!, tf.scalar(cond, 'bool')],
        ]);
        carried.forEach((t, k) => feeds.set(body.inputNames[2 + k]!, t));
        carried = [];
        const outs = await body.runOrdered(feeds, get);
        const c = outs[0]!;
        cond = (await scalarOf(c)) !== 0;
        c.dispose();
        carried = outs.slice(1, 1 + nCarried);
        outs.slice(1 + nCarried).forEach((t, k) => scans[k]!.push(t));
      }
      const stacked = scans.map((parts) => (parts.length ? tf.stack(parts, 0) : tf.zeros([0])));
      return [...carried, ...stacked];
    } catch (e) {
      tf.dispose(carried);
      throw e;
    } finally {
      for (const parts of scans) tf.dispose(parts);
    }
  }

  /**
   * Runs the graph. Takes ownership of `feeds` (disposed as soon as they are no longer needed);
   * returns every graph output, which the caller disposes.
   */
  async run(feeds: Map<string, tf.Tensor>): Promise<Map<string, tf.Tensor>> {
    const values = await this.runOrdered(feeds, () => undefined);
    return new Map(this.outputNames.map((n, i) => [n, values[i]!]));
  }

  /** Runs the graph, reading enclosing scopes through `outer`; outputs in graph order, owned by the caller. */
  private async runOrdered(feeds: Map<string, tf.Tensor>, outer: (n: string) => tf.Tensor | undefined): Promise<tf.Tensor[]> {
    const live = new Map(feeds);
    for (const n of this.unusedInputs) { live.get(n)?.dispose(); live.delete(n); }
    const get = (n: string) => live.get(n) ?? this.constants.get(n) ?? outer(n);
    const out: tf.Tensor[] = [];
    try {
      for (const step of this.steps) {
        await this.runStep(step, get, (n, t) => live.set(n, t));
        for (const n of step.release) { live.get(n)?.dispose(); live.delete(n); }
      }
      for (const name of this.outputNames) {
        const t = live.get(name);
        if (t) { out.push(t); live.delete(name); continue; }
        // A constant, an outer value, or an output listed twice: the caller gets its own copy.
        const c = this.constants.get(name) ?? outer(name) ?? out[this.outputNames.indexOf(name)];
        if (!c) throw internal(`ONNX output '${name}' was not produced`);
        out.push(tf.clone(c));
      }
      return out;
    } catch (e) {
      tf.dispose(out);
      throw e;
    } finally {
      for (const t of live.values()) t.dispose();
    }
  }

  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
    for (const step of this.steps) for (const p of this.subplans(step)) p.dispose();
  }
}
