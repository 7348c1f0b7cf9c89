import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePbtxt, PbIdent, PbMessage, PbtxtError } from '../../src/runtime/config/pbtxt.js';
import { parseConfigText } from '../../src/runtime/config/normalize.js';

test('scalars, enums, negative ints, floats, bools and lists', () => {
  const m = parsePbtxt(`
    name: "simple"   # trailing comment
    max_batch_size: -3
    f: 1.5e3
    g: .25f
    h: 0x1F
    on: true
    kind: KIND_GPU
    dims: [ -1, 16 ]
    empty: []
  `);
  assert.deepEqual(m.fields.get('name'), ['simple']);
  assert.deepEqual(m.fields.get('max_batch_size'), [-3]);
  assert.deepEqual(m.fields.get('f'), [1500]);
  assert.deepEqual(m.fields.get('g'), [0.25]);
  assert.deepEqual(m.fields.get('h'), [31]);
  assert.ok(m.fields.get('on')![0] instanceof PbIdent);
  assert.equal((m.fields.get('kind')![0] as PbIdent).name, 'KIND_GPU');
  assert.deepEqual(m.fields.get('dims'), [-1, 16]);
  assert.equal(m.fields.has('empty'), false);
});

test('string escapes in single and double quotes, adjacent literals concatenate', () => {
  const m = parsePbtxt(`a: "x\\"y\\n\\t\\\\z" b: 'it\\'s' c: "\\x41\\101\\u00e9" d: "ab" 'cd'`);
  assert.deepEqual(m.fields.get('a'), ['x"y\n\t\\z']);
  assert.deepEqual(m.fields.get('b'), ["it's"]);
  assert.deepEqual(m.fields.get('c'), ['AAé']);
  assert.deepEqual(m.fields.get('d'), ['abcd']);
});

test('nested messages with {} and <>, with and without colon, repeated blocks and lists', () => {
  const m = parsePbtxt(`
    input [ { name: "A" }, { name: "B" } ]
    input { name: "C" }
    output: < name: "O"; dims: 3 dims: 4 >
  `);
  const inputs = m.fields.get('input')!;
  assert.equal(inputs.length, 3);
  assert.deepEqual(inputs.map((i) => (i as PbMessage).fields.get('name')![0]), ['A', 'B', 'C']);
  const out = m.fields.get('output')![0] as PbMessage;
  assert.deepEqual(out.fields.get('dims'), [3, 4]);
});

test('errors carry line:column', () => {
  assert.throws(() => parsePbtxt('name: "a"\n  dims: [1, 2\n'), (e: unknown) => {
    assert.ok(e instanceof PbtxtError);
    assert.equal(e.line, 3);
    assert.match(e.message, /^3:1: expected ',' or '\]'/);
    return true;
  });
  assert.throws(() => parsePbtxt('a {\n  b: 1\n'), /3:1: expected '}' but found end of input/);
  assert.throws(() => parsePbtxt('x: "abc'), /1:4: unterminated string/);
  assert.throws(() => parsePbtxt('x: 1\n y $'), /2:4: unexpected character '\$'/);
  assert.throws(() => parsePbtxt('x: 1\n y 2'), /2:4: expected ':' or '\{' after field 'y'/);
});

test('simple Triton config', () => {
  const c = parseConfigText(`
name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "INPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
  }
]
output [
  { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 16 ] },
  { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 16 ] }
]`);
  assert.equal(c.max_batch_size, 8);
  assert.deepEqual(c.input, [
    { name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] },
    { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] },
  ]);
  assert.equal((c.output as unknown[]).length, 2);
});

test('densenet onnx with label_filename and reshape', () => {
  const c = parseConfigText(`
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output [
  {
    name: "fc6_1"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    reshape { shape: [ 1, 1000, 1, 1 ] }
    label_filename: "densenet_labels.txt"
  }
]`);
  const input = (c.input as Record<string, unknown>[])[0]!;
  assert.equal(input.format, 'FORMAT_NCHW');
  assert.deepEqual(input.reshape, { shape: [1, 3, 224, 224] });
  assert.equal((c.output as Record<string, unknown>[])[0]!.label_filename, 'densenet_labels.txt');
});

test('dynamic batching with preferred sizes and queue policy; instance groups', () => {
  const c = parseConfigText(`
name: "m"
backend: "onnxruntime"
max_batch_size: 16
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  preserve_ordering: true
  default_queue_policy {
    timeout_action: REJECT
    default_timeout_microseconds: 50000
    allow_timeout_override: true
    max_queue_size: 32
  }
}
instance_group [
  { count: 2, kind: KIND_GPU, gpus: [ 0, 1 ] },
  { name: "cpu_pool" count: 1 kind: KIND_CPU }
]`);
  assert.deepEqual(c.dynamic_batching, {
    preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100, preserve_ordering: true,
    default_queue_policy: {
      timeout_action: 'REJECT', default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 32,
    },
  });
  assert.deepEqual(c.instance_group, [
    { count: 2, kind: 'KIND_GPU', gpus: [0, 1] },
    { name: 'cpu_pool', count: 1, kind: 'KIND_CPU' },
  ]);
});

test('version policy variants', () => {
  assert.deepEqual(parseConfigText('version_policy: { all { }}').version_policy, { all: {} });
  assert.deepEqual(parseConfigText('version_policy: { latest { num_versions: 2 }}').version_policy,
    { latest: { num_versions: 2 } });
  assert.deepEqual(parseConfigText('version_policy { specific { versions: [1, 3] }}').version_policy,
    { specific: { versions: [1, 3] } });
  assert.deepEqual(parseConfigText('version_policy { specific { versions: 1 versions: 3 }}').version_policy,
    { specific: { versions: [1, 3] } });
});

test('parameters map entries', () => {
  const c = parseConfigText(`
parameters { key: "backend" value: { string_value: "wasm" } }
parameters [
  { key: "EXECUTION_ENV_PATH", value: { string_value: "$$TRITON_MODEL_DIRECTORY/env.tar.gz" } }
]`);
  assert.deepEqual(c.parameters, {
    backend: { string_value: 'wasm' },
    EXECUTION_ENV_PATH: { string_value: '$$TRITON_MODEL_DIRECTORY/env.tar.gz' },
  });
});

test('sequence batching and fields dawnserve accepts without executing', () => {
  const c = parseConfigText(`
name: "seq"
backend: "js"
max_batch_size: 2
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START, fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY, fp32_false_true: [ 0, 1 ] } ] }
  ]
  oldest { max_candidate_sequences: 4 }
}
optimization { execution_accelerators { gpu_execution_accelerator : [ { name : "tensorrt" } ] } }
model_warmup [ { name: "w", batch_size: 1 } ]`);
  const sb = c.sequence_batching as Record<string, unknown>;
  assert.equal(sb.max_sequence_idle_microseconds, 5000000);
  assert.equal((sb.control_input as unknown[]).length, 2);
  assert.deepEqual(sb.oldest, { max_candidate_sequences: 4 });
});

test('schema errors: unknown field, bad enum, wrong scalar type', () => {
  assert.throws(() => parseConfigText('nmae: "x"'), /has no field named "nmae"/);
  assert.throws(() => parseConfigText('input { name: "a" data_type: TYPE_FLOAT }'),
    /input.data_type: unknown value TYPE_FLOAT/);
  assert.throws(() => parseConfigText('max_batch_size: "8"'), /max_batch_size: expected an integer/);
  assert.throws(() => parseConfigText('name: simple'), /name: expected a quoted string/);
  assert.throws(() => parseConfigText('name: "x"\ninput [ { name: "a" '), /failed to read text proto from config.pbtxt: 2:/);
});
