// A PyTorch-style ONNX model with an operator we do not implement: the load fails with a reason
// naming the op and node, the model is UNAVAILABLE in the repository index, and the other models
// of the repository keep serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDawnserve } from '../../src/server.js';
import { bundledModels } from '../helpers/paths.js';
import { buildModel } from '../onnx/build.js';

test('an unsupported ONNX op makes only that model UNAVAILABLE, naming the op and node', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'dawnserve-unsupported-'));
  try {
    cpSync(join(bundledModels(), 'simple'), join(repo, 'simple'), { recursive: true });
    mkdirSync(join(repo, 'fancy', '1'), { recursive: true });
    writeFileSync(join(repo, 'fancy', '1', 'model.onnx'), buildModel({
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['h'] },
        { op: 'FancyOp', inputs: ['h'], outputs: ['y'], name: 'bar' },
      ],
      inputs: [{ name: 'x', dims: [2] }],
      outputs: [{ name: 'y', dims: [2] }],
    }));
    const server = await startDawnserve({
      modelRepository: repo, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu', logLevel: 'silent',
    });
    try {
      const base = `http://127.0.0.1:${server.httpPort}`;
      const index = await (await fetch(`${base}/v2/repository/index`, { method: 'POST' })).json() as
        { name: string; state: string; reason?: string }[];
      const fancy = index.find((e) => e.name === 'fancy');
      assert.equal(fancy?.state, 'UNAVAILABLE');
      assert.match(fancy?.reason ?? '', /unsupported ONNX operator 'FancyOp' \(node 'bar'\)/);
      assert.equal(index.find((e) => e.name === 'simple')?.state, 'READY');
      assert.notEqual((await fetch(`${base}/v2/models/fancy/ready`)).status, 200);
      const res = await fetch(`${base}/v2/models/simple/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [
          { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(2) },
          { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(1) },
        ] }),
      });
      assert.equal(res.status, 200);
      const out = await res.json() as { outputs: { data: number[] }[] };
      assert.deepEqual(out.outputs[0]!.data, Array(16).fill(3));
    } finally {
      await server.close();
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
