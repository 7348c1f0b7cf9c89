// Slow and abandoned clients: slowloris headers, a trickled body, clients that vanish mid-body or
// mid-response, oversized headers and the in-flight bound. Each ties the server up for a bounded
// time (short limits configured here) and leaves nothing behind: the in-flight count returns to
// zero (checked by filling exactly `maxInFlight` slots again) and `simple` keeps answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { tensorsAlive } from '../../src/runtime/backends.js';
import { bundledModels } from '../helpers/paths.js';
import { assertLive, assertSimpleCorrect, checkHostileReply, rawExchange, request, simpleJson } from './helpers.js';

const MAX_IN_FLIGHT = 4;
const REQUEST_TIMEOUT_S = 1;

let server: RunningServer;
let port: number;

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu',
    logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['simple', 'simple_identity'],
    httpRequestTimeoutSecs: REQUEST_TIMEOUT_S, httpMaxInFlight: MAX_IN_FLIGHT, httpMaxHeaderSize: 8192,
  });
  port = server.httpPort;
});
after(async () => { await server.close(); });

/** A connection that has sent a request head promising a body it does not send (yet). */
function openPartial(contentLength = 100_000, first = '{"inputs":'): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n${first}`);
      // Give the server a moment to run the handler (and count the request) before resolving.
      setTimeout(() => resolve(s), 50);
    });
    s.on('error', () => undefined);
  });
}

function closedWithin(s: net.Socket, ms: number): Promise<{ closed: boolean; text: string; elapsed: number }> {
  const t0 = Date.now();
  let text = '';
  s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, text, elapsed: Date.now() - t0 }), ms);
    s.once('close', () => { clearTimeout(timer); resolve({ closed: true, text, elapsed: Date.now() - t0 }); });
  });
}

/** Exactly MAX_IN_FLIGHT requests can be in flight again: proves no slot was leaked. */
async function assertSlotsFree(): Promise<void> {
  const held = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, () => openPartial()));
  const extra = await request(port, { path: '/v2/models/simple/infer', body: JSON.stringify(simpleJson()), agent: false });
  assert.equal(extra.status, 503, extra.body.toString());
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  await assertSimpleCorrect(port);
}

test('in-flight bound: past --http-max-in-flight a POST gets 503 with a JSON error; GET health still answers', async () => {
  const held = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, () => openPartial()));
  const r = await request(port, { path: '/v2/models/simple/infer', body: JSON.stringify(simpleJson()), agent: false });
  assert.equal(r.status, 503);
  checkHostileReply(r, 'over the in-flight bound');
  assert.match(JSON.parse(r.body.toString()).error as string, /--http-max-in-flight/);
  await assertLive(port);
  for (const s of held) s.destroy();
  await new Promise((res) => setTimeout(res, 100));
  await assertSimpleCorrect(port);
});

test('slowloris: a request head trickled forever is cut off by the request timeout', async () => {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.write('POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => { if (!s.destroyed) s.write(`X-Slow-${Date.now()}: y\r\n`); }, 150);
  const r = await closedWithin(s, 6_000);
  clearInterval(trickle);
  assert.ok(r.closed, 'the server kept a slowloris connection open');
  if (r.text) assert.match(r.text, /^HTTP\/1\.1 408 [^]*\{"error":"request not received/);
  await assertSimpleCorrect(port);
});

test('a body trickled byte by byte is cut off by the request timeout and frees its slot', async () => {
  const s = await openPartial(1000, '{');
  const trickle = setInterval(() => { if (!s.destroyed) s.write(' '); }, 100);
  const r = await closedWithin(s, 6_000);
  clearInterval(trickle);
  assert.ok(r.closed, 'the server kept a trickling upload open');
  assert.ok(r.elapsed < 5_000, `closed only after ${r.elapsed} ms`);
  await assertSlotsFree();
});

test('clients that disconnect mid-body leave no in-flight slot, queue entry or tensor behind', async () => {
  const tensors = tensorsAlive();
  for (let round = 0; round < 3; round++) {
    const sockets = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, () => openPartial()));
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
  }
  await assertSlotsFree();
  assert.equal(tensorsAlive(), tensors);
});

test('clients that disconnect mid-response (not reading a large answer) do not stall the server', async () => {
  // ~4 MB of BYTES echoed back by simple_identity; the client reads nothing and then vanishes.
  const element = 'x'.repeat(1 << 20);
  const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 4], datatype: 'BYTES', data: [element, element, element, element] }] });
  for (let i = 0; i < 3; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(`POST /v2/models/simple_identity/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    s.write(body);
    s.pause();
    // Wait until the server has started answering, then abandon the connection.
    await new Promise((r) => setTimeout(r, 300));
    s.destroy();
  }
  await new Promise((r) => setTimeout(r, 100));
  await assertSlotsFree();
});

test('oversized request headers get 431 with a JSON error; malformed request lines 400 with a JSON error', async () => {
  const big = await rawExchange(port, `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 431 /);
  assert.match(big.text, /\{"error":"request headers exceed the maximum allowed size of 8192 bytes"\}$/);
  const bad = await rawExchange(port, 'BREW /coffee HTCPCP/1.0\r\n\r\n');
  assert.match(bad.text, /^HTTP\/1\.1 400 [^]*\{"error":"malformed HTTP request"\}$/);
  const lie = await rawExchange(port, 'POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde');
  assert.match(lie.text, /^HTTP\/1\.1 400 /);
  await assertSimpleCorrect(port);
});

test('a Content-Length larger than the body sent: the request times out, the slot is freed', async () => {
  const s = await openPartial(5_000, JSON.stringify(simpleJson()));
  const r = await closedWithin(s, 6_000);
  assert.ok(r.closed);
  await assertSlotsFree();
});
