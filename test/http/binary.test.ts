import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BinaryCursor, binaryOutputBytes, decodeBinaryTensor, decodeRawInput, parseInferHeaderLength, splitBytesElements,
} from '../../src/http/binary.js';
import { decodeInferBody, encodeInferResponse } from '../../src/http/infer-codec.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import { FakeRuntime } from './fake-runtime.js';
import { binaryBody, int32Bytes, range } from './helpers.js';

function err(fn: () => unknown): InferenceServerError {
  try { fn(); } catch (e) { assert.ok(e instanceof InferenceServerError, String(e)); return e; }
  assert.fail('expected an error');
}

test('Inference-Header-Content-Length parsing follows Triton texts', () => {
  assert.equal(parseInferHeaderLength(undefined, 10), undefined);
  assert.equal(parseInferHeaderLength('0', 10), 0);
  assert.equal(parseInferHeaderLength('7', 10), 7);
  assert.equal(err(() => parseInferHeaderLength('abc', 10)).message, 'Unable to parse Inference-Header-Content-Length, got: abc');
  assert.equal(err(() => parseInferHeaderLength('99999999999', 10)).message,
    'Unable to parse Inference-Header-Content-Length, value is out of range [ -2147483648, 2147483647 ], got: 99999999999');
  assert.equal(err(() => parseInferHeaderLength('11', 10)).message, 'inference header size should be in range (0, 10), got: 11');
  assert.equal(err(() => parseInferHeaderLength('-1', 10)).code, 'INVALID_ARG');
});

test('binary cursor: too few bytes and leftover bytes', () => {
  const c = new BinaryCursor(Buffer.alloc(10), 2, 'simple');
  assert.equal(c.take('A', 4).length, 4);
  assert.equal(err(() => c.take('B', 8)).message, "unexpected size for input 'B', expecting 4 additional bytes for model 'simple'");
  const d = new BinaryCursor(Buffer.alloc(10), 2, 'simple');
  d.take('A', 4);
  assert.equal(err(() => d.finish()).message, "unexpected additional input data for model 'simple'");
});

test('fixed-size tensors decode from unaligned offsets and check byte size', () => {
  const buf = Buffer.concat([Buffer.from([9]), int32Bytes([1, 2, 3])]);
  const t = decodeBinaryTensor({ name: 'I', datatype: 'INT32', shape: [3], model: 'm' }, buf.subarray(1));
  assert.deepEqual([...(t.data as Int32Array)], [1, 2, 3]);
  const e = err(() => decodeBinaryTensor({ name: 'INPUT0', datatype: 'INT32', shape: [8], model: 'm' }, Buffer.alloc(40)));
  assert.equal(e.message, "[request id: <id_unknown>] input byte size mismatch for input 'INPUT0' for model 'm'. Expected 32, got 40");
});

test('BYTES elements are length-prefixed and counted against the shape', () => {
  const el = (s: string) => { const b = Buffer.from(s); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); return Buffer.concat([h, b]); };
  const spec = { name: 'IN', datatype: 'BYTES' as const, shape: [2], model: 'm', id: '5' };
  const two = Buffer.concat([el('a\0b'), el('')]);
  assert.deepEqual(splitBytesElements(spec, two, 2).map((b) => Buffer.from(b).toString()), ['a\0b', '']);
  assert.equal(err(() => splitBytesElements(spec, two, 3)).message, "[request id: 5] expected 3 string elements for inference input 'IN' for model 'm', got 2");
  assert.equal(err(() => splitBytesElements(spec, two, 1)).message, "[request id: 5] unexpected number of string elements 2 for inference input 'IN' for model 'm', expecting 1");
  assert.match(err(() => splitBytesElements(spec, Buffer.alloc(2), 1)).message, /incomplete string length indicator for inference input 'IN'/);
});

test('raw requests deduce the single input from the config', () => {
  const rt = new FakeRuntime();
  const fp = decodeRawInput(rt.modelConfig('identity_fp32'), Buffer.from(new Float32Array([1, 2, 3]).buffer), 1 << 20);
  assert.deepEqual(fp.shape, [3]);
  assert.deepEqual([...(fp.data as Float32Array)], [1, 2, 3]);
  const bytes = decodeRawInput(rt.modelConfig('identity_bytes'), Buffer.from('427'), 1 << 20);
  assert.deepEqual(bytes.shape, [1, 1]);
  assert.equal(err(() => decodeRawInput(rt.modelConfig('simple'), Buffer.alloc(64), 1 << 20)).message,
    "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'simple' model configuration");
  const two = { ...rt.modelConfig('identity_fp32'), input: [{ ...rt.modelConfig('identity_fp32').input[0]!, dims: [-1, -1] }] };
  assert.equal(err(() => decodeRawInput(two, Buffer.alloc(8), 1 << 20)).message,
    "The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension");
  const bytesVar = { ...rt.modelConfig('identity_bytes'), input: [{ ...rt.modelConfig('identity_bytes').input[0]!, dims: [-1] }] };
  assert.equal(err(() => decodeRawInput(bytesVar, Buffer.alloc(8), 1 << 20)).message,
    "For BYTE datatype raw input 'INPUT0', the model must have input shape [1]");
  assert.match(err(() => decodeRawInput(rt.modelConfig('identity_fp32'), Buffer.alloc(16), 8)).message,
    /^Raw input has a byte_size \(16 bytes\) that exceeds the maximum allowed value of 8 bytes/);
});

test('request framing: JSON header then inputs in order; binary outputs appended', () => {
  const rt = new FakeRuntime();
  const { body, headerLength } = binaryBody({
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range(16) },
    ],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1' }],
  }, [int32Bytes(range(16))]);
  const decoded = decodeInferBody(body, headerLength, { model: 'simple' }, rt, 1 << 20);
  assert.deepEqual([...(decoded.request.inputs[0]!.data as Int32Array)], range(16));
  const out = encodeInferResponse({
    model_name: 'simple', model_version: '1',
    outputs: [
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 2], data: new Int32Array([5, 6]) },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 2], data: new Int32Array([7, 8]) },
    ],
  }, decoded);
  assert.equal(out.json.toString(), '{"model_name":"simple","model_version":"1","outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[1,2],"parameters":{"binary_data_size":8}},{"name":"OUTPUT1","datatype":"INT32","shape":[1,2],"data":[7,8]}]}');
  assert.deepEqual(Buffer.concat(out.binary), int32Bytes([5, 6]));
});

test('binary input without the header length is rejected', () => {
  const rt = new FakeRuntime();
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }] }));
  assert.equal(err(() => decodeInferBody(body, undefined, { model: 'simple' }, rt, 1 << 20)).message,
    "must specify valid 'Infer-Header-Content-Length' in request header and 'binary_data_size' when passing inputs in binary data format");
});

test('BYTES output bytes carry 4-byte little-endian lengths', () => {
  const b = binaryOutputBytes({ name: 'O', datatype: 'BYTES', shape: [2], data: [Buffer.from('hi'), Buffer.from('')] });
  assert.deepEqual([...b], [2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0]);
});
