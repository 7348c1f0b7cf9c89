import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonDouble, JsonSyntaxError, parseJsonExact, parseRequestJson } from '../../src/http/json.js';

test('plain JSON takes the fast path with the same result as JSON.parse', () => {
  const text = '{"inputs":[{"name":"I","shape":[1,2],"data":[1,-2]}],"id":"x"}';
  assert.deepEqual(parseRequestJson(text), JSON.parse(text));
});

test('integral doubles stay doubles and 64-bit integers stay exact', () => {
  const v = parseRequestJson('{"a":[1.0,2e3,1.5,9007199254740993,-9223372036854775808,18446744073709551615,18446744073709551616]}') as { a: unknown[] };
  assert.ok(v.a[0] instanceof JsonDouble && v.a[0].value === 1);
  assert.ok(v.a[1] instanceof JsonDouble && v.a[1].value === 2000);
  assert.equal(v.a[2], 1.5);
  assert.equal(v.a[3], 9007199254740993n);
  assert.equal(v.a[4], -9223372036854775808n);
  assert.equal(v.a[5], 18446744073709551615n);
  // Beyond uint64 rapidjson falls back to a double.
  assert.ok(v.a[6] instanceof JsonDouble);
});

test('strings with escapes and a __proto__ key parse as JSON.parse does', () => {
  const text = '{"s":"a\\"b\\\\c\\u00e9\\n","__proto__":{"x":1.0}}';
  const v = parseJsonExact(text) as Record<string, unknown>;
  assert.equal(v.s, 'a"b\\c\u00e9\n');
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.ok(Object.hasOwn(v, '__proto__'));
});

test('syntax errors carry rapidjson messages and byte offsets', () => {
  const cases: [string, string][] = [
    ['', 'The document is empty. at 0'],
    ['{"a":}', 'Invalid value. at 5'],
    ['{"a":1', "Missing a comma or '}' after an object member. at 6"],
    ['[1 2]', "Missing a comma or ']' after an array element. at 3"],
    ['{1:2}', 'Missing a name for object member. at 1'],
    ['{"a" 1}', 'Missing a colon after a name of object member. at 5'],
    ['{"é":1.}', 'Miss fraction part in number. at 8'],
    ['{} x', 'The document root must not be followed by other values. at 3'],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseRequestJson(text), (err: unknown) => {
      assert.ok(err instanceof JsonSyntaxError);
      assert.equal(err.message, `failed to parse the request JSON buffer: ${expected}`);
      assert.equal(err.code, 'INTERNAL');
      return true;
    }, text);
  }
});

test('deep nesting does not overflow the stack', () => {
  const depth = 20000;
  const v = parseJsonExact('['.repeat(depth) + '1.0' + ']'.repeat(depth));
  let cur: unknown = v;
  for (let i = 0; i < depth; i++) cur = (cur as unknown[])[0];
  assert.ok(cur instanceof JsonDouble);
});
