// The success-path request check (isPlainInferRequest) skips io-ts for speed; it must never accept
// a body io-ts would reject, or malformed requests would bypass Triton's error texts. Property test
// with a fixed seed over near-valid infer request bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InferRequest, isPlainInferRequest } from '../../src/http/codecs.js';

const jsonValue = fc.oneof(
  fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, jsonValue, fc.constant(undefined));
const shape = fc.oneof(fc.array(fc.oneof(fc.nat(20), fc.integer({ min: -3, max: 3 }), fc.double(), fc.string({ maxLength: 2 })), { maxLength: 3 }), jsonValue);
const params = fc.oneof(
  fc.dictionary(fc.constantFrom('binary_data_size', 'binary_data', 'classification', 'priority', 'timeout', 'sequence_id', 'x'),
    fc.oneof(fc.nat(100), fc.boolean(), fc.string({ maxLength: 3 }), fc.double(), fc.constant(null), fc.integer({ min: -5, max: -1 })), { maxKeys: 3 }),
  jsonValue,
);
const input = fc.record({
  name: maybe(fc.constantFrom('INPUT0', 'INPUT1')),
  shape: maybe(shape),
  datatype: maybe(fc.constantFrom('INT32', 'FP32', 'BYTES', 'BOOL', 'NOPE')),
  data: maybe(fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 2 }), fc.boolean()), { maxLength: 4 })),
  parameters: maybe(params),
}, { requiredKeys: [] });
const output = fc.record({ name: maybe(fc.constantFrom('OUTPUT0', 'OUTPUT1')), parameters: maybe(params) }, { requiredKeys: [] });
const request = fc.record({
  id: maybe(fc.string({ maxLength: 4 })),
  inputs: maybe(fc.array(fc.oneof(input, jsonValue), { maxLength: 3 })),
  outputs: maybe(fc.array(fc.oneof(output, jsonValue), { maxLength: 2 })),
  parameters: maybe(params),
}, { requiredKeys: [] });

test('isPlainInferRequest accepts nothing that the io-ts InferRequest codec rejects', () => {
  let accepted = 0;
  fc.assert(fc.property(request, (body) => {
    if (isPlainInferRequest(body)) {
      accepted++;
      assert.ok(InferRequest.is(body) || InferRequest.decode(body)._tag === 'Right', `accepted but io-ts rejects: ${JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    }
  }), { seed: 20261125, numRuns: 5000 });
  // The generator must reach the accepting side too, or the property says nothing.
  assert.ok(accepted > 50, `only ${accepted} generated bodies were accepted`);
});
