// Load-time planning of an ONNX graph: resolve every op (unsupported ones fail the load), order
// the nodes, fold constant subgraphs and static Shape chains, drop no-ops and dead nodes, and work
// out where each intermediate tensor is last used so execution frees it right after.
import * as tf from '@tensorflow/tfjs-core';
import type { OnnxGraph, OnnxModel, OnnxNode } from './model.js';
import { lookupOp } from './ops/index.js';
import type { OpContext, OpDef } from './ops/types.js';
import { Attributes } from './ops/types.js';
import { constToTensor } from './ops/shape.js';
import { InferenceServerError, internal, invalidArg, unsupported } from '../errors.js';

interface Step {
  node: OnnxNode;
  def: OpDef;
  attr: Attributes;
  hostInputs: readonly number[];
  /** Values to dispose once this step has run (their last use, or produced and never read). */
  release: string[];
}

export interface PlanStats {
  nodes: number;
  steps: number;
  folded: number;
  removed: number;
}

/** Ops whose result depends on more than their inputs' values, so never evaluated at load. */
const NEVER_FOLD = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** Host copies are kept for constants up to this many elements (shape-like values). */
const HOST_COPY_LIMIT = 1 << 16;

function resolveHostInputs(def: OpDef, node: OnnxNode, opset: number): readonly number[] {
  const h = def.hostInputs;
  return typeof h === 'function' ? h({ opset, node }) : h ?? [];
}

/** Kahn's algorithm, keeping the file order among ready nodes. */
function topoSort(graph: OnnxGraph, available: Set<string>): OnnxNode[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const indegree = graph.nodes.map(() => 0);
  const consumers = graph.nodes.map((): number[] => []);
  graph.nodes.forEach((n, i) => {
    for (const input of new Set(n.inputs)) {
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
    readonly stats: PlanStats,
  ) {}

  static async build(model: OnnxModel): Promise<OnnxPlan> {
    const { graph, opset } = model;
    for (const node of graph.nodes) {
      if (!lookupOp(node.domain, node.opType)) {
        const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
        throw unsupported(`unsupported ONNX operator '${op}' (node '${node.name}')`);
      }
    }
    const inputNames = graph.inputs.map((v) => v.name);
    const outputNames = graph.outputs.map((v) => v.name);
    const available = new Set([...inputNames, ...graph.initializers.keys()]);
    const ordered = topoSort(graph, available);

    const constants = new Map<string, tf.Tensor>();
    const plan = new OnnxPlan(inputNames, outputNames, opset, [], constants, new Map(), [], { nodes: graph.nodes.length, steps: 0, folded: 0, removed: 0 });
    try {
      for (const [name, c] of graph.initializers) constants.set(name, constToTensor(c));
      await plan.fold(ordered, graph);
    } catch (e) {
      plan.dispose();
      throw e;
    }
    return plan;
  }

  /** Folds, removes no-ops and dead nodes, then computes last uses. */
  private async fold(ordered: OnnxNode[], graph: OnnxGraph): Promise<void> {
    const staticShapes = new Map<string, number[]>();
    for (const v of [...graph.inputs, ...graph.valueInfo.values()]) {
      if (v.dims && v.dims.every((d): d is number => typeof d === 'number' && d >= 0)) staticShapes.set(v.name, v.dims);
    }
    const outputs = new Set(this.outputNames);
    const alias = new Map<string, string>();
    const resolve = (n: string) => alias.get(n) ?? n;
    let kept: OnnxNode[] = [];
    for (const original of ordered) {
      const node = { ...original, inputs: original.inputs.map((n) => (n ? resolve(n) : n)) };
      const def = lookupOp(node.domain, node.opType)!;
      const present = node.inputs.filter((n) => n);
      // No-ops: their output is another name for their input (unless the graph exposes it).
      if ((node.opType === 'Identity' || (node.opType === 'Dropout' && !node.outputs[1])) && !outputs.has(node.outputs[0]!)) {
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
      const foldable = !def.noFold && !NEVER_FOLD.has(node.opType) && present.every((n) => this.constants.has(n))
        && !node.outputs.some((o) => outputs.has(o));
      if (foldable) {
        const step = this.makeStep(node, def);
        await this.runStep(step, (n) => this.constants.get(n), (n, t) => this.constants.set(n, t));
        this.stats.folded++;
        continue;
      }
      kept.push(node);
    }
    // Dead-node elimination: keep nodes that some graph output depends on.
    const needed = new Set(this.outputNames);
    const live: OnnxNode[] = [];
    for (let i = kept.length - 1; i >= 0; i--) {
      const node = kept[i]!;
      if (!node.outputs.some((o) => o && needed.has(o))) { this.stats.removed++; continue; }
      live.push(node);
      for (const n of node.inputs) if (n) needed.add(n);
    }
    kept = live.reverse();
    for (const [name, t] of this.constants) {
      if (!needed.has(name)) { t.dispose(); this.constants.delete(name); }
    }
    // Last use: walk backwards; the first time a non-constant value is seen is its last read.
    const seen = new Set<string>(this.outputNames);
    const steps = kept.map((node) => this.makeStep(node, lookupOp(node.domain, node.opType)!));
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i]!;
      for (const o of step.node.outputs) if (o && !seen.has(o)) { step.release.push(o); seen.add(o); }
      for (const n of step.node.inputs) {
        if (n && !seen.has(n) && !this.constants.has(n)) { step.release.push(n); seen.add(n); }
      }
    }
    this.unusedInputs.push(...this.inputNames.filter((n) => !seen.has(n)));
    this.steps.push(...steps);
    this.stats.steps = steps.length;
    // Host copies of constants that ops read as shapes/axes/pads, so execution never waits on them.
    for (const step of steps) {
      for (const i of step.hostInputs) {
        const n = step.node.inputs[i];
        const t = n ? this.constants.get(n) : undefined;
        if (t && t.size <= HOST_COPY_LIMIT && !this.constHost.has(n!)) this.constHost.set(n!, await t.data() as ArrayLike<number>);
      }
    }
  }

  private makeStep(node: OnnxNode, def: OpDef): Step {
    return { node, def, attr: new Attributes(node), hostInputs: resolveHostInputs(def, node, this.opset), release: [] };
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

  /**
   * Runs the graph. Takes ownership of `feeds` (disposed as soon as they are no longer needed);
   * returns every graph output, which the caller disposes.
   */
  async run(feeds: Map<string, tf.Tensor>): Promise<Map<string, tf.Tensor>> {
    const live = new Map(feeds);
    for (const n of this.unusedInputs) { live.get(n)?.dispose(); live.delete(n); }
    const get = (n: string) => live.get(n) ?? this.constants.get(n);
    try {
      for (const step of this.steps) {
        await this.runStep(step, get, (n, t) => live.set(n, t));
        for (const n of step.release) { live.get(n)?.dispose(); live.delete(n); }
      }
      const out = new Map<string, tf.Tensor>();
      for (const name of this.outputNames) {
        const t = live.get(name);
        if (t) { out.set(name, t); live.delete(name); continue; }
        const c = this.constants.get(name);
        if (!c) throw internal(`ONNX output '${name}' was not produced`);
        out.set(name, tf.clone(c));
      }
      return out;
    } finally {
      for (const t of live.values()) t.dispose();
    }
  }

  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }
}
