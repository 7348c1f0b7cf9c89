import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { FakeFactory, makeRepo, removeRepo, silentLog, SIMPLE_CONFIG, int32 } from './fake.js';

let root: string;
let rt: TritonRuntime;
const factory = new FakeFactory();

const identity = (name: string, dims: string, extra = '') => `
name: "${name}"
platform: "fake"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: ${dims} } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: ${dims} ${extra} } ]`;

before(async () => {
  root = await makeRepo({
    simple: { config: SIMPLE_CONFIG, versions: { 1: {} } },
    ident: { config: identity('ident', '[ 4 ]', 'label_filename: "labels.txt"'), versions: { 1: { op: 'identity' } },
      files: { 'labels.txt': 'cat\ndog\nbird\nfish\n' } },
    reshaped: { config: `name: "reshaped" platform: "fake" max_batch_size: 2
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 4 ], reshape { shape: [ 2, 2 ] } } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 4 ], reshape { shape: [ 2, 2 ] } } ]`, versions: { 1: { op: 'identity' } } },
    strings: { config: `name: "strings" platform: "fake" max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_STRING, dims: [ 2 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_STRING, dims: [ 2 ] } ]`, versions: { 1: { op: 'identity' } } },
    wrongtype: { config: SIMPLE_CONFIG.replace('"simple"', '"wrongtype"'), versions: { 1: { op: 'wrong_dtype' } } },
    missing: { config: SIMPLE_CONFIG.replace('"simple"', '"missing"'), versions: { 1: { op: 'missing_output' } } },
    thrower: { config: SIMPLE_CONFIG.replace('"simple"', '"thrower"'), versions: { 1: { op: 'throw' } } },
    optional: { config: `name: "optional" platform: "fake" max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "INPUT1", data_type: TYPE_INT32, dims: [ 1 ] },
        { name: "INPUT2", data_type: TYPE_INT32, dims: [ 1 ], optional: true } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]`, versions: { 1: {} } },
  });
  rt = new TritonRuntime({ repositoryPath: root, controlMode: 'none', factories: [factory], backend: 'webgpu', log: silentLog,
    tensorsAlive: () => 42 });
  await rt.start();
});

after(async () => {
  await rt.close();
  await removeRepo(root);
});

const simpleInputs = (b = 1): HostTensor[] => [int32('INPUT0', [b, 16], (i) => i + 1), int32('INPUT1', [b, 16], () => 1)];
const fp32 = (name: string, shape: number[], values: number[]): HostTensor => ({ name, datatype: 'FP32', shape, data: new Float32Array(values) });

async function rejects(p: Promise<unknown>, code: string, text: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InferenceServerError, String(e));
    assert.equal(e.message, text);
    assert.equal(e.code, code);
    return true;
  });
}

test('server metadata and readiness', () => {
  const md = rt.serverMetadata();
  assert.equal(md.name, 'triton');
  assert.ok(md.extensions.includes('binary_tensor_data'));
  assert.ok(md.extensions.includes('model_repository(unload_dependents)'));
  assert.ok(md.extensions.includes('sequence'));
  assert.ok(!md.extensions.includes('system_shared_memory'), 'only what is implemented is advertised');
  assert.equal(rt.isLive(), true);
  assert.equal(rt.isReady(), true);
});

test('model metadata: leading -1 for batching models, protocol datatypes', () => {
  assert.deepEqual(rt.modelMetadata('simple'), {
    name: 'simple', versions: ['1'], platform: 'fake',
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] }],
  });
  assert.deepEqual(rt.modelMetadata('strings', '1').inputs, [{ name: 'INPUT0', datatype: 'BYTES', shape: [2] }]);
});

test('not-found family', async () => {
  assert.throws(() => rt.modelMetadata('foo'), { message: "Request for unknown model: 'foo' is not found", code: 'NOT_FOUND' });
  assert.throws(() => rt.modelConfig('simple', '99'), { message: "Request for unknown model: 'simple' version 99 is not found" });
  await rejects(rt.infer({ model: 'nope', parameters: {}, inputs: [] }), 'NOT_FOUND', "Request for unknown model: 'nope' is not found");
  assert.equal(rt.modelReady('foo'), false);
  assert.equal(rt.modelReady('simple', '2'), false);
  assert.throws(() => rt.statistics('foo'), { message: "requested model 'foo' is not available", code: 'INVALID_ARG' });
  assert.throws(() => rt.statistics('simple', '7'), { message: "requested model version is not available for model 'simple'" });
});

test('infer: add_sub, id echoed, requested subset in config order', async () => {
  const r = await rt.infer({ model: 'simple', id: '42', parameters: {}, inputs: simpleInputs() });
  assert.equal(r.id, '42');
  assert.equal(r.model_version, '1');
  assert.deepEqual(r.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
  assert.deepEqual([...(r.outputs[0]!.data as Int32Array)], Array.from({ length: 16 }, (_, i) => i + 2));
  assert.deepEqual(r.outputs[0]!.shape, [1, 16]);
  const only = await rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(), outputs: [{ name: 'OUTPUT1' }] });
  assert.deepEqual(only.outputs.map((o) => o.name), ['OUTPUT1']);
  assert.equal(only.id, undefined);
  assert.deepEqual(factory.executions.at(-1)!.outputs, ['OUTPUT1'], 'executor is asked only for what was requested');
});

test('validation texts', async () => {
  const p = "[request id: <id_unknown>] ";
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [simpleInputs()[0]!] }), 'INVALID_ARG',
    `${p}expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s).`);
  await rejects(rt.infer({ model: 'optional', id: 'r1', parameters: {}, inputs: [int32('INPUT0', [1], [1])] }), 'INVALID_ARG',
    "[request id: r1] expected number of inputs between 2 and 3 but got 1 inputs for model 'optional'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s).");
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [simpleInputs()[0]!, int32('INPUTX', [1, 16], () => 0)] }), 'INVALID_ARG',
    `${p}unexpected inference input 'INPUTX' for model 'simple'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [fp32('INPUT0', [1, 16], new Array(16).fill(0)), simpleInputs()[1]!] }), 'INVALID_ARG',
    `${p}inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [int32('INPUT0', [1, 15], () => 0), int32('INPUT1', [1, 15], () => 0)] }), 'INVALID_ARG',
    `${p}unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,15]. NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.`);
  await rejects(rt.infer({ model: 'ident', parameters: {}, inputs: [fp32('INPUT0', [3], [1, 2, 3])] }), 'INVALID_ARG',
    `${p}unexpected shape for input 'INPUT0' for model 'ident'. Expected [4], got [3].`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(9) }), 'INVALID_ARG',
    `${p}inference request batch-size must be <= 8 for 'simple'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [int32('INPUT0', [2, 16], () => 0), int32('INPUT1', [1, 16], () => 0)] }), 'INVALID_ARG',
    `${p}input 'INPUT1' batch size does not match other inputs for 'simple'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [{ ...int32('INPUT0', [], []) }, int32('INPUT1', [1, 16], () => 0)] }), 'INVALID_ARG',
    `${p}input 'INPUT0' has no shape but model requires batch dimension for 'simple'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: [{ ...simpleInputs()[0]!, data: new Int32Array(10) }, simpleInputs()[1]!] }), 'INVALID_ARG',
    `${p}input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 40`);
  const bytes = (n: number): HostTensor => ({ name: 'INPUT0', datatype: 'BYTES', shape: [2], data: Array.from({ length: n }, () => new Uint8Array([65])) });
  await rejects(rt.infer({ model: 'strings', parameters: {}, inputs: [bytes(1)] }), 'INVALID_ARG',
    `${p}expected 2 string elements for inference input 'INPUT0' for model 'strings', got 1`);
  await rejects(rt.infer({ model: 'strings', parameters: {}, inputs: [bytes(3)] }), 'INVALID_ARG',
    `${p}unexpected number of string elements 3 for inference input 'INPUT0' for model 'strings', expecting 2`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(), outputs: [{ name: 'OUTPUT9' }] }), 'INVALID_ARG',
    `${p}unexpected inference output 'OUTPUT9' for model 'simple'`);
  await rejects(rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(), outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }] }), 'INVALID_ARG',
    `${p}output 'OUTPUT0' already exists in request`);
  // Optional input may be left out; -1 dims accept any size.
  const ok = await rt.infer({ model: 'optional', parameters: {}, inputs: [int32('INPUT0', [1], [5]), int32('INPUT1', [1], [2])] });
  assert.deepEqual([...(ok.outputs[0]!.data as Int32Array)], [7]);
});

test('config reshape: the executor sees reshape.shape, the client the dims', async () => {
  const r = await rt.infer({ model: 'reshaped', parameters: {}, inputs: [fp32('INPUT0', [1, 4], [1, 2, 3, 4])] });
  assert.deepEqual(factory.executions.at(-1)!.inputs.get('INPUT0')!.shape, [1, 2, 2]);
  assert.deepEqual(r.outputs[0]!.shape, [1, 4]);
  assert.deepEqual([...(r.outputs[0]!.data as Float32Array)], [1, 2, 3, 4]);
});

test('executor output checks are INTERNAL errors naming the output', async () => {
  await rejects(rt.infer({ model: 'wrongtype', parameters: {}, inputs: simpleInputs(), outputs: [{ name: 'OUTPUT0' }] }), 'INTERNAL',
    "output 'OUTPUT0' of model 'wrongtype' has datatype FP32, but the model config says INT32");
  await rejects(rt.infer({ model: 'missing', parameters: {}, inputs: simpleInputs() }), 'INTERNAL',
    "model 'missing' did not produce output 'OUTPUT0'");
  await rejects(rt.infer({ model: 'thrower', parameters: {}, inputs: simpleInputs() }), 'INTERNAL', 'kaboom');
});

test('classification: top-K with labels, floats as %f, BYTES rejected', async () => {
  const r = await rt.infer({ model: 'ident', parameters: {}, inputs: [fp32('INPUT0', [4], [0.5, 2, 1.25, 2])],
    outputs: [{ name: 'OUTPUT0', parameters: { classification: 3 } }] });
  const out = r.outputs[0]!;
  assert.equal(out.datatype, 'BYTES');
  assert.deepEqual(out.shape, [3]);
  const text = (out.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
  assert.deepEqual(text, ['2.000000:1:dog', '2.000000:3:fish', '1.250000:2:bird']);
  const big = await rt.infer({ model: 'ident', parameters: {}, inputs: [fp32('INPUT0', [4], [1, 1, 1, 1])],
    outputs: [{ name: 'OUTPUT0', parameters: { classification: 10 } }] });
  assert.deepEqual(big.outputs[0]!.shape, [4]);
  const batched = await rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(2), outputs: [{ name: 'OUTPUT0', parameters: { classification: 2 } }] });
  assert.deepEqual(batched.outputs[0]!.shape, [2, 2]);
  assert.deepEqual((batched.outputs[0]!.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)), ['17:15', '16:14', '33:15', '32:14']);
  await rejects(rt.infer({ model: 'strings', parameters: {}, inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2], data: [new Uint8Array(1), new Uint8Array(1)] }],
    outputs: [{ name: 'OUTPUT0', parameters: { classification: 1 } }] }), 'INVALID_ARG',
    "class result not available for output due to unsupported type 'BYTES'");
});

test('statistics and metrics count requests, items and executions', async () => {
  const before = rt.statistics('simple', '1')[0]!;
  await rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(3) });
  await rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(1) });
  await rt.infer({ model: 'simple', parameters: {}, inputs: simpleInputs(9) }).catch(() => undefined);
  const s = rt.statistics('simple', '1')[0]!;
  assert.equal(s.name, 'simple');
  assert.equal(s.version, '1');
  assert.equal(s.inference_count - before.inference_count, 4);
  assert.equal(s.execution_count - before.execution_count, 2);
  assert.equal(s.inference_stats.success.count - before.inference_stats.success.count, 2);
  assert.equal(s.inference_stats.fail.count - before.inference_stats.fail.count, 1);
  assert.equal(s.inference_stats.queue.count, s.inference_stats.success.count);
  assert.equal(s.inference_stats.compute_infer.count, s.inference_stats.success.count);
  assert.ok(s.inference_stats.success.ns > 0);
  assert.ok(s.last_inference > 0);
  const b3 = s.batch_stats.find((b) => b.batch_size === 3)!;
  assert.ok(b3.compute_infer.count >= 1);
  assert.deepEqual(s.batch_stats.map((b) => b.batch_size), [...s.batch_stats.map((b) => b.batch_size)].sort((a, b) => a - b));
  assert.deepEqual(Object.keys(s.inference_stats), ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']);
  assert.ok(rt.statistics().length >= 7);

  const text = await rt.metricsRegistry.metrics();
  assert.match(text, /# HELP nv_inference_request_success Number of successful inference requests, all batch sizes/);
  assert.match(text, /# TYPE nv_inference_request_success counter/);
  const success = Number(/nv_inference_request_success\{model="simple",version="1"\} (\d+)/.exec(text)![1]);
  assert.equal(success, s.inference_stats.success.count);
  assert.match(text, new RegExp(`nv_inference_count\\{model="simple",version="1"\\} ${s.inference_count}\\b`));
  assert.match(text, new RegExp(`nv_inference_exec_count\\{model="simple",version="1"\\} ${s.execution_count}\\b`));
  assert.match(text, /nv_inference_request_failure\{model="simple",version="1",reason="OTHER"\} 1/);
  assert.match(text, /nv_inference_request_failure\{model="thrower",version="1",reason="BACKEND"\} 1/);
  assert.match(text, /nv_inference_queue_duration_us\{model="simple",version="1"\}/);
  assert.match(text, /nv_model_load_duration_secs\{model="simple",version="1"\}/);
  assert.match(text, /nv_cpu_memory_total_bytes \d+/);
  assert.match(text, /dawnserve_backend_info\{backend="webgpu",adapter_vendor="",adapter_architecture=""\} 1/);
  assert.match(text, /dawnserve_queue_depth\{model="simple",version="1"\} 0/);
  assert.match(text, /dawnserve_tensors_alive 42/);
});
