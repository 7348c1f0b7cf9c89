// Request priority over real HTTP: the `priority` request parameter reorders a model's queue
// (priority_levels in config.pbtxt), each level has its own max_queue_size (503 on a full level
// while another still accepts), and a priority above priority_levels is served at the default
// level rather than rejected, as Triton does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startDawnserve } from '../../src/server.js';

const CONFIG = `
name: "prio"
backend: "js"
max_batch_size: 1
input [ { name: "X", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [ { name: "Y", data_type: TYPE_FP32, dims: [ 1 ] } ]
dynamic_batching {
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy { max_queue_size: 2 }
}`;

// Records the order it sees requests in and holds each execution until the test opens the gate.
const MODEL_JS = `
export default {
  inputs: [{ name: 'X', datatype: 'FP32', shape: [1] }],
  outputs: [{ name: 'Y', datatype: 'FP32', shape: [1] }],
  maxBatchSize: 1,
  async infer({ X }) {
    const t = globalThis.__dawnservePriorityTest;
    t.order.push(X.data[0]);
    t.started();
    await t.gate;
    return { Y: { data: X.data, shape: X.shape } };
  },
};`;

interface Hooks { order: number[]; started(): void; gate: Promise<void> }

test('HTTP: priority 1 overtakes queued default-priority requests; per-level 503; out-of-range priority is the default level', { timeout: 60_000 }, async () => {
  const repo = await mkdtemp(path.join(os.tmpdir(), 'dawnserve-prio-'));
  await mkdir(path.join(repo, 'prio', '1'), { recursive: true });
  await writeFile(path.join(repo, 'package.json'), '{"type":"module"}');
  await writeFile(path.join(repo, 'prio', 'config.pbtxt'), CONFIG);
  await writeFile(path.join(repo, 'prio', '1', 'model.js'), MODEL_JS);
  let open!: () => void;
  let firstStarted!: () => void;
  const started = new Promise<void>((r) => { firstStarted = r; });
  const hooks: Hooks = { order: [], started: () => firstStarted(), gate: new Promise((r) => { open = r; }) };
  (globalThis as { __dawnservePriorityTest?: Hooks }).__dawnservePriorityTest = hooks;
  const server = await startDawnserve({
    modelRepository: repo, httpAddress: '127.0.0.1', httpPort: 0, metricsPortEphemeral: true,
    backend: 'cpu', logLevel: 'silent', modelControlMode: 'none',
  });
  const base = `http://127.0.0.1:${server.httpPort}`;
  const infer = async (x: number, parameters: Record<string, number> = {}) => {
    const res = await fetch(`${base}/v2/models/prio/infer`, {
      method: 'POST', body: JSON.stringify({ parameters, inputs: [{ name: 'X', shape: [1, 1], datatype: 'FP32', data: [x] }] }),
    });
    return { status: res.status, json: await res.json() as { error?: string; outputs?: { data: number[] }[] } };
  };
  /** Waits until the model's queue holds `n` requests (HTTP requests arrive asynchronously). */
  const queued = async (n: number) => {
    const want = new RegExp(`dawnserve_queue_depth\\{model="prio",version="1"\\} ${n}\\b`);
    for (let i = 0; i < 500; i++) {
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      if (want.test(text)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`queue never reached ${n}`);
  };
  try {
    const first = infer(-1);
    await started;
    const low = [infer(10), infer(11, { priority: 2 })];
    await queued(2);
    // Level 2 (the default) is full; 99 > priority_levels means level 2 too, so it is refused, not 400.
    const refused = await infer(12, { priority: 99 });
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error, 'Exceeds maximum queue size');
    const high = [infer(20, { priority: 1 }), infer(21, { priority: 1 })];
    await queued(4);
    open();
    const answers = await Promise.all([first, ...low, ...high]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.deepEqual(answers.map((a) => a.json.outputs?.[0]?.data[0]), [-1, 10, 11, 20, 21]);
    assert.deepEqual(hooks.order, [-1, 20, 21, 10, 11]);
  } finally {
    open();
    await server.close();
    delete (globalThis as { __dawnservePriorityTest?: Hooks }).__dawnservePriorityTest;
    await rm(repo, { recursive: true, force: true });
  }
});
