// If and Loop built in TypeScript, against onnxruntime-node: the parts of the spec PyTorch's exports
// in the fixtures do not reach (scan outputs, a loop without a trip count, nested captures).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '../../src/runtime/types.js';
import { OnnxType } from '../../src/runtime/onnx/model.js';
import { buildModel, floats, randomFloats, writeModel } from './build.js';
import { compareWithOrt, loadExecutor, useBackend } from './helpers.js';

const F = OnnxType.FLOAT;
const B = OnnxType.BOOL;
const I64 = OnnxType.INT64;

/** acc ← 0.9·acc + relu(x) + i while Σ < limit (and i < m); scan: 2·acc when still under, else −relu(x). */
const loopWithScan = () => buildModel({
  nodes: [
    { op: 'Relu', inputs: ['x'], outputs: ['h'] },
    {
      op: 'Loop', inputs: ['m', 'go', 'x'], outputs: ['acc', 'ys'],
      attrs: {
        body: {
          g: {
            inputs: [{ name: 'i', type: I64, dims: [] }, { name: 'c', type: B, dims: [] }, { name: 'a', type: F }],
            outputs: [{ name: 'c2', type: B, dims: [] }, { name: 'v', type: F }, { name: 'y', type: F }],
            initializers: [floats('k', [], [0.9])],
            nodes: [
              { op: 'Cast', inputs: ['i'], outputs: ['fi'], attrs: { to: { i: F } } },
              { op: 'Mul', inputs: ['a', 'k'], outputs: ['t'] },
              { op: 'Add', inputs: ['t', 'h'], outputs: ['u'] },
              { op: 'Add', inputs: ['u', 'fi'], outputs: ['v'] },
              { op: 'ReduceSum', inputs: ['v'], outputs: ['s'], attrs: { keepdims: { i: 0 } } },
              { op: 'Less', inputs: ['s', 'limit'], outputs: ['c2'] },
              {
                op: 'If', inputs: ['c2'], outputs: ['y'],
                attrs: {
                  then_branch: { g: { inputs: [], outputs: [{ name: 'y1', type: F }], nodes: [
                    { op: 'Constant', inputs: [], outputs: ['two'], attrs: { value: { t: floats('', [], [2]) } } },
                    { op: 'Mul', inputs: ['v', 'two'], outputs: ['y1'] },
                  ] } },
                  else_branch: { g: { inputs: [], outputs: [{ name: 'y2', type: F }], nodes: [{ op: 'Neg', inputs: ['h'], outputs: ['y2'] }] } },
                },
              },
            ],
          },
        },
      },
    },
  ],
  inputs: [{ name: 'x', dims: [2, 3] }, { name: 'm', type: I64, dims: [] }],
  outputs: [{ name: 'acc', dims: [2, 3] }, { name: 'ys', dims: ['n', 2, 3] }],
  initializers: [{ name: 'go', dataType: B, dims: [], int32Data: [1] }, floats('limit', [], [40])],
});

/** No trip count: doubles until the sum reaches 50; the branch hands back an outer value as is. */
const loopWhile = () => buildModel({
  nodes: [
    { op: 'Identity', inputs: ['x'], outputs: ['x1'] },
    {
      op: 'Loop', inputs: ['', 'go', 'x1'], outputs: ['acc'],
      attrs: {
        body: {
          g: {
            inputs: [{ name: 'i', type: I64, dims: [] }, { name: 'c', type: B, dims: [] }, { name: 'a', type: F }],
            outputs: [{ name: 'c2', type: B, dims: [] }, { name: 'a2', type: F }],
            nodes: [
              { op: 'Add', inputs: ['a', 'a'], outputs: ['a2'] },
              { op: 'ReduceSum', inputs: ['a2'], outputs: ['s'], attrs: { keepdims: { i: 0 } } },
              { op: 'Less', inputs: ['s', 'fifty'], outputs: ['c2'] },
            ],
          },
        },
      },
    },
    { op: 'ReduceSum', inputs: ['x'], outputs: ['sx'], attrs: { keepdims: { i: 0 } } },
    { op: 'Greater', inputs: ['sx', 'zero'], outputs: ['pos'] },
    {
      op: 'If', inputs: ['pos'], outputs: ['pick'],
      attrs: {
        // onnxruntime wants an Identity between an outer value and a branch output.
        then_branch: { g: { inputs: [], outputs: [{ name: 'p1', type: F }], nodes: [{ op: 'Identity', inputs: ['acc'], outputs: ['p1'] }] } },
        else_branch: { g: { inputs: [], outputs: [{ name: 'p2', type: F }], nodes: [{ op: 'Identity', inputs: ['x1'], outputs: ['p2'] }] } },
      },
    },
  ],
  inputs: [{ name: 'x', dims: [4] }, { name: 'go', type: B, dims: [] }],
  outputs: [{ name: 'acc', dims: [4] }, { name: 'pick', dims: [4] }],
  initializers: [floats('fifty', [], [50]), floats('zero', [], [0])],
});

const check = (path: string, feeds: HostTensor[], what: string): Promise<void> =>
  compareWithOrt(path, feeds, what, { checkLeaks: true });

describe('ONNX control flow vs onnxruntime', () => {
  before(async () => { assert.equal(await useBackend('cpu'), true); });

  const x = (seed: number, n = 6): HostTensor => ({ name: 'x', datatype: 'FP32', shape: n === 6 ? [2, 3] : [n], data: randomFloats(n, seed) });
  const m = (v: number): HostTensor => ({ name: 'm', datatype: 'INT64', shape: [], data: new BigInt64Array([BigInt(v)]) });
  const go = (v: boolean): HostTensor => ({ name: 'go', datatype: 'BOOL', shape: [], data: new Uint8Array([v ? 1 : 0]) });

  it('Loop: trip count, loop-carried value, scan output, captures, nested If', async () => {
    const path = writeModel(loopWithScan());
    await check(path, [x(1), m(4)], 'M=4');
    await check(path, [x(2), m(30)], 'stopped by cond');
    await check(path, [x(3), m(1)], 'M=1');
  });

  it('Loop without a trip count, and If branches that return outer values', async () => {
    const path = writeModel(loopWhile());
    await check(path, [x(4, 4), go(true)], 'cond loop');
    await check(path, [{ ...x(5, 4), data: Float32Array.from([-1, -2, 0.5, -0.25]) }, go(true)], 'else branch');
    await check(path, [x(6, 4), go(false)], 'cond false at start');
  });

  it('fails the load naming an unsupported op inside a subgraph', async () => {
    const path = writeModel(buildModel({
      nodes: [{
        op: 'If', inputs: ['c'], outputs: ['y'],
        attrs: {
          then_branch: { g: { inputs: [], outputs: [{ name: 'y1', type: F }], nodes: [{ op: 'Frobnicate', inputs: ['x'], outputs: ['y1'], name: 'deep' }] } },
          else_branch: { g: { inputs: [], outputs: [{ name: 'y2', type: F }], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y2'] }] } },
        },
      }],
      inputs: [{ name: 'x', dims: [2] }, { name: 'c', type: B, dims: [] }],
      outputs: [{ name: 'y', dims: [2] }],
    }));
    const count = tf.memory().numTensors;
    await assert.rejects(loadExecutor(path), /unsupported ONNX operator 'Frobnicate' \(node 'deep'\)/);
    assert.equal(tf.memory().numTensors, count);
  });
});
