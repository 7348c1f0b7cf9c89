import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferRequest, RepositoryIndexRequest, UnloadRequest } from '../../src/http/codecs.js';
import { decodeOrThrow } from '../../src/http/decode-error.js';
import { InferenceServerError } from '../../src/runtime/errors.js';
import { parseRequestJson } from '../../src/http/json.js';

function failure(fn: () => unknown): InferenceServerError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InferenceServerError);
    return err;
  }
  assert.fail('expected a decode failure');
}

const infer = (text: string) => decodeOrThrow(InferRequest, parseRequestJson(text));

test('a valid infer request decodes with bigint dims kept exact', () => {
  const r = infer('{"id":"7","inputs":[{"name":"I","datatype":"INT32","shape":[1,1152921504606846978],"data":[]}],"outputs":[{"name":"O","parameters":{"binary_data":true,"classification":3}}]}');
  assert.equal(r.id, '7');
  assert.deepEqual(r.inputs[0]?.shape, [1, 1152921504606846978n]);
  assert.equal(r.outputs?.[0]?.parameters?.classification, 3);
});

test('missing inputs names the member', () => {
  const e = failure(() => infer('{"id":"1"}'));
  assert.equal(e.message, "Unable to parse 'inputs': attempt to access non-existing object member 'inputs'");
  assert.equal(e.code, 'INTERNAL');
});

test('negative dimension is a non-unsigned-integer shape', () => {
  const e = failure(() => infer('{"inputs":[{"name":"I","datatype":"INT32","shape":[2,-5],"data":[]}]}'));
  assert.equal(e.message, "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");
});

test('1.0 is not an unsigned integer (rapidjson typing)', () => {
  const e = failure(() => infer('{"inputs":[{"name":"I","datatype":"INT32","shape":[1.0],"data":[]}]}'));
  assert.match(e.message, /^Unable to parse 'shape': attempt to access JSON non-unsigned-integer/);
});

test('wrong member types use the TritonJson accessor texts', () => {
  assert.equal(failure(() => infer('{"inputs":[{"name":3,"datatype":"INT32","shape":[],"data":[]}]}')).message,
    "Unable to parse 'name': attempt to access JSON non-string as string");
  assert.equal(failure(() => infer('{"inputs":{}}')).message, "Unable to parse 'inputs': attempt to access JSON non-array as array");
  assert.equal(failure(() => infer('{"parameters":{"priority":-1},"inputs":[]}')).message,
    "Unable to parse 'priority': attempt to access JSON non-unsigned-integer as unsigned-integer");
  assert.equal(failure(() => infer('{"parameters":{"sequence_id":true},"inputs":[]}')).message,
    "Unable to parse 'sequence_id': attempt to access JSON non-string as string");
  assert.equal(failure(() => infer('{"inputs":[],"outputs":[{"name":"O","parameters":{"binary_data":1}}]}')).message,
    "Unable to parse 'binary_data': attempt to access JSON non-boolean as boolean");
});

test('repository index ready uses its own wording, 400', () => {
  const e = failure(() => decodeOrThrow(RepositoryIndexRequest, { ready: [[true]] }, {
    code: 'INVALID_ARG', message: (s) => `Invalid value for '${s.field}': expected a boolean`,
  }));
  assert.equal(e.message, "Invalid value for 'ready': expected a boolean");
  assert.equal(e.code, 'INVALID_ARG');
});

test('unload_dependents must be a boolean', () => {
  const e = failure(() => decodeOrThrow(UnloadRequest, { parameters: { unload_dependents: 'yes' } }, { code: 'INVALID_ARG' }));
  assert.equal(e.message, "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean");
});
