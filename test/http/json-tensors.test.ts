import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJsonTensor, jsonOutputData } from '../../src/http/json-tensors.js';
import { parseRequestJson } from '../../src/http/json.js';
import { InferenceServerError } from '../../src/runtime/errors.js';

const MAX = 64 * 1024 * 1024;
const decode = (text: string, max = MAX) => decodeJsonTensor(parseRequestJson(text) as Parameters<typeof decodeJsonTensor>[0], max);

function err(fn: () => unknown): InferenceServerError {
  try { fn(); } catch (e) { assert.ok(e instanceof InferenceServerError, String(e)); return e; }
  assert.fail('expected an error');
}

test('flat and nested data decode row-major into typed arrays', () => {
  const flat = decode('{"name":"I","datatype":"INT32","shape":[2,2],"data":[1,2,3,4]}');
  const nested = decode('{"name":"I","datatype":"INT32","shape":[2,2],"data":[[1,2],[3,4]]}');
  assert.ok(flat.data instanceof Int32Array);
  assert.deepEqual([...(nested.data as Int32Array)], [1, 2, 3, 4]);
  assert.deepEqual(flat.data, nested.data);
  assert.deepEqual(flat.shape, [2, 2]);
});

test('element JSON types are strict per datatype', () => {
  assert.equal(err(() => decode('{"name":"I","datatype":"INT32","shape":[1],"data":[1.0]}')).message,
    "Unable to parse 'data': attempt to access JSON non-signed-integer as signed-integer");
  assert.equal(err(() => decode('{"name":"I","datatype":"UINT8","shape":[1],"data":[-1]}')).message,
    "Unable to parse 'data': attempt to access JSON non-unsigned-integer as unsigned-integer");
  assert.equal(err(() => decode('{"name":"I","datatype":"BOOL","shape":[1],"data":[1]}')).message,
    "Unable to parse 'data': attempt to access JSON non-boolean as boolean");
  assert.equal(err(() => decode('{"name":"I","datatype":"BYTES","shape":[1],"data":[1]}')).message,
    "Unable to parse 'data': attempt to access JSON non-string as string");
  assert.equal(err(() => decode('{"name":"I","datatype":"FP32","shape":[1],"data":["1"]}')).message,
    "Unable to parse 'data': attempt to access JSON non-number as double");
  assert.equal(err(() => decode('{"name":"I","datatype":"INT32","shape":[1],"data":[1.5]}')).code, 'INTERNAL');
});

test('FP accepts any number, BOOL/BYTES/INT64/UINT64 decode exactly', () => {
  assert.deepEqual([...(decode('{"name":"I","datatype":"FP64","shape":[3],"data":[1.0,2,0.5]}').data as Float64Array)], [1, 2, 0.5]);
  assert.deepEqual([...(decode('{"name":"I","datatype":"BOOL","shape":[2],"data":[true,false]}').data as Uint8Array)], [1, 0]);
  const bytes = decode('{"name":"I","datatype":"BYTES","shape":[2],"data":["a","é"]}').data as Uint8Array[];
  assert.deepEqual(bytes.map((b) => [...b]), [[0x61], [0xc3, 0xa9]]);
  const i64 = decode('{"name":"I","datatype":"INT64","shape":[2],"data":[9223372036854775807,-3]}').data as BigInt64Array;
  assert.deepEqual([...i64], [9223372036854775807n, -3n]);
  const u64 = decode('{"name":"I","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}').data as BigUint64Array;
  assert.deepEqual([...u64], [18446744073709551615n]);
});

test('too few and too many elements use Triton texts (500)', () => {
  const few = err(() => decode('{"name":"I","datatype":"INT32","shape":[1,16],"data":[1,2]}'));
  assert.equal(few.message, "Failed to parse 'data' field: shape does not match true shape");
  assert.equal(few.code, 'INTERNAL');
  const many = err(() => decode('{"name":"I","datatype":"INT32","shape":[1,2],"data":[1,2,3]}'));
  assert.equal(many.message, "Unable to parse 'data': Shape does not match true shape of 'data' field");
});

test('nesting depth above 100 is rejected, 50 is fine', () => {
  const nested = (depth: number) => '['.repeat(depth) + '1' + ']'.repeat(depth);
  assert.equal(decode(`{"name":"I","datatype":"INT32","shape":[1],"data":${nested(50)}}`).data.length, 1);
  const e = err(() => decode(`{"name":"I","datatype":"INT32","shape":[1],"data":${nested(120)}}`));
  assert.equal(e.message, 'JSON nesting depth exceeds maximum allowed limit (100)');
});

test('zero-size tensors do not read data', () => {
  const t = decode('{"name":"I","datatype":"INT32","shape":[1,0],"data":"ignored"}');
  assert.deepEqual(t.shape, [1, 0]);
  assert.equal(t.data.length, 0);
});

test('FP16/BF16 in JSON and unknown datatypes are 400', () => {
  const e = err(() => decode('{"name":"INPUT0","datatype":"FP16","shape":[1],"data":[1]}'));
  assert.equal(e.message, 'receiving FP16 data via JSON is not supported. Please use the binary data format for input INPUT0');
  assert.equal(e.code, 'INVALID_ARG');
  assert.equal(err(() => decode('{"name":"INPUT0","datatype":"FP8","shape":[1],"data":[1]}')).message, 'invalid datatype for input INPUT0');
});

test('shape overflow: element count and byte size', () => {
  const count = err(() => decode('{"name":"I","datatype":"INT32","shape":[16,1152921504606846978],"data":[1]}'));
  assert.match(count.message, /^invalid shape for input 'I': shape \[16,1152921504606846978\] causes total element count to exceed maximum size of 9223372036854775807$/);
  assert.equal(count.code, 'INVALID_ARG');
  const bytes = err(() => decode('{"name":"I","datatype":"INT32","shape":[4,1152921504606846978],"data":[1]}'));
  assert.match(bytes.message, /^byte size overflow for input 'I'/);
});

test('JSON input byte size is checked against the limit before allocating', () => {
  const e = err(() => decode('{"name":"I","datatype":"FP32","shape":[1000000000],"data":[1]}', 1024));
  assert.equal(e.message, "JSON input 'I' has a byte_size (4000000000 bytes) that exceeds the maximum allowed value of 1024 bytes. Use --http-max-input-size to increase the limit.");
});

test('output data: flat, compact, FP32 widened, BOOL as booleans, NaN as null', () => {
  assert.equal(jsonOutputData({ name: 'O', datatype: 'INT32', shape: [2, 2], data: new Int32Array([1, -2, 3, 4]) }), '[1,-2,3,4]');
  assert.equal(jsonOutputData({ name: 'O', datatype: 'FP32', shape: [1], data: new Float32Array([0.1]) }), '[0.10000000149011612]');
  assert.equal(jsonOutputData({ name: 'O', datatype: 'FP32', shape: [2], data: new Float32Array([NaN, 1]) }), '[null,1]');
  assert.equal(jsonOutputData({ name: 'O', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }), '[true,false]');
  assert.equal(jsonOutputData({ name: 'O', datatype: 'INT64', shape: [1], data: new BigInt64Array([-9223372036854775808n]) }), '[-9223372036854775808]');
  assert.equal(jsonOutputData({ name: 'O', datatype: 'BYTES', shape: [2], data: [Buffer.from('a"b'), Buffer.from('')] }), '["a\\"b",""]');
  assert.throws(() => jsonOutputData({ name: 'O', datatype: 'FP16', shape: [1], data: new Uint16Array(1) }),
    /sending FP16 data via JSON is not supported. Please use the binary data format for output O/);
});
