// POST .../infer over real HTTP: JSON, binary extension, raw binary, compression, limits, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { binaryBody, int32Bytes, postJson, range, request, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
before(async () => { s = await startTestServer({ maxInputSize: 1 << 20 }); });
after(async () => { await s.close(); });

const INFER = '/v2/models/simple/infer';
const simpleInputs = (a = range(16), b = range(16)) => [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
];
const SUM = '[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32]';
const ZEROS = '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]';
const count = (text: string, needle: string) => text.split(needle).length - 1;

async function expectError(res: Promise<{ status: number; text: string }>, status: number, message: string | RegExp) {
  const r = await res;
  assert.equal(r.status, status, r.text);
  const body = JSON.parse(r.text) as { error: string };
  if (typeof message === 'string') assert.equal(body.error, message);
  else assert.match(body.error, message);
}

test('JSON infer: compact flat outputs, id echoed only when given', async () => {
  const r = await postJson(s.port, INFER, { inputs: simpleInputs() });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.text, `{"model_name":"simple","model_version":"1","outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[1,16],"data":${SUM}},{"name":"OUTPUT1","datatype":"INT32","shape":[1,16],"data":${ZEROS}}]}`);
  const withId = await postJson(s.port, '/v2/models/simple/versions/1/infer?x=1', { id: 'abc', inputs: simpleInputs() });
  assert.ok(withId.text.startsWith('{"id":"abc","model_name":"simple"'));
});

test('nested data and zero-size tensors are accepted', async () => {
  const nested = await postJson(s.port, INFER, { inputs: simpleInputs().map((i) => ({ ...i, data: [i.data] })) });
  assert.equal(nested.status, 200);
  assert.ok(nested.text.includes(SUM));
  const empty = await postJson(s.port, '/v2/models/identity_fp32/infer', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [0], data: [] }] });
  assert.equal(empty.status, 200);
  assert.ok(empty.text.includes('"shape":[0],"data":[]'));
});

test('binary outputs: per output, binary_data_output default, listed outputs stay JSON', async () => {
  const r12 = await postJson(s.port, INFER, { inputs: simpleInputs(), outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: false } }] });
  assert.equal(r12.status, 200);
  assert.equal(r12.headers['content-type'], 'application/octet-stream');
  const hdr = Number(r12.headers['inference-header-content-length']);
  const json = r12.body.subarray(0, hdr).toString();
  assert.ok(json.includes('"name":"OUTPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}'));
  assert.equal(count(json, ZEROS), 1);
  assert.equal(count(json, SUM), 0);
  assert.deepEqual(new Int32Array(new Uint8Array(r12.body.subarray(hdr)).buffer), new Int32Array(range(16).map((x) => 2 * x)));

  const r14 = await postJson(s.port, INFER, { inputs: simpleInputs(), parameters: { binary_data_output: true } });
  const h14 = Number(r14.headers['inference-header-content-length']);
  assert.equal(r14.body.length - h14, 128);
  assert.equal(count(r14.body.subarray(0, h14).toString(), '"data"'), 0);

  // §2 item 15: binary_data_output only applies to outputs the request did not list.
  const r15 = await postJson(s.port, INFER, { inputs: simpleInputs(), parameters: { binary_data_output: true }, outputs: [{ name: 'OUTPUT0', parameters: { binary_data: false } }, { name: 'OUTPUT1' }] });
  assert.equal(r15.headers['inference-header-content-length'], undefined);
  assert.equal(count(r15.text, SUM), 1);
  assert.equal(count(r15.text, ZEROS), 1);
});

test('binary inputs in order after the JSON header, BYTES both ways', async () => {
  const { body, headerLength } = binaryBody({
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
    ],
  }, [int32Bytes(range(16)), int32Bytes(range(16))]);
  const r = await request(s.port, { method: 'POST', path: INFER, body, headers: { 'Inference-Header-Content-Length': headerLength } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.text.includes(SUM));

  const el = Buffer.from('a\0b');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(el.length);
  const bytesReq = binaryBody({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 7 } }], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] }, [len, el]);
  const rb = await request(s.port, { method: 'POST', path: '/v2/models/identity_bytes/infer', body: bytesReq.body, headers: { 'Inference-Header-Content-Length': bytesReq.headerLength } });
  const hb = Number(rb.headers['inference-header-content-length']);
  assert.deepEqual(rb.body.subarray(hb), Buffer.concat([len, el]));

  const js = await postJson(s.port, '/v2/models/identity_bytes/infer', { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 1], data: ['a', 'b'] }] });
  assert.ok(js.text.includes('"datatype":"BYTES","shape":[2,1],"data":["a","b"]'));
});

test('binary framing errors: sizes, header length, missing header', async () => {
  const one = (size: number, extra: Buffer) => binaryBody({ inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: size } },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range(16) },
  ] }, [extra]);
  const short = one(64, Buffer.alloc(60));
  await expectError(request(s.port, { method: 'POST', path: INFER, body: short.body, headers: { 'Inference-Header-Content-Length': short.headerLength } }),
    400, "unexpected size for input 'INPUT0', expecting 4 additional bytes for model 'simple'");
  const long = one(64, Buffer.alloc(70));
  await expectError(request(s.port, { method: 'POST', path: INFER, body: long.body, headers: { 'Inference-Header-Content-Length': long.headerLength } }),
    400, "unexpected additional input data for model 'simple'");
  const mismatch = one(60, Buffer.alloc(60));
  await expectError(request(s.port, { method: 'POST', path: INFER, body: mismatch.body, headers: { 'Inference-Header-Content-Length': mismatch.headerLength } }),
    400, /input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60$/);
  await expectError(request(s.port, { method: 'POST', path: INFER, body: short.body, headers: { 'Inference-Header-Content-Length': '99999999999' } }),
    400, 'Unable to parse Inference-Header-Content-Length, value is out of range [ -2147483648, 2147483647 ], got: 99999999999');
  await expectError(request(s.port, { method: 'POST', path: INFER, body: short.body, headers: { 'Inference-Header-Content-Length': 'abc' } }),
    400, 'Unable to parse Inference-Header-Content-Length, got: abc');
  assert.equal((await request(s.port, { path: '/v2/health/live' })).status, 200);
});

test('raw binary requests: FP32 echo, BYTES [1], chunked, errors', async () => {
  const floats = Buffer.from(new Float32Array(range(8)).buffer);
  const raw = await request(s.port, { method: 'POST', path: '/v2/models/identity_fp32/infer', body: floats, headers: { 'Inference-Header-Content-Length': 0 } });
  assert.equal(raw.status, 200, raw.text);
  const h = Number(raw.headers['inference-header-content-length']);
  assert.deepEqual(raw.body.subarray(h), floats);
  assert.ok(raw.body.subarray(0, h).toString().includes('"shape":[8],"parameters":{"binary_data_size":32}'));

  const chunked = await request(s.port, { method: 'POST', path: '/v2/models/identity_fp32/infer', chunks: [floats.subarray(0, 12), floats.subarray(12)], headers: { 'Inference-Header-Content-Length': 0 } });
  assert.equal(chunked.status, 200);
  assert.deepEqual(chunked.body.subarray(Number(chunked.headers['inference-header-content-length'])), floats);

  const str = await request(s.port, { method: 'POST', path: '/v2/models/identity_bytes/infer', body: '427', headers: { 'Inference-Header-Content-Length': 0 } });
  const hs = Number(str.headers['inference-header-content-length']);
  assert.equal(str.body.subarray(hs + 4).toString(), '427');

  await expectError(request(s.port, { method: 'POST', path: INFER, body: floats, headers: { 'Inference-Header-Content-Length': 0 } }),
    400, "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'simple' model configuration");
});

test('request and response compression', async () => {
  const json = Buffer.from(JSON.stringify({ inputs: simpleInputs() }));
  for (const [enc, fn] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync]] as const) {
    const r = await request(s.port, { method: 'POST', path: INFER, body: fn(json), headers: { 'Content-Encoding': enc, 'Accept-Encoding': enc } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], enc);
    const plain = enc === 'gzip' ? zlib.gunzipSync(r.body) : zlib.inflateSync(r.body);
    assert.ok(plain.toString().includes(SUM));
  }
  // Only inference responses are compressed, as in Triton.
  const meta = await request(s.port, { path: '/v2/models/simple', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(meta.headers['content-encoding'], undefined);
  assert.equal(meta.json<{ name: string }>().name, 'simple');
  await expectError(request(s.port, { method: 'POST', path: INFER, body: json, headers: { 'Content-Encoding': 'br' } }), 501, 'Unsupported compression type');
  // A small gzip body that inflates past the limit is refused, not inflated into memory.
  const bomb = zlib.gzipSync(Buffer.alloc(4 << 20, 0x20));
  const r = await request(s.port, { method: 'POST', path: INFER, body: bomb, headers: { 'Content-Encoding': 'gzip' } });
  assert.equal(r.status, 413);
});

test('JSON request errors: parse, shape, counts, depth, dtype, params, outputs', async () => {
  await expectError(request(s.port, { method: 'POST', path: INFER, body: '{"inputs":[' }), 500, /^failed to parse the request JSON buffer: .* at 11$/);
  await expectError(postJson(s.port, INFER, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range(15) }] }),
    500, "Failed to parse 'data' field: shape does not match true shape");
  await expectError(postJson(s.port, INFER, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range(18) }] }),
    500, "Unable to parse 'data': Shape does not match true shape of 'data' field");
  await expectError(postJson(s.port, INFER, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, -5], data: [] }] }),
    500, "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");
  const deep = (d: number) => `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1],"data":${'['.repeat(d)}1${']'.repeat(d)}}]}`;
  await expectError(request(s.port, { method: 'POST', path: '/v2/models/simple/infer', body: deep(120) }), 400, 'JSON nesting depth exceeds maximum allowed limit (100)');
  await expectError(request(s.port, { method: 'POST', path: INFER, body: `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[16, ${2 ** 60 + 2}],"data":[1]}]}`.replace(`${2 ** 60 + 2}`, '1152921504606846978') }),
    400, /causes total element count to exceed maximum size of/);
  await expectError(request(s.port, { method: 'POST', path: INFER, body: '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[4,1152921504606846978],"data":[1]}]}' }),
    400, /^byte size overflow for input 'INPUT0'/);
  await expectError(postJson(s.port, '/v2/models/identity_fp16/infer', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1], data: [1] }] }),
    400, 'receiving FP16 data via JSON is not supported. Please use the binary data format for input INPUT0');
  await expectError(postJson(s.port, INFER, { inputs: simpleInputs(), parameters: { triton_foo: 1 } }),
    400, "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
  await expectError(postJson(s.port, INFER, { inputs: simpleInputs(), outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }] }),
    400, "[request id: <id_unknown>] output 'OUTPUT0' already exists in request");
  await expectError(postJson(s.port, INFER, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }] }),
    400, "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But no field is set");
  await expectError(postJson(s.port, '/v2/models/wrong_model_name/infer', { inputs: simpleInputs() }), 404, /^Request for unknown model/);
  assert.equal((await request(s.port, { path: '/v2/health/live' })).status, 200);
});

test('parameters and output parameters reach the runtime', async () => {
  await postJson(s.port, INFER, {
    inputs: simpleInputs(), parameters: { priority: 2, custom: 'x', sequence_id: 7, binary_data_output: false },
    outputs: [{ name: 'OUTPUT0', parameters: { classification: 3, binary_data: true } }],
  });
  const req = s.runtime.lastRequest;
  assert.deepEqual(req?.parameters, { priority: 2, custom: 'x', sequence_id: 7 });
  assert.deepEqual(req?.outputs, [{ name: 'OUTPUT0', parameters: { classification: 3 } }]);
  assert.ok(req?.signal instanceof AbortSignal);
});

test('size limits: JSON header and raw body over the limit are 400, far beyond is 413', async () => {
  const big = JSON.stringify({ inputs: simpleInputs(), pad: 'x'.repeat(1 << 20) });
  await expectError(request(s.port, { method: 'POST', path: INFER, body: big }), 400, /^request JSON size of \d+ bytes exceeds the maximum allowed input size of 1048576 bytes/);
  await expectError(request(s.port, { method: 'POST', path: '/v2/models/identity_fp32/infer', body: Buffer.alloc((1 << 20) + 4), headers: { 'Inference-Header-Content-Length': 0 } }),
    400, /^Raw input has a byte_size \(1048580 bytes\) that exceeds the maximum allowed value of 1048576 bytes/);
  const huge = await request(s.port, { method: 'POST', path: INFER, body: Buffer.alloc(3 << 20) });
  assert.equal(huge.status, 413);
  assert.equal((await request(s.port, { path: '/v2/health/live' })).status, 200);
});

test('close() drains in-flight requests before resolving', async () => {
  const d = await startTestServer();
  let release!: () => void;
  d.runtime.gate = new Promise<void>((r) => { release = r; });
  const inflight = postJson(d.port, INFER, { inputs: simpleInputs() });
  while (d.runtime.lastRequest === undefined) await new Promise((r) => setImmediate(r));
  let closed = false;
  const closing = d.close().then(() => { closed = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false);
  release();
  const r = await inflight;
  await closing;
  assert.equal(r.status, 200);
  assert.ok(r.text.includes(SUM));
  assert.equal(closed, true);
});
