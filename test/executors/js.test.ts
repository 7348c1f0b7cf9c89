import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import {
  createJsExecutor, definitionToConfig, jsExecutorFactory, validateDefinition, type JsModelDefinition,
} from '../../src/runtime/executors/js.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import { tensorsAlive } from '../../src/runtime/backends.js';
import type { ModelConfig } from '../../src/runtime/model-config.js';
import { bytes, host, inputsMap, makeContext, modelsDir, strings } from './helpers.js';

const addSub: JsModelDefinition = {
  inputs: [{ name: 'A', datatype: 'FP32', shape: [3] }, { name: 'B', datatype: 'FP32', shape: [3] }],
  outputs: [{ name: 'SUM', datatype: 'FP32', shape: [3] }, { name: 'DIFF', datatype: 'FP32', shape: [3] }],
  maxBatchSize: 4,
  dynamicBatching: { maxQueueDelayMicroseconds: 100, preferredBatchSize: [2, 4] },
  infer({ A, B }) {
    const a = A!.data as Float32Array, b = B!.data as Float32Array;
    // Plain arrays: the executor infers [batch, 3] from the batch size.
    return { SUM: Array.from(a, (v, i) => v + b[i]!), DIFF: a.map((v, i) => v - b[i]!) };
  },
};

function expectCode(code: string, re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof InferenceServerError, `expected InferenceServerError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  };
}

async function executorFor(def: JsModelDefinition, name = 'm') {
  const config = definitionToConfig(validateDefinition(def, name), name);
  return { config, executor: await createJsExecutor(def, makeContext(config, 'cpu')) };
}

test('definitionToConfig fills a Triton-shaped config', () => {
  const c = definitionToConfig(addSub, 'add_sub');
  assert.equal(c.name, 'add_sub');
  assert.equal(c.backend, 'js');
  assert.equal(c.max_batch_size, 4);
  assert.deepEqual(c.input.map((i) => [i.name, i.data_type, i.dims]), [['A', 'TYPE_FP32', [3]], ['B', 'TYPE_FP32', [3]]]);
  assert.deepEqual(c.output.map((o) => [o.name, o.data_type]), [['SUM', 'TYPE_FP32'], ['DIFF', 'TYPE_FP32']]);
  assert.deepEqual(c.dynamic_batching?.preferred_batch_size, [2, 4]);
  assert.equal(c.dynamic_batching?.max_queue_delay_microseconds, 100);
  assert.equal(c.default_model_filename, 'model.js');
});

test('dynamicBatching takes PyTriton DynamicBatcher options: priorities and queue policies', () => {
  const config = definitionToConfig({
    ...addSub,
    dynamicBatching: {
      maxQueueDelayMicroseconds: 50, priorityLevels: 2, defaultPriorityLevel: 2,
      defaultQueuePolicy: { maxQueueSize: 8, timeoutAction: 'DELAY', defaultTimeoutMicroseconds: 1000 },
      priorityQueuePolicy: { 1: { maxQueueSize: 2, allowTimeoutOverride: true } },
    },
  }, 'prio');
  assert.deepEqual(config.dynamic_batching, {
    preferred_batch_size: [], max_queue_delay_microseconds: 50, preserve_ordering: false,
    priority_levels: 2, default_priority_level: 2,
    default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 1000, allow_timeout_override: false, max_queue_size: 8 },
    priority_queue_policy: { 1: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: true, max_queue_size: 2 } },
  });
  // Triton's own config checks and texts apply, as for a config.pbtxt.
  assert.throws(() => definitionToConfig({ ...addSub, dynamicBatching: { priorityLevels: 2, defaultPriorityLevel: 3 } }, 'bad'),
    expectCode('INVALID_ARG', /default priority level must be in range \[1, 2\] for bad/));
  assert.throws(() => definitionToConfig({ ...addSub, dynamicBatching: { defaultQueuePolicy: { maxQueueSize: -1 } } }, 'neg'),
    expectCode('INVALID_ARG', /dynamicBatching\.defaultQueuePolicy\.maxQueueSize must be a non-negative integer/));
});

test('batched model: flat array outputs get the [batch, dims] shape', async () => {
  const { executor } = await executorFor(addSub);
  const out = await executor.execute({
    inputs: inputsMap(host('A', 'FP32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)), host('B', 'FP32', [2, 3], Float32Array.of(1, 1, 1, 2, 2, 2))),
    outputs: ['SUM', 'DIFF'], parameters: {},
  });
  assert.deepEqual(out.map((t) => [t.name, t.datatype, t.shape]), [['SUM', 'FP32', [2, 3]], ['DIFF', 'FP32', [2, 3]]]);
  assert.deepEqual(Array.from(out[0]!.data as Float32Array), [2, 3, 4, 6, 7, 8]);
  assert.deepEqual(Array.from(out[1]!.data as Float32Array), [0, 1, 2, 2, 3, 4]);
  assert.ok(out[0]!.data instanceof Float32Array);
});

test('only the requested outputs come back, in the requested order', async () => {
  const { executor } = await executorFor(addSub);
  const out = await executor.execute({
    inputs: inputsMap(host('A', 'FP32', [1, 3], Float32Array.of(1, 2, 3)), host('B', 'FP32', [1, 3], Float32Array.of(3, 2, 1))),
    outputs: ['DIFF'], parameters: {},
  });
  assert.deepEqual(out.map((t) => t.name), ['DIFF']);
  assert.deepEqual(Array.from(out[0]!.data as Float32Array), [-2, 0, 2]);
});

test('unbatched model: tfjs tensor outputs are read back, converted and disposed', async () => {
  let seenParams: unknown;
  const def: JsModelDefinition = {
    inputs: [{ name: 'X', datatype: 'INT64', shape: [-1] }],
    outputs: [{ name: 'Y', datatype: 'INT64', shape: [-1] }, { name: 'ANY', datatype: 'BOOL', shape: [-1] }],
    infer({ X }, { tf, parameters }) {
      seenParams = parameters;
      const x = tf.tensor(Array.from(X!.data as BigInt64Array, Number), X!.shape, 'int32');
      const y = tf.mul(x, tf.scalar(3, 'int32'));
      const any = tf.greater(x, tf.scalar(1, 'int32'));
      x.dispose();
      return { Y: y, ANY: any };
    },
  };
  const { executor } = await executorFor(def);
  const before = tensorsAlive();
  const out = await executor.execute({ inputs: inputsMap(host('X', 'INT64', [3], BigInt64Array.of(1n, 2n, 3n))), outputs: ['Y', 'ANY'], parameters: { p: 'v' } });
  assert.deepEqual(seenParams, { p: 'v' });
  assert.deepEqual(out[0]!.shape, [3]);
  assert.deepEqual(Array.from(out[0]!.data as BigInt64Array), [3n, 6n, 9n]);
  assert.equal(out[1]!.datatype, 'BOOL');
  assert.deepEqual(Array.from(out[1]!.data as Uint8Array), [0, 1, 1]);
  // tf.scalar() temporaries leak in the model itself (1 each); the returned tensors must not.
  assert.equal(tensorsAlive() - before, 2);
});

test('returned tensors that were not requested are disposed too', async () => {
  const def: JsModelDefinition = {
    inputs: [{ name: 'X', datatype: 'FP32', shape: [2] }],
    outputs: [{ name: 'Y', datatype: 'FP32', shape: [2] }, { name: 'Z', datatype: 'FP32', shape: [2] }],
    infer({ X }, { tf }) {
      return { Y: tf.tensor(X!.data as Float32Array, [2]), Z: tf.tensor(X!.data as Float32Array, [2]) };
    },
  };
  const { executor } = await executorFor(def);
  const before = tensorsAlive();
  const out = await executor.execute({ inputs: inputsMap(host('X', 'FP32', [2], Float32Array.of(1, 2))), outputs: ['Z'], parameters: {} });
  assert.deepEqual(Array.from(out[0]!.data as Float32Array), [1, 2]);
  assert.equal(tensorsAlive(), before);
});

test('output checks produce clear errors', async () => {
  const make = (result: () => Record<string, unknown>): JsModelDefinition => ({
    inputs: [{ name: 'X', datatype: 'FP32', shape: [2] }],
    outputs: [{ name: 'Y', datatype: 'FP32', shape: [2] }, { name: 'S', datatype: 'BYTES', shape: [-1, -1] }],
    maxBatchSize: 2,
    infer: () => result() as Record<string, never>,
  });
  const cases: [() => Record<string, unknown>, string[], RegExp][] = [
    [() => ({}), ['Y'], /did not return output 'Y'/],
    [() => ({ Y: [1, 2], NOPE: [1] }), ['Y'], /unknown output 'NOPE'/],
    [() => ({ Y: [1, 2, 3] }), ['Y'], /got 3 elements, expected 2/],
    [() => ({ Y: { data: [1, 2], shape: [1, 2], datatype: 'INT32' } }), ['Y'], /datatype INT32 does not match the declared FP32/],
    [() => ({ Y: { data: [1, 2], shape: [2, 1] } }), ['Y'], /shape \[2,1\] does not match the declared shape \[1,2\]/],
    [() => ({ Y: { data: [1, 2, 3], shape: [1, 2] } }), ['Y'], /3 elements do not match shape \[1,2\]/],
    [() => ({ Y: ['a', 'b'] }), ['Y'], /element 0 is string, expected a number/],
    [() => ({ Y: 42 }), ['Y'], /expected a tfjs Tensor, an array/],
    [() => ({ S: ['a', 'b'] }), ['S'], /cannot infer a shape/],
  ];
  const x = inputsMap(host('X', 'FP32', [1, 2], Float32Array.of(1, 2)));
  for (const [result, outputs, re] of cases) {
    const { executor } = await executorFor(make(result));
    await assert.rejects(executor.execute({ inputs: x, outputs, parameters: {} }), expectCode('INTERNAL', re));
  }
});

test('errors thrown by infer keep a Triton code when they carry one', async () => {
  const def = (err: Error): JsModelDefinition => ({
    inputs: [{ name: 'X', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }],
    infer: () => { throw err; },
  });
  const bad = Object.assign(new Error('X must be positive'), { code: 'INVALID_ARG' });
  const x = inputsMap(host('X', 'FP32', [1], Float32Array.of(-1)));
  await assert.rejects((await executorFor(def(bad))).executor.execute({ inputs: x, outputs: ['Y'], parameters: {} }), expectCode('INVALID_ARG', /^X must be positive$/));
  await assert.rejects((await executorFor(def(new Error('boom')))).executor.execute({ inputs: x, outputs: ['Y'], parameters: {} }), expectCode('INTERNAL', /infer failed: boom/));
});

test('invalid definitions are rejected with the field named', () => {
  assert.throws(() => validateDefinition({ inputs: [], outputs: [], infer() {} }, 'm'), /inputs must be a non-empty array/);
  assert.throws(() => validateDefinition({ inputs: [{ name: 'X', datatype: 'FLOAT', shape: [1] }], outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }], infer() {} }, 'm'), /'X': datatype FLOAT is not one of/);
  assert.throws(() => validateDefinition({ inputs: [{ name: 'X', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }] }, 'm'), /'infer' must be a function/);
  assert.throws(() => validateDefinition({ inputs: [{ name: 'X', datatype: 'FP32', shape: [-2] }], outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }], infer() {} }, 'm'), /shape must be an array of integers >= -1/);
});

test('model.js: initialize and finalize hooks run, default export works, edits are picked up on reload', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dawnserve-js-'));
  try {
    await mkdir(path.join(dir, '1'));
    // Plain node detects ESM syntax by itself; tsx (used to iterate on tests) needs to be told.
    await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
    const file = path.join(dir, '1', 'model.js');
    const source = (k: number) => `
      let factor = 0; export const log = [];
      export default {
        inputs: [{ name: 'X', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }],
        initialize({ versionDir }) { factor = ${k}; globalThis.__dawnserveJsTest = 'init:' + versionDir; },
        finalize() { globalThis.__dawnserveJsTest = 'finalized'; },
        infer({ X }) { return { Y: X.data.map((v) => v * factor) }; },
      };`;
    await writeFile(file, source(10));
    const derived = await jsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.js');
    assert.equal(derived.backend, 'js');
    assert.equal(derived.max_batch_size, 0);
    const config: ModelConfig = definitionToConfig({ ...addSub, maxBatchSize: 0, dynamicBatching: false }, 'reload');
    config.input = derived.input!;
    config.output = derived.output!;
    const g = globalThis as { __dawnserveJsTest?: string };
    const run = async () => {
      const ex = await jsExecutorFactory.load(makeContext(config, 'cpu', dir));
      assert.equal(g.__dawnserveJsTest, `init:${path.join(dir, '1')}`);
      const [y] = await ex.execute({ inputs: inputsMap(host('X', 'FP32', [1], Float32Array.of(2))), outputs: ['Y'], parameters: {} });
      await ex.unload();
      assert.equal(g.__dawnserveJsTest, 'finalized');
      return (y!.data as Float32Array)[0];
    };
    assert.equal(await run(), 20);
    await writeFile(file, source(100));
    const later = new Date(Date.now() + 5000); // a distinct mtime, independent of the clock's resolution
    const { utimes } = await import('node:fs/promises');
    await utimes(file, later, later);
    assert.equal(await run(), 200);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('missing model.js is a clear load error', async () => {
  await assert.rejects(jsExecutorFactory.deriveConfig('/nonexistent/1', 'model.js'), /JS model file \/nonexistent\/1\/model.js not found/);
});

test('bundled simple: batched INT32 add/sub', async () => {
  const dir = path.join(modelsDir(), 'simple');
  const derived = await jsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.js');
  assert.equal(derived.max_batch_size, 8);
  assert.deepEqual(derived.input!.map((i) => [i.name, i.data_type, i.dims]), [['INPUT0', 'TYPE_INT32', [16]], ['INPUT1', 'TYPE_INT32', [16]]]);
  const config = { ...definitionToConfig(addSub, 'simple'), max_batch_size: 8, input: derived.input!, output: derived.output! };
  const ex = await jsExecutorFactory.load(makeContext(config, 'cpu', dir));
  const a = Int32Array.from({ length: 32 }, (_, i) => i);
  const b = Int32Array.from({ length: 32 }, () => 1);
  b[31] = -2147483648; // wraps like int32
  const [sum, diff] = await ex.execute({ inputs: inputsMap(host('INPUT0', 'INT32', [2, 16], a), host('INPUT1', 'INT32', [2, 16], b)), outputs: ['OUTPUT0', 'OUTPUT1'], parameters: {} });
  assert.deepEqual(sum!.shape, [2, 16]);
  assert.deepEqual(Array.from(sum!.data as Int32Array).slice(0, 31), Array.from({ length: 31 }, (_, i) => i + 1));
  assert.equal((sum!.data as Int32Array)[31], 31 - 2147483648);
  assert.deepEqual(Array.from(diff!.data as Int32Array).slice(0, 4), [-1, 0, 1, 2]);
  assert.equal((diff!.data as Int32Array)[31], (31 + 2147483648) | 0);
});

test('bundled simple_string: integers as BYTES, errors for non-integers', async () => {
  const dir = path.join(modelsDir(), 'simple_string');
  const derived = await jsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.js');
  assert.deepEqual(derived.output!.map((o) => [o.name, o.data_type, o.dims]), [['OUTPUT0', 'TYPE_STRING', [16]], ['OUTPUT1', 'TYPE_STRING', [16]]]);
  const config = { ...definitionToConfig(addSub, 'simple_string'), max_batch_size: 8, input: derived.input!, output: derived.output! };
  const ex = await jsExecutorFactory.load(makeContext(config, 'cpu', dir));
  const a = Array.from({ length: 16 }, (_, i) => i);
  const [sum, diff] = await ex.execute({
    inputs: inputsMap(host('INPUT0', 'BYTES', [1, 16], bytes(a)), host('INPUT1', 'BYTES', [1, 16], bytes(a.map(() => 1)))),
    outputs: ['OUTPUT0', 'OUTPUT1'], parameters: {},
  });
  assert.equal(sum!.datatype, 'BYTES');
  assert.deepEqual(strings(sum!.data), a.map((v) => String(v + 1)));
  assert.deepEqual(strings(diff!.data), a.map((v) => String(v - 1)));
  const bad = bytes(a);
  bad[3] = new TextEncoder().encode('three');
  await assert.rejects(ex.execute({ inputs: inputsMap(host('INPUT0', 'BYTES', [1, 16], bad), host('INPUT1', 'BYTES', [1, 16], bytes(a))), outputs: ['OUTPUT0'], parameters: {} }),
    expectCode('INVALID_ARG', /INPUT0 element 3 \('three'\) is not an integer/));
});

test('bundled simple_identity: BYTES [1,16] as Triton clients send it', async () => {
  const dir = path.join(modelsDir(), 'simple_identity');
  const derived = await jsExecutorFactory.deriveConfig(path.join(dir, '1'), 'model.js');
  assert.equal(derived.max_batch_size, 8);
  assert.deepEqual(derived.input!.map((i) => i.dims), [[-1]]);
  const config = { ...definitionToConfig(addSub, 'simple_identity'), max_batch_size: 8, input: derived.input!, output: derived.output! };
  const ex = await jsExecutorFactory.load(makeContext(config, 'cpu', dir));
  const values = Array.from({ length: 16 }, (_, i) => `v${i}`);
  const [y] = await ex.execute({ inputs: inputsMap(host('INPUT0', 'BYTES', [1, 16], bytes(values))), outputs: ['OUTPUT0'], parameters: {} });
  assert.deepEqual(y!.shape, [1, 16]);
  assert.deepEqual(strings(y!.data), values);
});
