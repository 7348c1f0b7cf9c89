// Triton protocol conformance (reference notes §2) over real HTTP, against the real runtime
// serving the bundled models. Messages are compared with Triton's texts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, gunzipSync } from 'node:zlib';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { bundledModels } from '../helpers/paths.js';

let server: RunningServer;
let base: string;

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
    backend: 'cpu', logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['simple', 'simple_string', 'simple_identity'],
  });
  base = `http://127.0.0.1:${server.httpPort}`;
});
after(async () => { await server.close(); });

const seq = Array.from({ length: 16 }, (_, i) => i + 1);
const ones = Array.from({ length: 16 }, () => 1);

function simpleBody(a: number[] = seq, b: number[] = seq, extra: Record<string, unknown> = {}) {
  return {
    inputs: [
      { name: 'INPUT0', shape: [1, a.length], datatype: 'INT32', data: a },
      { name: 'INPUT1', shape: [1, b.length], datatype: 'INT32', data: b },
    ],
    ...extra,
  };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST', body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body), headers,
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, buf, text: buf.toString('utf8') };
}

async function get(path: string) {
  const res = await fetch(base + path);
  return { status: res.status, text: await res.text() };
}

const errorOf = (text: string): string => (JSON.parse(text) as { error: string }).error;

test('health: live and ready answer 200 with an empty body; POST is 405; trailing slash is 404', async () => {
  assert.deepEqual(await get('/v2/health/live'), { status: 200, text: '' });
  assert.deepEqual(await get('/v2/health/ready'), { status: 200, text: '' });
  const p = await post('/v2/health/live', '');
  assert.equal(p.status, 405);
  assert.equal(errorOf(p.text), 'Method Not Allowed');
  const slash = await get('/v2/health/live/');
  assert.equal(slash.status, 404);
  assert.equal(errorOf(slash.text), 'Not Found');
  assert.equal((await get('/v2/foo')).status, 404);
});

test('server metadata names itself triton and lists binary_tensor_data', async () => {
  const r = await get('/v2');
  assert.equal(r.status, 200);
  const meta = JSON.parse(r.text) as { name: string; version: string; extensions: string[] };
  assert.equal(meta.name, 'triton');
  assert.equal(typeof meta.version, 'string');
  assert.ok(meta.extensions.includes('binary_tensor_data'));
  assert.ok(meta.extensions.includes('model_repository'));
});

test('model metadata, config and readiness of simple', async () => {
  const r = await get('/v2/models/simple');
  assert.equal(r.status, 200);
  const meta = JSON.parse(r.text) as { name: string; versions: string[]; inputs: { name: string; datatype: string; shape: number[] }[] };
  assert.equal(meta.name, 'simple');
  assert.deepEqual(meta.versions, ['1']);
  assert.deepEqual(meta.inputs[0], { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] });
  const cfg = JSON.parse((await get('/v2/models/simple/config')).text) as { max_batch_size: number; input: { data_type: string; dims: number[] }[] };
  assert.equal(cfg.max_batch_size, 8);
  assert.equal(cfg.input[0]!.data_type, 'TYPE_INT32');
  assert.deepEqual(cfg.input[0]!.dims, [16]);
  assert.equal((await get('/v2/models/simple/ready')).status, 200);
  assert.notEqual((await get('/v2/models/simple/versions/2/ready')).status, 200);
});

test('unknown model and version answer 404 with Triton texts', async () => {
  const m = await get('/v2/models/foo');
  assert.equal(m.status, 404);
  assert.ok(errorOf(m.text).startsWith("Request for unknown model: 'foo' is not found"));
  const v = await get('/v2/models/simple/versions/99');
  assert.equal(v.status, 404);
  assert.equal(errorOf(v.text), "Request for unknown model: 'simple' version 99 is not found");
  const i = await post('/v2/models/wrong_model_name/infer', simpleBody());
  assert.equal(i.status, 404);
  assert.ok(errorOf(i.text).startsWith('Request for unknown model'));
});

test('JSON infer on simple gives compact flat sums and differences', async () => {
  const r = await post('/v2/models/simple/infer', simpleBody());
  assert.equal(r.status, 200);
  assert.ok(r.text.includes('[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32]'));
  assert.ok(r.text.includes('[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'));
  const body = JSON.parse(r.text) as { model_name: string; model_version: string; id?: string };
  assert.equal(body.model_name, 'simple');
  assert.equal(body.model_version, '1');
  assert.equal(body.id, undefined);
  const withId = JSON.parse((await post('/v2/models/simple/infer', simpleBody(seq, ones, { id: '42' }))).text) as { id: string };
  assert.equal(withId.id, '42');
});

test('nested data and batch of two are accepted', async () => {
  const r = await post('/v2/models/simple/infer', {
    inputs: [
      { name: 'INPUT0', shape: [2, 16], datatype: 'INT32', data: [seq, seq] },
      { name: 'INPUT1', shape: [2, 16], datatype: 'INT32', data: [ones, ones] },
    ],
  });
  assert.equal(r.status, 200);
  const out = JSON.parse(r.text) as { outputs: { name: string; shape: number[]; data: number[] }[] };
  assert.deepEqual(out.outputs[0]!.shape, [2, 16]);
  assert.deepEqual(out.outputs[1]!.data.slice(0, 3), [0, 1, 2]);
});

test('binary output for OUTPUT0, JSON for OUTPUT1', async () => {
  const r = await post('/v2/models/simple/infer', simpleBody(seq, seq, {
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: false } }],
  }));
  assert.equal(r.status, 200);
  const hdr = Number(r.headers.get('inference-header-content-length'));
  assert.ok(hdr > 0);
  const json = JSON.parse(r.buf.subarray(0, hdr).toString()) as { outputs: { name: string; parameters?: { binary_data_size: number }; data?: number[] }[] };
  assert.equal(json.outputs[0]!.parameters?.binary_data_size, 64);
  assert.equal(json.outputs[0]!.data, undefined);
  assert.deepEqual(json.outputs[1]!.data, Array(16).fill(0));
  const bin = new Int32Array(r.buf.buffer.slice(r.buf.byteOffset + hdr, r.buf.byteOffset + hdr + 64));
  assert.deepEqual([...bin], seq.map((x) => 2 * x));
});

test('binary_data_output applies to unlisted outputs only', async () => {
  const all = await post('/v2/models/simple/infer', simpleBody(seq, seq, { parameters: { binary_data_output: true } }));
  const hdr = Number(all.headers.get('inference-header-content-length'));
  const json = all.buf.subarray(0, hdr).toString();
  assert.ok(!json.includes('[2,4,6'));
  assert.equal(all.buf.length, hdr + 128);
  const listed = await post('/v2/models/simple/infer', simpleBody(seq, seq, {
    parameters: { binary_data_output: true }, outputs: [{ name: 'OUTPUT0', parameters: { binary_data: false } }, { name: 'OUTPUT1' }],
  }));
  assert.ok(listed.text.includes('[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32]'));
  assert.ok(listed.text.includes('[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'));
});

test('binary inputs with Inference-Header-Content-Length', async () => {
  const header = Buffer.from(JSON.stringify({
    inputs: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
      { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
    ],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: false } }],
  }));
  const a = Buffer.from(new Int32Array(seq).buffer);
  const b = Buffer.from(new Int32Array(ones).buffer);
  const r = await post('/v2/models/simple/infer', Buffer.concat([header, a, b]), {
    'Inference-Header-Content-Length': String(header.length), 'Content-Type': 'application/octet-stream',
  });
  assert.equal(r.status, 200, r.text);
  const out = JSON.parse(r.text) as { outputs: { name: string; data: number[] }[] };
  assert.equal(out.outputs.length, 1);
  assert.deepEqual(out.outputs[0]!.data, seq.map((x) => x + 1));
  const short = await post('/v2/models/simple/infer', Buffer.concat([header, a]), { 'Inference-Header-Content-Length': String(header.length) });
  assert.equal(short.status, 400);
  assert.match(errorOf(short.text), /unexpected size for input 'INPUT1', expecting 64 additional bytes/);
  const long = await post('/v2/models/simple/infer', Buffer.concat([header, a, b, b]), { 'Inference-Header-Content-Length': String(header.length) });
  assert.equal(long.status, 400);
  assert.match(errorOf(long.text), /unexpected additional input data for model 'simple'/);
});

test('gzip request and response encodings', async () => {
  const r = await fetch(`${base}/v2/models/simple/infer`, {
    method: 'POST', body: gzipSync(Buffer.from(JSON.stringify(simpleBody()))),
    headers: { 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' },
  });
  assert.equal(r.status, 200);
  // fetch decompresses transparently; the header tells that the server compressed.
  assert.equal(r.headers.get('content-encoding'), 'gzip');
  assert.ok((await r.text()).includes('[2,4,6,8'));
  assert.ok(gunzipSync(gzipSync('x')).length === 1);
});

test('BYTES models: simple_string and simple_identity', async () => {
  const strs = seq.map(String);
  const r = await post('/v2/models/simple_string/infer', {
    inputs: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'BYTES', data: strs },
      { name: 'INPUT1', shape: [1, 16], datatype: 'BYTES', data: Array(16).fill('1') },
    ],
  });
  assert.equal(r.status, 200, r.text);
  const out = JSON.parse(r.text) as { outputs: { name: string; datatype: string; data: string[] }[] };
  assert.equal(out.outputs[0]!.datatype, 'BYTES');
  assert.deepEqual(out.outputs[0]!.data, seq.map((x) => String(x + 1)));
  assert.deepEqual(out.outputs[1]!.data, seq.map((x) => String(x - 1)));
  const id = await post('/v2/models/simple_identity/infer', {
    inputs: [{ name: 'INPUT0', shape: [1, 2], datatype: 'BYTES', data: ['a', 'héllo'] }],
  });
  assert.equal(id.status, 200, id.text);
  assert.deepEqual((JSON.parse(id.text) as { outputs: { data: string[] }[] }).outputs[0]!.data, ['a', 'héllo']);
});

test('data count mismatches use Triton texts', async () => {
  const few = await post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: seq.slice(0, 15) }] });
  assert.ok(few.status >= 400);
  assert.equal(few.text, '{"error":"Failed to parse \'data\' field: shape does not match true shape"}');
  const many = await post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: [...seq, 1, 2] }] });
  assert.ok(many.status >= 400);
  assert.equal(many.text, '{"error":"Unable to parse \'data\': Shape does not match true shape of \'data\' field"}');
});

test('semantic validation errors are 400 with core texts', async () => {
  const missing = await post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: seq }] });
  assert.equal(missing.status, 400);
  assert.ok(errorOf(missing.text).includes("expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s)."));
  const dtype = await post('/v2/models/simple/infer', {
    inputs: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'FP32', data: seq },
      { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: seq },
    ],
  });
  assert.equal(dtype.status, 400);
  assert.ok(errorOf(dtype.text).includes("data-type is 'FP32', but model 'simple' expects 'INT32'"));
  const shape = await post('/v2/models/simple/infer', simpleBody(seq.slice(0, 15), seq.slice(0, 15)));
  assert.equal(shape.status, 400);
  assert.ok(errorOf(shape.text).includes("unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,15]"));
  const big = Array.from({ length: 9 }, () => seq);
  const batch = await post('/v2/models/simple/infer', {
    inputs: [
      { name: 'INPUT0', shape: [9, 16], datatype: 'INT32', data: big },
      { name: 'INPUT1', shape: [9, 16], datatype: 'INT32', data: big },
    ],
  });
  assert.equal(batch.status, 400);
  assert.ok(errorOf(batch.text).includes("inference request batch-size must be <= 8 for 'simple'"));
  const unknownOut = await post('/v2/models/simple/infer', simpleBody(seq, seq, { outputs: [{ name: 'NOPE' }] }));
  assert.equal(unknownOut.status, 400);
  assert.ok(errorOf(unknownOut.text).includes("unexpected inference output 'NOPE' for model 'simple'"));
  const dup = await post('/v2/models/simple/infer', simpleBody(seq, seq, { outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }] }));
  assert.equal(dup.status, 400);
  assert.ok(errorOf(dup.text).includes("output 'OUTPUT0' already exists in request"));
  assert.equal((await get('/v2/health/live')).status, 200);
});

test('malformed JSON, negative dims, overflow, reserved parameters and header lies leave the server serving', async () => {
  const bad = await post('/v2/models/simple/infer', '{"inputs": [');
  assert.ok(bad.status >= 400 && bad.status < 600);
  assert.ok(errorOf(bad.text).startsWith('failed to parse the request JSON buffer'));
  const neg = await post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [2, -5], datatype: 'INT32', data: [] }] });
  assert.equal(errorOf(neg.text), "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");
  const over = await post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [16, 2 ** 60 + 2], datatype: 'INT32', data: [1] }] });
  assert.equal(over.status, 400);
  assert.ok(errorOf(over.text).includes('causes total element count to exceed maximum size of'));
  const reserved = await post('/v2/models/simple/infer', simpleBody(seq, seq, { parameters: { triton_foo: 1 } }));
  assert.equal(reserved.status, 400);
  assert.ok(errorOf(reserved.text).includes('reserved for Triton usage'));
  const lie = await post('/v2/models/simple/infer', JSON.stringify(simpleBody()), { 'Inference-Header-Content-Length': '99999999999' });
  assert.equal(lie.status, 400);
  const abc = await post('/v2/models/simple/infer', JSON.stringify(simpleBody()), { 'Inference-Header-Content-Length': 'abc' });
  assert.equal(errorOf(abc.text), 'Unable to parse Inference-Header-Content-Length, got: abc');
  const deep = await post('/v2/models/simple/infer', `{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":${'['.repeat(120)}1${']'.repeat(120)}}]}`);
  assert.ok(deep.status >= 400);
  assert.ok(errorOf(deep.text).includes('JSON nesting depth exceeds maximum allowed limit (100)'));
  assert.equal((await get('/v2/health/live')).status, 200);
  assert.equal((await post('/v2/models/simple/infer', simpleBody())).status, 200);
});

test('statistics count the requests sent', async () => {
  const before = JSON.parse((await get('/v2/models/simple/stats')).text) as { model_stats: { inference_stats: { success: { count: number } } }[] };
  assert.equal(before.model_stats.length, 1);
  const n0 = before.model_stats[0]!.inference_stats.success.count;
  for (let i = 0; i < 3; i++) assert.equal((await post('/v2/models/simple/infer', simpleBody())).status, 200);
  const afterStats = JSON.parse((await get('/v2/models/simple/stats')).text) as { model_stats: { inference_count: number; inference_stats: { success: { count: number }; queue: { count: number } } }[] };
  assert.equal(afterStats.model_stats[0]!.inference_stats.success.count, n0 + 3);
  const unknown = await get('/v2/models/foo/stats');
  assert.equal(unknown.status, 400);
  assert.ok(errorOf(unknown.text).includes("requested model 'foo' is not available"));
});

test('repository index, explicit unload and load, name validation', async () => {
  const idx = await post('/v2/repository/index', '');
  assert.equal(idx.status, 200);
  const entries = JSON.parse(idx.text) as { name: string; state: string }[];
  assert.ok(entries.some((e) => e.name === 'simple' && e.state === 'READY'));
  const badReady = await post('/v2/repository/index', { ready: [[true]] });
  assert.equal(badReady.status, 400);
  assert.equal(errorOf(badReady.text), "Invalid value for 'ready': expected a boolean");
  assert.equal((await post('/v2/repository/models/simple_identity/unload', { parameters: { unload_dependents: false } })).status, 200);
  assert.notEqual((await get('/v2/models/simple_identity/ready')).status, 200);
  assert.equal((await post('/v2/repository/models/simple_identity/load', {})).status, 200);
  assert.equal((await get('/v2/models/simple_identity/ready')).status, 200);
  const missing = await post('/v2/repository/models/not_there/load', {});
  assert.ok(missing.status >= 400);
  assert.ok(errorOf(missing.text).includes("failed to load 'not_there', failed to poll from model repository"));
  const traversal = await post('/v2/repository/models/..%2Fetc/load', {});
  assert.ok(traversal.status >= 400);
  assert.ok(errorOf(traversal.text).includes('model name must not contain path traversal characters'));
});
