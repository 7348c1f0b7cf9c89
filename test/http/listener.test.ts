// POST infer is answered before Koa (src/http/listener.ts): the same requests through Koa's own
// callback must give the same status, headers that matter and body, and the in-flight limit is
// one limit for both paths.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createHttpApp, startHttpServer, type HttpServerHandle } from '../../src/http/app.js';
import { binaryBody, int32Bytes, postJson, range, request, type RawRequest } from './helpers.js';
import { FakeRuntime } from './fake-runtime.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
const deps = () => ({ runtime: new FakeRuntime(), log: silent, maxInputSize: 1 << 20 });

let fast: HttpServerHandle;
let koaOnly: http.Server;
let koaPort = 0;

before(async () => {
  fast = await startHttpServer(createHttpApp(deps()), { address: '127.0.0.1', port: 0 });
  koaOnly = http.createServer(createHttpApp(deps()).callback());
  await new Promise<void>((resolve) => koaOnly.listen(0, '127.0.0.1', resolve));
  koaPort = (koaOnly.address() as AddressInfo).port;
});
after(async () => {
  await fast.close();
  await new Promise<void>((resolve) => koaOnly.close(() => resolve()));
});

const simpleInputs = [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range(16) },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range(16) },
];
const binary = binaryBody({
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
  ],
  outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1' }],
}, [int32Bytes(range(16)), int32Bytes(range(16))]);

const cases: [string, RawRequest][] = [
  ['JSON', { method: 'POST', path: '/v2/models/simple/infer', body: JSON.stringify({ id: 'x', inputs: simpleInputs }) }],
  ['query string', { method: 'POST', path: '/v2/models/simple/versions/1/infer?a=b', body: JSON.stringify({ inputs: simpleInputs }) }],
  ['binary', { method: 'POST', path: '/v2/models/simple/infer', body: binary.body, headers: { 'Inference-Header-Content-Length': binary.headerLength } }],
  ['gzip response', { method: 'POST', path: '/v2/models/simple/infer', body: JSON.stringify({ inputs: simpleInputs }), headers: { 'Accept-Encoding': 'gzip' } }],
  ['bad JSON', { method: 'POST', path: '/v2/models/simple/infer', body: '{"inputs": [' }],
  ['unknown model', { method: 'POST', path: '/v2/models/nope/infer', body: JSON.stringify({ inputs: simpleInputs }) }],
  ['bad shape', { method: 'POST', path: '/v2/models/simple/infer', body: JSON.stringify({ inputs: [{ ...simpleInputs[0], shape: [2, 16] }, simpleInputs[1]] }) }],
  ['unsupported encoding', { method: 'POST', path: '/v2/models/simple/infer', body: '{}', headers: { 'Content-Encoding': 'br' } }],
  ['too large', { method: 'POST', path: '/v2/models/simple/infer', body: Buffer.alloc(3 << 20, 0x20) }],
  ['non-numeric version', { method: 'POST', path: '/v2/models/simple/versions/x/infer', body: '{}' }],
];

for (const [name, req] of cases) {
  test(`infer before Koa answers as Koa does: ${name}`, async () => {
    const [a, b] = await Promise.all([request(fast.port, req), request(koaPort, req)]);
    assert.equal(a.status, b.status);
    assert.deepEqual(a.body, b.body);
    for (const h of ['content-type', 'content-length', 'content-encoding', 'inference-header-content-length', 'retry-after', 'connection']) {
      assert.equal(a.headers[h], b.headers[h], h);
    }
  });
}

test('the in-flight limit counts infer requests on both paths', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const runtime = new FakeRuntime();
  const infer = runtime.infer.bind(runtime);
  runtime.infer = async (r) => { await gate; return infer(r); };
  const handle = await startHttpServer(createHttpApp({ ...deps(), runtime, limits: { maxInFlight: 1 } }), { address: '127.0.0.1', port: 0 });
  try {
    const first = postJson(handle.port, '/v2/models/simple/infer', { inputs: simpleInputs });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = await postJson(handle.port, '/v2/models/simple/infer', { inputs: simpleInputs });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '1');
    assert.match(busy.json<{ error: string }>().error, /^Server is busy: 1 requests in flight, the limit is 1/);
    // A non-infer POST goes through Koa and sees the same count.
    const load = await request(handle.port, { method: 'POST', path: '/v2/repository/index', body: '' });
    assert.equal(load.status, 503);
    release();
    assert.equal((await first).status, 200);
  } finally {
    release();
    await handle.close();
  }
});
