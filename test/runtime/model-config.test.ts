import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeConfig, parseConfigJson, parseConfigText } from '../../src/runtime/config/normalize.js';

const gpu = false;

test('defaults: every primitive field present, instance group, version policy', () => {
  const c = completeConfig(parseConfigText(`
platform: "onnxruntime_onnx"
input [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 3 ] } ]`), { modelName: 'm', gpu });
  assert.deepEqual(c, {
    name: 'm', platform: 'onnxruntime_onnx', backend: '', version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 0,
    input: [{ name: 'x', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [3], is_shape_tensor: false,
      allow_ragged_batch: false, optional: false }],
    output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [3], label_filename: '', is_shape_tensor: false }],
    instance_group: [{ name: 'm', kind: 'KIND_CPU', count: 1, gpus: [] }],
    default_model_filename: '', parameters: {},
  });
  const onGpu = completeConfig({ backend: 'js', input: [], output: [] }, { modelName: 'g', gpu: true });
  assert.deepEqual(onGpu.instance_group, [{ name: 'g', kind: 'KIND_GPU', count: 1, gpus: [] }]);
});

test('instance groups: KIND_AUTO resolves, names default to <model>_<index>', () => {
  const c = completeConfig(parseConfigText(`
backend: "js"
instance_group [ { count: 2 }, { kind: KIND_CPU, name: "cpus" } ]`), { modelName: 'm', gpu: false });
  assert.deepEqual(c.instance_group, [
    { name: 'm_0', kind: 'KIND_CPU', count: 2, gpus: [] },
    { name: 'cpus', kind: 'KIND_CPU', count: 1, gpus: [] },
  ]);
});

test('dynamic batching defaults', () => {
  const c = completeConfig(parseConfigText('backend: "js" max_batch_size: 4 dynamic_batching { }'), { modelName: 'm', gpu });
  assert.deepEqual(c.dynamic_batching, {
    preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0,
    default_priority_level: 0, priority_queue_policy: {},
  });
  const q = completeConfig(parseConfigText('backend: "js" max_batch_size: 4 dynamic_batching { default_queue_policy { max_queue_size: 2 } }'),
    { modelName: 'm', gpu });
  assert.deepEqual(q.dynamic_batching?.default_queue_policy, {
    timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 2,
  });
});

test('validation errors use Triton texts', () => {
  const io = 'input [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ] output [ { name: "y", data_type: TYPE_FP32, dims: [ 3 ] } ]';
  assert.throws(() => completeConfig(parseConfigText(`name: "other" backend: "js" ${io}`), { modelName: 'm', gpu }),
    /unexpected directory name 'm' for model 'other', directory name must equal model name/);
  assert.throws(() => completeConfig(parseConfigText(`backend: "js" max_batch_size: -1 ${io}`), { modelName: 'm', gpu }),
    /'max_batch_size' must be non-negative value for m/);
  assert.throws(() => completeConfig(parseConfigText('backend: "js" input [ { name: "x", data_type: TYPE_FP32 } ]'), { modelName: 'm', gpu }),
    /model input 'x' must specify 'dims' for m/);
  assert.throws(() => completeConfig(parseConfigText('backend: "js" output [ { name: "y", dims: [1] } ]'), { modelName: 'm', gpu }),
    /model output 'y' must specify 'data_type' for m/);
  assert.throws(() => completeConfig(parseConfigText('backend: "js" input [ { name: "x", data_type: TYPE_FP32, dims: [0] } ]'), { modelName: 'm', gpu }),
    /dimension must be integer >= 1, or -1/);
  assert.throws(() => completeConfig(parseConfigText(`${io}`), { modelName: 'm', gpu }),
    /must specify 'platform' or 'backend' for 'm'/);
  assert.throws(() => completeConfig(parseConfigText(`backend: "js" max_batch_size: 4 dynamic_batching { preferred_batch_size: [ 8 ] } ${io}`),
    { modelName: 'm', gpu }), /dynamic batching preferred size must be <= max batch size for m/);
  assert.throws(() => parseConfigText('input { data_type: TYPE_FLOAT32 }'), /unknown value TYPE_FLOAT32/);
});

test('priority levels: per-level queue policies are read; Triton validates levels and preserve_ordering', () => {
  const io = 'input [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ] output [ { name: "y", data_type: TYPE_FP32, dims: [ 3 ] } ]';
  const cfg = (db: string) => completeConfig(parseConfigText(`backend: "js" max_batch_size: 4 dynamic_batching { ${db} } ${io}`), { modelName: 'm', gpu });
  const c = cfg('priority_levels: 2 default_priority_level: 2 priority_queue_policy { key: 1 value: { max_queue_size: 3 } }');
  assert.equal(c.dynamic_batching?.priority_levels, 2);
  assert.equal(c.dynamic_batching?.default_priority_level, 2);
  assert.deepEqual(c.dynamic_batching?.priority_queue_policy, {
    1: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 3 },
  });
  assert.throws(() => cfg('priority_levels: 2'), /^ModelConfigError: default priority level must be in range \[1, 2\] for m$/);
  assert.throws(() => cfg('priority_levels: 2 default_priority_level: 3'), /default priority level must be in range \[1, 2\] for m/);
  assert.throws(() => cfg('priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value: { } }'),
    /priority queue policy must have priority level in range \[1, 2\] for m/);
  assert.throws(() => cfg('priority_levels: 2 default_priority_level: 1 preserve_ordering: true'),
    /Only one priority level is allowed when 'preserve_ordering' is true for m/);
  assert.throws(() => cfg('preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 10 }'),
    /Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for m/);
  // Without priority levels the per-level map is not checked (Triton ignores it then).
  assert.doesNotThrow(() => cfg('priority_queue_policy { key: 7 value: { } }'));
});

test('auto-complete fills what config does not say, adapting the batch dimension', () => {
  const derived = {
    platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 4,
    input: [{ name: 'x', data_type: 'TYPE_FP32' as const, format: 'FORMAT_NONE', dims: [3], is_shape_tensor: false, allow_ragged_batch: false, optional: false }],
    output: [{ name: 'y', data_type: 'TYPE_FP32' as const, dims: [2], label_filename: '', is_shape_tensor: false }],
  };
  const none = completeConfig({}, { modelName: 'm', derived, gpu });
  assert.equal(none.platform, 'onnxruntime_onnx');
  assert.equal(none.backend, 'onnxruntime');
  assert.equal(none.max_batch_size, 4);
  assert.deepEqual(none.input[0]!.dims, [3]);
  // The user chose no batching: the model's batch dimension becomes an explicit -1 dim.
  const noBatch = completeConfig(parseConfigText('max_batch_size: 0'), { modelName: 'm', derived, gpu });
  assert.deepEqual(noBatch.input[0]!.dims, [-1, 3]);
  assert.deepEqual(noBatch.output[0]!.dims, [-1, 2]);
  // Listed tensors keep the user's fields; missing type/dims come from the file.
  const partial = completeConfig(parseConfigText('platform: "fake" input [ { name: "x", dims: [ 3 ] } ]'), { modelName: 'm', derived, gpu });
  assert.equal(partial.platform, 'fake');
  assert.equal(partial.input[0]!.data_type, 'TYPE_FP32');
  assert.equal(partial.output[0]!.name, 'y');
});

test('JSON override: snake_case, numbers as strings, unknown fields rejected', () => {
  const p = parseConfigJson('{"max_batch_size":"16","backend":"js","input":[{"name":"x","data_type":"TYPE_INT32","dims":["-1","4"]}],'
    + '"output":[{"name":"y","data_type":"TYPE_INT32","dims":[4]}],"parameters":{"backend":{"string_value":"cpu"}},'
    + '"version_policy":{"specific":{"versions":["2"]}}}');
  const c = completeConfig(p, { modelName: 'm', gpu });
  assert.equal(c.max_batch_size, 16);
  assert.deepEqual(c.input[0]!.dims, [-1, 4]);
  assert.deepEqual(c.parameters, { backend: { string_value: 'cpu' } });
  assert.deepEqual(c.version_policy, { specific: { versions: [2] } });
  assert.throws(() => parseConfigJson('{"max_batch_size":'), /failed to parse model config override JSON/);
  assert.throws(() => parseConfigJson('{"max_batchsize":1}'), /has no field named "max_batchsize"/);
  assert.throws(() => parseConfigJson('{"max_batch_size":"x"}'), /max_batch_size: expected an integer/);
});
