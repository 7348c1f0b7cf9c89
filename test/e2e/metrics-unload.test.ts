// Over real HTTP: an explicit-mode unload removes the model's series from the metrics port's page,
// and loading it again brings them back at 0 (Triton destroys a model's metric reporter, and with
// it its series, when the model is unloaded).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import { bundledModels } from '../helpers/paths.js';

let server: RunningServer;
let base: string;
let metricsBase: string;

before(async () => {
  server = await startDawnserve({
    modelRepository: bundledModels(), httpAddress: '127.0.0.1', httpPort: 0, metricsPortEphemeral: true,
    backend: 'cpu', logLevel: 'silent', modelControlMode: 'explicit', loadModel: ['simple'],
  });
  base = `http://127.0.0.1:${server.httpPort}`;
  metricsBase = `http://127.0.0.1:${server.metricsPort}`;
});
after(async () => { await server.close(); });

async function post(path: string, body: unknown): Promise<number> {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

const seq16 = Array.from({ length: 16 }, (_, i) => i);
const inferSimple = () => post('/v2/models/simple/infer', {
  inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: seq16 },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: seq16 },
  ],
});

async function scrape(): Promise<string> {
  const res = await fetch(`${metricsBase}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

const simpleSeries = (text: string): string[] =>
  text.split('\n').filter((l) => !l.startsWith('#') && l.includes('model="simple"'));

const success = (text: string): string | undefined =>
  simpleSeries(text).find((l) => l.startsWith('nv_inference_request_success{'));

test('load → infer → unload → reload: the series go with the model and come back from zero', async () => {
  assert.equal(await inferSimple(), 200);
  assert.equal(await inferSimple(), 200);
  assert.equal(success(await scrape()), 'nv_inference_request_success{model="simple",version="1"} 2');

  assert.equal(await post('/v2/repository/models/simple/unload', {}), 200);
  assert.deepEqual(simpleSeries(await scrape()), []);

  assert.equal(await post('/v2/repository/models/simple/load', {}), 200);
  const text = await scrape();
  assert.equal(success(text), 'nv_inference_request_success{model="simple",version="1"} 0');
  assert.match(text, /nv_inference_count\{model="simple",version="1"\} 0\n/);
  assert.equal(await inferSimple(), 200);
  assert.equal(success(await scrape()), 'nv_inference_request_success{model="simple",version="1"} 1');
});
