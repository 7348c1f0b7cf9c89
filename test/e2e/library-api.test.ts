// The PyTriton-style library API: bind a JavaScript function, serve it, call it over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from '../../src/index.js';

test('Server.bind serves a batched JS function over the Triton protocol', async () => {
  let calls = 0;
  const server = new Server({ httpPort: 0, httpAddress: '127.0.0.1', metricsPort: 0, backend: 'cpu', logLevel: 'silent' });
  server.bind({
    name: 'add_sub',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1] }, { name: 'INPUT1', datatype: 'FP32', shape: [-1] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1] }, { name: 'OUTPUT1', datatype: 'FP32', shape: [-1] }],
    maxBatchSize: 64,
    infer: (batch) => {
      calls++;
      const a = batch.INPUT0!.data as Float32Array;
      const b = batch.INPUT1!.data as Float32Array;
      return {
        OUTPUT0: { data: a.map((x, i) => x + b[i]!), shape: batch.INPUT0!.shape },
        OUTPUT1: { data: a.map((x, i) => x - b[i]!), shape: batch.INPUT0!.shape },
      };
    },
  });
  const running = await server.serve();
  try {
    const base = `http://127.0.0.1:${running.httpPort}`;
    const meta = await (await fetch(`${base}/v2/models/add_sub`)).json() as { inputs: { shape: number[] }[] };
    assert.deepEqual(meta.inputs[0]!.shape, [-1, -1]);
    const res = await fetch(`${base}/v2/models/add_sub/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [
          { name: 'INPUT0', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
          { name: 'INPUT1', shape: [2, 3], datatype: 'FP32', data: [1, 1, 1, 1, 1, 1] },
        ],
      }),
    });
    assert.equal(res.status, 200);
    const out = await res.json() as { outputs: { name: string; shape: number[]; data: number[] }[] };
    assert.deepEqual(out.outputs[0], { name: 'OUTPUT0', datatype: 'FP32', shape: [2, 3], data: [2, 3, 4, 5, 6, 7] });
    assert.deepEqual(out.outputs[1]!.data, [0, 1, 2, 3, 4, 5]);
    assert.equal(calls, 1);
  } finally {
    await server.stop();
  }
});

test('Server.bind rejects a duplicate model name', () => {
  const server = new Server();
  const def = {
    name: 'm', inputs: [{ name: 'X', datatype: 'FP32' as const, shape: [1] }], outputs: [{ name: 'Y', datatype: 'FP32' as const, shape: [1] }],
    infer: () => ({ Y: [0] }),
  };
  server.bind(def);
  assert.throws(() => server.bind(def), /already bound/);
});
