// Hostile input: fast-check mutates valid JSON, JSON+binary and raw infer requests for the bundled
// `simple` (and the TF.js `tfjs_mlp`, so that tensors are in play) and sends them to a real server.
// Every answer must be a client error with a JSON body (or a 200 when the mutation is still a valid
// request); afterwards the server is live, `simple` still computes, and no tfjs tensor was left.
// Fixed seed, bounded case counts (FUZZ_SCALE=n multiplies them for a longer local run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { tensorsAlive } from '../../src/runtime/backends.js';
import { bundledModels } from '../helpers/paths.js';
import { assertLive, assertSimpleCorrect, checkHostileReply, request, simpleJson, SEQ16, type Reply } from './helpers.js';

const SEED = 20240608;
const SCALE = Math.max(1, Number(process.env['FUZZ_SCALE'] ?? 1));
const runs = (n: number) => Math.round(n * SCALE);

let server: RunningServer;
let port: number;
let tensorsBefore: number;
let timersBefore: number;
/** Cases sent, by suite, printed at the end (docs/reliability.md records them). */
const tried: Record<string, number> = {};

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu',
    logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['simple', 'tfjs_mlp'],
    // Small limits so that the size paths are reached without sending megabytes.
    httpMaxInputSize: 64 * 1024,
  });
  port = server.httpPort;
  // Warm both models so that lazily created state is not counted as a leak.
  await assertSimpleCorrect(port);
  const mlp = await request(port, { path: '/v2/models/tfjs_mlp/infer', body: JSON.stringify(mlpJson([0.1, 0.2, 0.3, 0.4])) });
  assert.equal(mlp.status, 200, mlp.body.toString());
  tensorsBefore = tensorsAlive();
  timersBefore = activeTimers();
});

after(async () => {
  process.stderr.write(`fuzz cases tried: ${JSON.stringify(tried)}\n`);
  await server.close();
});

/** Timers alive in this process (the server runs in it): deadlines and queue delays must be cleared. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function afterEach(what: string): Promise<void> {
  await assertLive(port);
  await assertSimpleCorrect(port);
  assert.equal(tensorsAlive(), tensorsBefore, `${what}: tfjs tensors alive changed`);
  for (const model of ['simple', 'tfjs_mlp']) {
    assert.equal(server.runtime.manager.get(model)?.versions.get(1)?.scheduler?.pending, 0, `${what}: ${model} queue not empty`);
  }
  assert.equal(activeTimers(), timersBefore, `${what}: timers left behind`);
}

function mlpJson(features: number[]): Record<string, unknown> {
  return { inputs: [{ name: 'features', shape: [1, features.length], datatype: 'FP32', data: features }] };
}

// ---- arbitraries ----

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16'];
const HUGE_TEXT = ['1e400', '-1e400', '123456789012345678901234567890', '18446744073709551616', '18446744073709551615',
  '9223372036854775808', '-9223372036854775809', '1.0', '-0', '0.5', '4294967296', '-2147483649', '1152921504606846978'];

const unicode = fc.string({ unit: 'binary', maxLength: 24 });
const dim = fc.oneof(
  fc.integer({ min: -2, max: 20 }),
  fc.constantFrom(0, 16, 2 ** 31, 2 ** 53, 2 ** 60 + 2, Number.MAX_SAFE_INTEGER, 1e300),
  fc.double({ noNaN: true }),
);
const shape = fc.array(dim, { maxLength: 6 });
const datatype = fc.oneof(fc.constantFrom(...DATATYPES), unicode);
const leafData = fc.oneof(
  fc.array(fc.integer(), { maxLength: 40 }),
  fc.array(fc.double(), { maxLength: 40 }),
  fc.array(fc.boolean(), { maxLength: 20 }),
  fc.array(unicode, { maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
);
/** `[[[ … 16 ints … ]]]` nested `depth` deep (the limit is 100). */
const nested = fc.integer({ min: 1, max: 400 }).map((depth) => {
  let v: unknown = SEQ16;
  for (let i = 1; i < depth; i++) v = [v];
  return v;
});
const paramKey = fc.oneof(fc.constantFrom('timeout', 'priority', 'binary_data_output', 'sequence_id', 'sequence_start', 'triton_x', 'binary_data_size', 'shared_memory_region', 'classification', 'headers'), unicode);
const params = fc.dictionary(paramKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });

type Body = Record<string, unknown> & { inputs?: Record<string, unknown>[] };
type Mutation = (b: Body) => void;

const inputIndex = fc.integer({ min: 0, max: 2 });
const input = (b: Body, i: number): Record<string, unknown> => {
  if (!Array.isArray(b.inputs)) b.inputs = [];
  while (b.inputs.length <= i) b.inputs.push({});
  const cur = b.inputs[i];
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) b.inputs[i] = {};
  return b.inputs[i]!;
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(inputIndex, shape).map(([i, s]): Mutation => (b) => { input(b, i)['shape'] = s; }),
  fc.tuple(inputIndex, datatype).map(([i, d]): Mutation => (b) => { input(b, i)['datatype'] = d; }),
  fc.tuple(inputIndex, leafData).map(([i, d]): Mutation => (b) => { input(b, i)['data'] = d; }),
  fc.tuple(inputIndex, nested).map(([i, d]): Mutation => (b) => { input(b, i)['data'] = d; }),
  fc.tuple(inputIndex, fc.oneof(unicode, fc.constantFrom('INPUT0', 'INPUT1', 'OUTPUT0', ''))).map(([i, n]): Mutation => (b) => { input(b, i)['name'] = n; }),
  fc.tuple(inputIndex, fc.constantFrom('name', 'shape', 'datatype', 'data')).map(([i, k]): Mutation => (b) => { delete input(b, i)[k]; }),
  fc.tuple(inputIndex, params).map(([i, p]): Mutation => (b) => { input(b, i)['parameters'] = p; }),
  params.map((p): Mutation => (b) => { b['parameters'] = p; }),
  fc.jsonValue({ maxDepth: 2 }).map((id): Mutation => (b) => { b['id'] = id; }),
  fc.array(fc.record({ name: fc.oneof(fc.constantFrom('OUTPUT0', 'OUTPUT1'), unicode), parameters: params }, { requiredKeys: ['name'] }), { maxLength: 3 })
    .map((o): Mutation => (b) => { b['outputs'] = o; }),
  fc.jsonValue({ maxDepth: 3 }).map((v): Mutation => (b) => { b['inputs'] = v as Record<string, unknown>[]; }),
  fc.integer({ min: 1, max: 300 }).map((n): Mutation => (b) => { b.inputs = Array.from({ length: n }, () => ({ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: SEQ16 })); }),
);

/** Text-level damage to a serialized body. */
const textDamage = fc.oneof(
  fc.nat().map((k) => (t: string) => t.slice(0, k % (t.length + 1))),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 16 })).map(([k, bytes]) => (t: string) => {
    const at = k % (t.length + 1);
    return t.slice(0, at) + Buffer.from(bytes).toString('latin1') + t.slice(at);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...HUGE_TEXT)).map(([k, big]) => (t: string) => {
    const numbers = [...t.matchAll(/-?\d+/g)];
    const m = numbers[k % Math.max(1, numbers.length)];
    return m?.index === undefined ? t : t.slice(0, m.index) + big + t.slice(m.index + m[0].length);
  }),
  fc.integer({ min: 1, max: 100_000 }).map((n) => (t: string) => '['.repeat(n) + t),
  fc.constant((t: string) => t.replace('"inputs"', '"__proto__"')),
);

const paths = fc.oneof(
  { weight: 6, arbitrary: fc.constant('/v2/models/simple/infer') },
  fc.constantFrom('/v2/models/simple/versions/1/infer', '/v2/models/simple/versions/2/infer', '/v2/models/simple/versions/99999999999999999999/infer',
    '/v2/models/%2e%2e/infer', '/v2/models/..%2F..%2Fetc/infer', '/v2/models/simple%00/infer', '/v2/models/%ZZ/infer', '/v2/models//infer'),
  unicode.map((n) => `/v2/models/${encodeURIComponent(n)}/infer`),
);

/** fast-check reports the counterexample; this keeps the assertion text of each failure too. */
function explain<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      process.stderr.write(`fuzz failure: ${(e as Error).message.slice(0, 2000)}\n`);
      throw e;
    }
  };
}

async function post(path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
  return request(port, { path, body, headers });
}

// ---- properties ----

test('fuzz: structured mutations of a JSON infer request', async () => {
  tried['json-structured'] = 0;
  await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), paths, explain(async (muts, path) => {
    tried['json-structured']!++;
    const body = simpleJson() as Body;
    for (const m of muts) m(body);
    checkHostileReply(await post(path, JSON.stringify(body)), `POST ${path} ${JSON.stringify(body).slice(0, 300)}`);
  })), { seed: SEED, numRuns: runs(1500) });
  await afterEach('json-structured');
});

test('fuzz: text-level damage to JSON bodies (truncation, garbage, huge numbers, deep nesting)', async () => {
  tried['json-text'] = 0;
  await fc.assert(fc.asyncProperty(fc.array(textDamage, { minLength: 1, maxLength: 2 }), fc.boolean(), explain(async (damage, gzip) => {
    tried['json-text']!++;
    let text = JSON.stringify(simpleJson());
    for (const d of damage) text = d(text);
    const bytes = Buffer.from(text, 'latin1');
    const r = gzip
      ? await post('/v2/models/simple/infer', gzipSync(bytes), { 'Content-Encoding': 'gzip' })
      : await post('/v2/models/simple/infer', bytes);
    checkHostileReply(r, `damaged JSON ${text.slice(0, 200)}`);
  })), { seed: SEED + 1, numRuns: runs(800) });
  await afterEach('json-text');
});

/** A JSON header with binary inputs, and the lies that can be told about it. */
const binaryCase = fc.record({
  headerLie: fc.oneof(
    { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
    fc.constantFrom('0', '-1', 'abc', '99999999999', '2147483648', ' 12', '1e3', '', '00000000000000000000064'),
    fc.integer({ min: -10, max: 400 }).map(String),
  ),
  sizeLie: fc.array(fc.oneof(fc.constant<number | undefined>(undefined), fc.integer({ min: 0, max: 200 }), fc.constantFrom(2 ** 53, 2 ** 62)), { minLength: 2, maxLength: 2 }),
  dtype: fc.oneof({ weight: 3, arbitrary: fc.constant('INT32') }, fc.constantFrom(...DATATYPES)),
  shape: fc.oneof({ weight: 3, arbitrary: fc.constant([1, 16]) }, shape),
  tail: fc.oneof(
    { weight: 3, arbitrary: fc.constant((b: Buffer) => b) },
    fc.nat().map((k) => (b: Buffer) => b.subarray(0, b.length - (k % (b.length + 1)))),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((g) => (b: Buffer) => Buffer.concat([b, Buffer.from(g)])),
    fc.uint8Array({ maxLength: 200 }).map((g) => (_b: Buffer) => Buffer.from(g)),
  ),
  binaryOut: fc.boolean(),
  bytesPayload: fc.array(fc.tuple(fc.nat({ max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 8 })), { maxLength: 20 }),
});

test('fuzz: JSON + binary requests with lying lengths, sizes, datatypes and truncation', async () => {
  tried['binary'] = 0;
  await fc.assert(fc.asyncProperty(binaryCase, explain(async (c) => {
    tried['binary']!++;
    const tensor = (v: number) => Buffer.from(new Int32Array(SEQ16.map((x) => x * v)).buffer);
    let payloads = [tensor(1), tensor(2)];
    if (c.dtype === 'BYTES') {
      // Length-prefixed elements whose prefixes may lie.
      payloads = payloads.map(() => Buffer.concat(c.bytesPayload.map(([len, bytes]) => {
        const p = Buffer.alloc(4);
        p.writeUInt32LE(len % 3 === 0 ? bytes.length : len);
        return Buffer.concat([p, Buffer.from(bytes)]);
      })));
    }
    const header = JSON.stringify({
      inputs: ['INPUT0', 'INPUT1'].map((name, i) => ({
        name, shape: c.shape, datatype: c.dtype, parameters: { binary_data_size: c.sizeLie[i] ?? payloads[i]!.length },
      })),
      ...(c.binaryOut ? { outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] } : {}),
    });
    const body = c.tail(Buffer.concat([Buffer.from(header), ...payloads]));
    const headerLength = c.headerLie ?? String(Buffer.byteLength(header));
    const r = await post('/v2/models/simple/infer', body, { 'Inference-Header-Content-Length': headerLength, 'Content-Type': 'application/octet-stream' });
    checkHostileReply(r, `binary case ${JSON.stringify({ ...c, tail: undefined, header })}`);
  })), { seed: SEED + 2, numRuns: runs(1200) });
  await afterEach('binary');
});

test('fuzz: raw binary requests (Inference-Header-Content-Length: 0) and headerless bodies', async () => {
  tried['raw'] = 0;
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('simple', 'tfjs_mlp'), fc.boolean(), explain(async (bytes, model, raw) => {
    tried['raw']!++;
    const r = await post(`/v2/models/${model}/infer`, Buffer.from(bytes), raw ? { 'Inference-Header-Content-Length': '0' } : {});
    checkHostileReply(r, `raw ${model} ${bytes.length} bytes`);
  })), { seed: SEED + 3, numRuns: runs(300) });
  await afterEach('raw');
});

test('fuzz: FP32 requests that reach a TF.js model (tensors must all be released)', async () => {
  tried['tfjs_mlp'] = 0;
  const features = fc.array(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e38, -1e38, 0)), { minLength: 0, maxLength: 40 });
  await fc.assert(fc.asyncProperty(features, fc.integer({ min: 0, max: 10 }), fc.option(mutation, { freq: 3 }), explain(async (f, rows, mut) => {
    tried['tfjs_mlp']!++;
    const body = mlpJson(f) as Body;
    // Often a well-formed batch, so that the model really executes.
    if (f.length >= 4 && rows > 0) {
      const n = Math.min(rows, Math.floor(f.length / 4));
      body.inputs![0]!['shape'] = [n, 4];
      body.inputs![0]!['data'] = f.slice(0, 4 * n);
    }
    if (mut) mut(body);
    checkHostileReply(await post('/v2/models/tfjs_mlp/infer', JSON.stringify(body)), `tfjs_mlp ${JSON.stringify(body).slice(0, 300)}`);
  })), { seed: SEED + 4, numRuns: runs(400) });
  await afterEach('tfjs_mlp');
});

test('fuzz: other routes and methods with garbage bodies', async () => {
  tried['routes'] = 0;
  // (POST /v2/logging is left out: it would change the server's log level for the rest of the run.)
  const route = fc.constantFrom('/v2/repository/index', '/v2/repository/models/simple/load', '/v2/repository/models/x/unload',
    '/v2/trace/setting', '/v2/models/simple/config', '/v2/models/stats', '/v2', '/v2/health/ready', '/v2/systemsharedmemory/region/r/register');
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');
  await fc.assert(fc.asyncProperty(route, method, fc.oneof(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''), unicode), explain(async (path, m, body) => {
    tried['routes']!++;
    // Unloading `simple` would only make the next checks fail for the wrong reason.
    if (path.endsWith('/simple/load')) body = '{}';
    const r = await request(port, { method: m, path, body: m === 'GET' ? undefined : body });
    // 2xx answers here are metadata, settings or empty bodies: only errors have a fixed form.
    if (r.status >= 300) checkHostileReply(r, `${m} ${path} ${body.slice(0, 100)}`);
  })), { seed: SEED + 5, numRuns: runs(300) });
  await afterEach('routes');
});
