// The bundled simple_sequence model over real HTTP, sent as Triton's
// simple_http_sequence_sync_infer_client.py sends it: INT32 [1,1], `sequence_id` as an int and as a
// string, `sequence_start`/`sequence_end` on every request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { bundledModels } from '../helpers/paths.js';

let server: RunningServer;
let base: string;

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
    backend: 'cpu', logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['simple_sequence'],
  });
  base = `http://127.0.0.1:${server.httpPort}`;
});
after(async () => { await server.close(); });

async function infer(value: number, parameters: Record<string, unknown>) {
  const res = await fetch(`${base}/v2/models/simple_sequence/infer`, {
    method: 'POST',
    body: JSON.stringify({
      inputs: [{ name: 'INPUT', shape: [1, 1], datatype: 'INT32', data: [value] }],
      outputs: [{ name: 'OUTPUT', parameters: { binary_data: false } }],
      parameters,
    }),
  });
  const body = await res.json() as { error?: string; outputs?: { name: string; shape: number[]; data: number[] }[] };
  return { status: res.status, body };
}

async function sendSequence(id: number | string, values: number[]): Promise<number[]> {
  const results: number[] = [];
  for (const [i, v] of values.entries()) {
    const r = await infer(v, { sequence_id: id, sequence_start: i === 0, sequence_end: i === values.length - 1 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.outputs![0]!.shape, [1, 1]);
    results.push(r.body.outputs![0]!.data[0]!);
  }
  return results;
}

const values = [11, 7, 5, 3, 2, 0, 1];
// `|| 0` turns -0 into the 0 the server answers; deepEqual tells them apart.
const negated = values.map((v) => -v || 0);

test('simple_sequence answers as Triton\'s does for int and string correlation IDs', async () => {
  // Triton's simple_sequence: OUTPUT = INPUT + START (its QA model is not a real accumulator).
  assert.deepEqual(await sendSequence(1000, [0, ...values]), [1, ...values]);
  assert.deepEqual(await sendSequence(1001, [100, ...negated]), [101, ...negated]);
  assert.deepEqual(await sendSequence(randomUUID(), [20, ...negated]), [21, ...negated]);
});

test('interleaved sequences over HTTP', async () => {
  const a = infer(5, { sequence_id: 1, sequence_start: true, sequence_end: false });
  const b = infer(6, { sequence_id: 'two', sequence_start: true, sequence_end: false });
  assert.deepEqual((await Promise.all([a, b])).map((r) => r.body.outputs![0]!.data[0]), [6, 7]);
  const more = await Promise.all([
    infer(8, { sequence_id: 'two', sequence_start: false, sequence_end: true }),
    infer(9, { sequence_id: 1, sequence_start: false, sequence_end: true }),
  ]);
  assert.deepEqual(more.map((r) => [r.status, r.body.outputs![0]!.data[0]]), [[200, 8], [200, 9]]);
});

test('Triton\'s 400s: no correlation ID, no START', async () => {
  const none = await infer(1, {});
  assert.equal(none.status, 400);
  assert.equal(none.body.error, "inference request to model 'simple_sequence' must specify a non-zero or non-empty correlation ID");
  const zero = await infer(1, { sequence_id: 0, sequence_start: true, sequence_end: false });
  assert.equal(zero.status, 400);
  const noStart = await infer(1, { sequence_id: 4242, sequence_start: false, sequence_end: false });
  assert.equal(noStart.status, 400);
  assert.equal(noStart.body.error,
    "inference request for sequence 4242 to model 'simple_sequence' must specify the START flag on the first request of the sequence");
  const ended = await sendSequence('done', [1, 2]);
  assert.deepEqual(ended, [2, 2]);
  const afterEnd = await infer(1, { sequence_id: 'done', sequence_start: false, sequence_end: false });
  assert.equal(afterEnd.status, 400);
  assert.match(afterEnd.body.error!, /^inference request for sequence done to model 'simple_sequence' must specify the START flag/);
});

test('GET config shows the normalised sequence_batching', async () => {
  const res = await fetch(`${base}/v2/models/simple_sequence/config`);
  const config = await res.json() as { sequence_batching: { max_sequence_idle_microseconds: number; control_input: { name: string }[] } };
  assert.equal(config.sequence_batching.max_sequence_idle_microseconds, 1_000_000);
  assert.deepEqual(config.sequence_batching.control_input.map((c) => c.name), ['START', 'READY']);
});
