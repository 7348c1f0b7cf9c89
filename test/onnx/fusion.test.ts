// The fusion pass (src/runtime/onnx/fuse.ts): decomposed LayerNorm, erf GELU and attention, as
// PyTorch's older exports emit them, run as one fused op each — in the opset-13 transformer fixture
// and in small hand-built graphs checked against onnxruntime — and are left alone when an
// intermediate value is seen outside the pattern.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../../src/runtime/backends.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { loadOnnxModel, OnnxType } from '../../src/runtime/onnx/model.js';
import type { PlanStats } from '../../src/runtime/onnx/plan.js';
import { OnnxPlan } from '../../src/runtime/onnx/plan.js';
import { hostToTensor } from '../../src/runtime/tensor-convert.js';
import type { IoSpec, NodeSpec, TensorSpec } from './build.js';
import { buildModel, floats, ints, randomFloats, writeModel } from './build.js';
import { assertClose, compareWithOrt, execute, loadExecutor, loadFixture, numbers, useBackend } from './helpers.js';

const requireWebGpu = process.env.DAWNSERVE_REQUIRE_WEBGPU === '1';
const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const rand = (name: string, dims: number[], seed: number) => floats(name, dims, Array.from(randomFloats(size(dims), seed)));
const feed = (name: string, dims: number[], seed: number): HostTensor => ({ name, datatype: 'FP32', shape: dims, data: randomFloats(size(dims), seed) });

async function planOf(path: string): Promise<OnnxPlan> {
  return OnnxPlan.build(await loadOnnxModel(path));
}

type Counts = Pick<PlanStats, 'fusedLayerNorm' | 'fusedGelu' | 'fusedAttention' | 'fusedPatterns'>;
const counts = (s: PlanStats): Counts =>
  ({ fusedLayerNorm: s.fusedLayerNorm, fusedGelu: s.fusedGelu, fusedAttention: s.fusedAttention, fusedPatterns: s.fusedPatterns });
const expect = (layerNorm: number, gelu: number, attention: number): Counts =>
  ({ fusedLayerNorm: layerNorm, fusedGelu: gelu, fusedAttention: attention, fusedPatterns: layerNorm + gelu + attention });

/** Names of the kernels one plan run executes (tf.profile), with how often each ran. */
async function kernelsRun(path: string, inputs: HostTensor[]): Promise<Map<string, number>> {
  const plan = await planOf(path);
  try {
    const feeds = new Map(inputs.map((t) => [t.name, hostToTensor(tf, t)]));
    const info = await tf.profile(async () => tf.dispose([...(await plan.run(feeds)).values()]));
    const ran = new Map<string, number>();
    for (const k of info.kernels) ran.set(k.name, (ran.get(k.name) ?? 0) + 1);
    return ran;
  } finally {
    plan.dispose();
  }
}

// ---- Hand-built graphs ----

interface Graph { model: Uint8Array; feeds: HostTensor[] }

interface LayerNormOpts {
  opset?: number;
  affine?: 'both' | 'gamma' | 'none';
  /** The reduced axis as written in the model (default -1). */
  axis?: number;
  /** Declare x's dims (so its rank is known)? Default true. */
  knownRank?: boolean;
  /** Intermediates also listed as graph outputs. */
  expose?: string[];
}

/** y = (x − mean) / sqrt(var + ε) · γ + β over the last axis, as torch exports nn.LayerNorm at opset ≤ 16. */
function layerNormGraph(o: LayerNormOpts = {}): Graph {
  const opset = o.opset ?? 13;
  const dims = [2, 5, 8];
  const axes = [o.axis ?? -1];
  const mean = (input: string, output: string): NodeSpec => (opset >= 18
    ? { op: 'ReduceMean', inputs: [input, 'axes'], outputs: [output] }
    : { op: 'ReduceMean', inputs: [input], outputs: [output], attrs: { axes: { ints: axes } } });
  const affine = o.affine ?? 'both';
  const nodes: NodeSpec[] = [
    mean('x', 'm'),
    { op: 'Sub', inputs: ['x', 'm'], outputs: ['d'] },
    { op: 'Pow', inputs: ['d', 'two'], outputs: ['p'] },
    mean('p', 'v'),
    { op: 'Add', inputs: ['v', 'eps'], outputs: ['ve'] },
    { op: 'Sqrt', inputs: ['ve'], outputs: ['sd'] },
    { op: 'Div', inputs: ['d', 'sd'], outputs: [affine === 'none' ? 'y' : 'n'] },
  ];
  if (affine !== 'none') nodes.push({ op: 'Mul', inputs: ['gamma', 'n'], outputs: [affine === 'both' ? 'g' : 'y'] });
  if (affine === 'both') nodes.push({ op: 'Add', inputs: ['g', 'beta'], outputs: ['y'] });
  const initializers: TensorSpec[] = [floats('two', [], [2]), floats('eps', [], [1e-5])];
  if (affine !== 'none') initializers.push(rand('gamma', [8], 2));
  if (affine === 'both') initializers.push(rand('beta', [8], 3));
  if (opset >= 18) initializers.push(ints('axes', axes));
  const outputs: IoSpec[] = [{ name: 'y', dims }, ...(o.expose ?? []).map((name) => ({ name }))];
  const x: IoSpec = o.knownRank === false ? { name: 'x' } : { name: 'x', dims };
  return { model: buildModel({ opset, nodes, inputs: [x], outputs, initializers }), feeds: [feed('x', dims, 1)] };
}

interface GeluOpts {
  /** Where the ½ goes: torch's (x·(1+erf))·½, (x·½)·(1+erf), or x·((1+erf)·½) with the operands swapped. */
  form?: 'torch' | 'half-first' | 'half-on-sum';
  /** x/√2 as Div by √2 (default) or Mul by 1/√2. */
  divide?: boolean;
  half?: number;
  expose?: string[];
}

function geluGraph(o: GeluOpts = {}): Graph {
  const dims = [3, 10];
  const scale: NodeSpec = o.divide === false
    ? { op: 'Mul', inputs: ['x', 'inv_sqrt2'], outputs: ['e'] }
    : { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['e'] };
  const nodes: NodeSpec[] = [
    // A producer in front, so x is itself an intermediate of the graph.
    { op: 'Add', inputs: ['x0', 'shift'], outputs: ['x'] },
    scale,
    { op: 'Erf', inputs: ['e'], outputs: ['r'] },
    { op: 'Add', inputs: o.form === 'half-first' ? ['one', 'r'] : ['r', 'one'], outputs: ['a'] },
  ];
  switch (o.form ?? 'torch') {
    case 'torch':
      nodes.push({ op: 'Mul', inputs: ['x', 'a'], outputs: ['xa'] }, { op: 'Mul', inputs: ['xa', 'half'], outputs: ['y'] });
      break;
    case 'half-first':
      nodes.push({ op: 'Mul', inputs: ['x', 'half'], outputs: ['h'] }, { op: 'Mul', inputs: ['h', 'a'], outputs: ['y'] });
      break;
    case 'half-on-sum':
      nodes.push({ op: 'Mul', inputs: ['half', 'a'], outputs: ['ah'] }, { op: 'Mul', inputs: ['ah', 'x'], outputs: ['y'] });
      break;
  }
  const initializers = [
    floats('shift', [], [0.25]), o.divide === false ? floats('inv_sqrt2', [1], [Math.SQRT1_2]) : floats('sqrt2', [], [Math.SQRT2]),
    floats('one', [], [1]), floats('half', [], [o.half ?? 0.5]),
  ];
  const outputs: IoSpec[] = [{ name: 'y', dims }, ...(o.expose ?? []).map((name) => ({ name }))];
  return { model: buildModel({ opset: 13, nodes, inputs: [{ name: 'x0', dims }], outputs, initializers }), feeds: [feed('x0', dims, 4)] };
}

interface AttentionOpts {
  /**
   * mha: Div(q, √d) · Transpose(k, swap last two) + mask (torch's nn.MultiheadAttention);
   * sdpa: Mul(q, √s) · Mul(Transpose(k), √s), no mask (torch's scaled_dot_product_attention);
   * pretransposed: kᵀ fed as is, Mul(scores, s), Add(mask, scores) operands swapped;
   * heads-first: k [S, B·H, D] with Transpose perm [1, 2, 0], as the fixtures' exports have it.
   */
  form?: 'mha' | 'sdpa' | 'pretransposed' | 'heads-first';
  expose?: string[];
  /** Also read the probabilities with another node (its result a graph output). */
  reuseProbs?: boolean;
  opset?: number;
  /** Softmax's axis attribute (default -1). */
  axis?: number;
}

function attentionGraph(o: AttentionOpts = {}): Graph {
  const form = o.form ?? 'mha';
  const [b, h, sq, sk, d, dv] = [2, 2, 5, 6, 4, 3];
  let nodes: NodeSpec[];
  let inputs: IoSpec[];
  const initializers: TensorSpec[] = [];
  let out = [b, h, sq, dv];
  const probs: NodeSpec[] = [
    { op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: { i: o.axis ?? -1 } } },
    { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'] },
  ];
  switch (form) {
    case 'mha':
      nodes = [
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: { ints: [0, 1, 3, 2] } } },
        { op: 'Div', inputs: ['q', 'c'], outputs: ['qs'] },
        { op: 'MatMul', inputs: ['qs', 'kt'], outputs: ['s0'] },
        { op: 'Add', inputs: ['s0', 'mask'], outputs: ['s'] },
      ];
      inputs = [{ name: 'q', dims: [b, h, sq, d] }, { name: 'k', dims: [b, h, sk, d] }, { name: 'v', dims: [b, h, sk, dv] }, { name: 'mask', dims: [1, 1, sq, sk] }];
      initializers.push(floats('c', [], [Math.sqrt(d)]));
      break;
    case 'sdpa':
      nodes = [
        { op: 'Mul', inputs: ['q', 'c'], outputs: ['qs'] },
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: { ints: [0, 1, 3, 2] } } },
        { op: 'Mul', inputs: ['kt', 'c'], outputs: ['ks'] },
        { op: 'MatMul', inputs: ['qs', 'ks'], outputs: ['s'] },
      ];
      inputs = [{ name: 'q', dims: [b, h, sq, d] }, { name: 'k', dims: [b, h, sk, d] }, { name: 'v', dims: [b, h, sk, dv] }];
      initializers.push(floats('c', [1], [Math.sqrt(1 / Math.sqrt(d))]));
      break;
    case 'pretransposed':
      nodes = [
        { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s0'] },
        { op: 'Mul', inputs: ['c', 's0'], outputs: ['s1'] },
        { op: 'Add', inputs: ['mask', 's1'], outputs: ['s'] },
      ];
      inputs = [{ name: 'q', dims: [b, h, sq, d] }, { name: 'kt', dims: [b, h, d, sk] }, { name: 'v', dims: [b, h, sk, dv] }, { name: 'mask', dims: [sq, sk] }];
      initializers.push(floats('c', [], [0.3]));
      break;
    case 'heads-first':
      nodes = [
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: { ints: [1, 2, 0] } } },
        { op: 'Div', inputs: ['q', 'c'], outputs: ['qs'] },
        { op: 'MatMul', inputs: ['qs', 'kt'], outputs: ['s'] },
      ];
      inputs = [{ name: 'q', dims: [b * h, sq, d] }, { name: 'k', dims: [sk, b * h, d] }, { name: 'v', dims: [b * h, sk, dv] }];
      initializers.push(floats('c', [], [Math.sqrt(d)]));
      out = [b * h, sq, dv];
      break;
  }
  nodes.push(...probs);
  const outputs: IoSpec[] = [{ name: 'y', dims: out }, ...(o.expose ?? []).map((name) => ({ name }))];
  if (o.reuseProbs) {
    nodes.push({ op: 'ReduceMax', inputs: ['p'], outputs: ['pmax'], attrs: { axes: { ints: [-1] } } });
    outputs.push({ name: 'pmax' });
  }
  const feeds = inputs.map((v, i) => feed(v.name, v.dims as number[], 10 + i));
  return { model: buildModel({ opset: o.opset ?? (form === 'sdpa' ? 14 : 13), nodes, inputs, outputs, initializers }), feeds };
}

/** A GELU inside an If branch (its constants inside the branch), reading the outer x. */
function geluInBranch(): Graph {
  const dims = [3, 4];
  const k = (name: string, v: number) => ({ op: 'Constant', inputs: [], outputs: [name], attrs: { value: { t: floats('', [], [v]) } } });
  const model = buildModel({
    opset: 13,
    nodes: [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['sum'], attrs: { keepdims: { i: 0 } } },
      { op: 'Greater', inputs: ['sum', 'zero'], outputs: ['c'] },
      {
        op: 'If', inputs: ['c'], outputs: ['y'],
        attrs: {
          then_branch: { g: { inputs: [], outputs: [{ name: 'y1' }], nodes: [
            k('sqrt2', Math.SQRT2), k('one', 1), k('half', 0.5),
            { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['e'] },
            { op: 'Erf', inputs: ['e'], outputs: ['r'] },
            { op: 'Add', inputs: ['r', 'one'], outputs: ['a'] },
            { op: 'Mul', inputs: ['x', 'a'], outputs: ['xa'] },
            { op: 'Mul', inputs: ['xa', 'half'], outputs: ['y1'] },
          ] } },
          else_branch: { g: { inputs: [], outputs: [{ name: 'y2' }], nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y2'] }] } },
        },
      },
    ],
    inputs: [{ name: 'x', dims }], outputs: [{ name: 'y', dims }], initializers: [floats('zero', [], [0])],
  });
  const x = randomFloats(size(dims), 21).map((v) => Math.abs(v) + 0.1);
  return { model, feeds: [{ name: 'x', datatype: 'FP32', shape: dims, data: x }] };
}

interface Case { name: string; graph: () => Graph; want: Counts }

const CASES: Case[] = [
  { name: 'LayerNorm, affine, axes attribute -1 (opset 13)', graph: () => layerNormGraph(), want: expect(1, 0, 0) },
  { name: 'LayerNorm, no affine', graph: () => layerNormGraph({ affine: 'none' }), want: expect(1, 0, 0) },
  { name: 'LayerNorm, γ only (Mul with γ first)', graph: () => layerNormGraph({ affine: 'gamma' }), want: expect(1, 0, 0) },
  { name: 'LayerNorm, axes input [2] on a known rank-3 x (opset 18)', graph: () => layerNormGraph({ opset: 18, axis: 2 }), want: expect(1, 0, 0) },
  { name: 'LayerNorm, axes [2] with x of unknown rank: not provably last, not fused', graph: () => layerNormGraph({ axis: 2, knownRank: false }), want: expect(0, 0, 0) },
  { name: 'LayerNorm over axis 1: not fused', graph: () => layerNormGraph({ axis: 1 }), want: expect(0, 0, 0) },
  { name: 'GELU, torch form (x·(1+erf(x/√2)))·½', graph: () => geluGraph(), want: expect(0, 1, 0) },
  { name: 'GELU, (x·½)·(1+erf(x·1/√2))', graph: () => geluGraph({ form: 'half-first', divide: false }), want: expect(0, 1, 0) },
  { name: 'GELU, ((1+erf)·½)·x', graph: () => geluGraph({ form: 'half-on-sum' }), want: expect(0, 1, 0) },
  { name: 'GELU-like with 0.6 instead of ½: not fused', graph: () => geluGraph({ half: 0.6 }), want: expect(0, 0, 0) },
  { name: 'attention, nn.MultiheadAttention form with mask', graph: () => attentionGraph(), want: expect(0, 0, 1) },
  { name: 'attention, scaled_dot_product_attention form (√scale on q and kᵀ)', graph: () => attentionGraph({ form: 'sdpa' }), want: expect(0, 0, 1) },
  { name: 'attention, kᵀ already transposed, Mul scale, mask first', graph: () => attentionGraph({ form: 'pretransposed' }), want: expect(0, 0, 1) },
  { name: 'attention, heads-first k with Transpose perm [1, 2, 0]', graph: () => attentionGraph({ form: 'heads-first' }), want: expect(0, 0, 1) },
  { name: 'attention, opset 11 Softmax axis 3 on rank-4 scores', graph: () => attentionGraph({ opset: 11, axis: 3 }), want: expect(0, 0, 1) },
  { name: 'attention-like, opset 11 Softmax axis 1 (coerced 2-D): not fused', graph: () => attentionGraph({ opset: 11, axis: 1 }), want: expect(0, 0, 0) },
  { name: 'GELU inside an If branch (counted with the subgraphs)', graph: geluInBranch, want: expect(0, 1, 0) },
  // An intermediate seen outside the pattern keeps the pattern unfused; every output stays right.
  { name: 'LayerNorm whose mean is also a graph output: not fused', graph: () => layerNormGraph({ expose: ['m'] }), want: expect(0, 0, 0) },
  { name: 'LayerNorm whose normalised value is a graph output: fused up to it', graph: () => layerNormGraph({ expose: ['n'] }), want: expect(1, 0, 0) },
  { name: 'GELU whose erf is also a graph output: not fused', graph: () => geluGraph({ expose: ['r'] }), want: expect(0, 0, 0) },
  { name: 'attention whose probabilities are a graph output: not fused', graph: () => attentionGraph({ expose: ['p'] }), want: expect(0, 0, 0) },
  { name: 'attention whose probabilities another node reads: not fused', graph: () => attentionGraph({ reuseProbs: true }), want: expect(0, 0, 0) },
  { name: 'attention whose raw scores are also a graph output: not fused', graph: () => attentionGraph({ expose: ['s0'] }), want: expect(0, 0, 0) },
  // The scaling of q is optional: seen elsewhere, it stays a node and the attention reads its result.
  { name: 'attention whose scaled q is also a graph output: fused from the scaled q', graph: () => attentionGraph({ expose: ['qs'] }), want: expect(0, 0, 1) },
];

describe('ONNX fusion pass: plan stats', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  it('transformer_opset13: 5 LayerNorms (2 per layer + final), 2 GELUs, 2 attentions fused', async () => {
    const plan = await planOf(loadFixture('transformer_opset13').path);
    const opset17 = await planOf(loadFixture('transformer_opset17').path);
    try {
      assert.deepEqual(counts(plan.stats), expect(5, 2, 2));
      // Opset 17 has LayerNormalization ops already; its GELU and attention are decomposed too.
      assert.deepEqual(counts(opset17.stats), expect(0, 2, 2));
      // Both exports now run the same number of steps.
      assert.equal(plan.stats.steps, opset17.stats.steps);
    } finally {
      plan.dispose();
      opset17.dispose();
    }
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const plan = await planOf(writeModel(c.graph().model));
      try {
        assert.deepEqual(counts(plan.stats), c.want);
      } finally {
        plan.dispose();
      }
    });
  }
});

for (const backend of ['cpu', 'webgpu'] as BackendName[]) {
  describe(`ONNX fusion pass on tfjs ${backend}`, () => {
    let skip: string | undefined;
    before(async () => {
      const ok = await useBackend(backend);
      if (ok !== true) {
        if (backend !== 'webgpu' || requireWebGpu) throw new Error(ok);
        skip = ok;
        return;
      }
      if (backend === 'webgpu') {
        // The fused ops dispatch dawnserve's WGSL kernels once these are registered.
        const { registerDawnKernels } = await import('../../src/kernels/index.js');
        await registerDawnKernels();
      }
    });

    it('transformer_opset13 equals PyTorch and onnxruntime, without leaks', async (t) => {
      if (skip) { t.skip(skip); return; }
      const fx = loadFixture('transformer_opset13');
      const { executor, config } = await loadExecutor(fx.path);
      try {
        for (const [ci, c] of fx.cases.entries()) {
          const [out] = await execute(executor, config, c.inputs);
          assert.deepEqual(out!.shape, c.outputs[0]!.shape);
          assertClose(numbers(out!), numbers(c.outputs[0]!), `case ${ci} on ${backend} vs PyTorch`);
        }
        const count = tf.memory().numTensors;
        await execute(executor, config, fx.cases[1]!.inputs);
        assert.equal(tf.memory().numTensors, count, 'tensors leaked');
      } finally {
        await executor.unload();
      }
      await compareWithOrt(fx.path, fx.cases[1]!.inputs, `transformer_opset13 on ${backend}`);
    });

    if (backend === 'webgpu') {
      it('transformer_opset13 runs the fused WGSL kernels', async (t) => {
        if (skip) { t.skip(skip); return; }
        const fx = loadFixture('transformer_opset13');
        const ran = await kernelsRun(fx.path, fx.cases[0]!.inputs);
        assert.equal(ran.get('DawnLayerNorm'), 5, `kernels: ${[...ran.keys()].join(', ')}`);
        assert.equal(ran.get('DawnGelu'), 2);
        assert.equal(ran.get('DawnAttention'), 2);
        assert.equal(ran.get('Softmax') ?? 0, 0, 'no separate softmax left');
      });
    }

    for (const c of CASES) {
      it(`${c.name}: equals onnxruntime`, async (t) => {
        if (skip) { t.skip(skip); return; }
        const g = c.graph();
        const path = writeModel(g.model);
        await compareWithOrt(path, g.feeds, c.name, { checkLeaks: true });
        if (backend === 'webgpu') {
          // One WGSL kernel per fused pattern (and none where nothing was fused).
          const ran = await kernelsRun(path, g.feeds);
          assert.equal(ran.get('DawnLayerNorm') ?? 0, c.want.fusedLayerNorm, 'DawnLayerNorm dispatches');
          assert.equal(ran.get('DawnGelu') ?? 0, c.want.fusedGelu, 'DawnGelu dispatches');
          assert.equal(ran.get('DawnAttention') ?? 0, c.want.fusedAttention, 'DawnAttention dispatches');
        }
      });
    }
  });
}

describe('ONNX fusion pass: internal ops', () => {
  it('are not reachable from a model', async () => {
    const model = buildModel({
      nodes: [{ op: 'FusedGelu', domain: 'dawnserve.internal', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', dims: [2] }], outputs: [{ name: 'y', dims: [2], type: OnnxType.FLOAT }],
    });
    await assert.rejects(planOf(writeModel(model)), /unsupported ONNX operator/);
  });
});
