// Per-model Prometheus series follow the model's lifetime, as in Triton (a model's
// MetricModelReporter removes its series from every family when the unloaded model releases it):
// unload drops every series labelled with that model version, a later load starts them at 0, and a
// reload that replaces a serving version in place keeps counting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { FakeFactory, makeRepo, removeRepo, silentLog, SIMPLE_CONFIG, writeModel, int32 } from './fake.js';

const cfg = (name: string, extra = '') => SIMPLE_CONFIG.replace('name: "simple"', `name: "${name}"`) + extra;

async function withExplicit(names: string[], startup: string[], fn: (rt: TritonRuntime, root: string) => Promise<void>): Promise<void> {
  const root = await makeRepo(Object.fromEntries(names.map((n) => [n, { config: cfg(n), versions: { 1: {} } }])));
  const rt = new TritonRuntime({
    repositoryPath: root, controlMode: 'explicit', startupModels: startup, factories: [new FakeFactory()], backend: 'cpu', log: silentLog,
  });
  try {
    await rt.start();
    await fn(rt, root);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
}

const infer = (rt: TritonRuntime, model: string) =>
  rt.infer({ model, parameters: {}, inputs: [int32('INPUT0', [1, 16], (i) => i), int32('INPUT1', [1, 16], () => 1)] });

/** The metrics page, as the metrics port serves it. */
const scrape = (rt: TritonRuntime): Promise<string> => rt.metricsRegistry.metrics();

/** Sample lines (not HELP/TYPE) that carry `model="<name>"`. */
const seriesOf = (text: string, name: string): string[] =>
  text.split('\n').filter((l) => !l.startsWith('#') && l.includes(`model="${name}"`));

const sample = (text: string, metric: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

const MV = 'model="m",version="1"';

test('unload removes every series of the model; a reload starts them again from 0', async () => {
  await withExplicit(['m', 'keep'], ['keep'], async (rt) => {
    assert.deepEqual(seriesOf(await scrape(rt), 'm'), [], 'no series before the first load');
    await rt.loadModel('m', {});
    await infer(rt, 'm');
    await infer(rt, 'm');
    await infer(rt, 'keep');
    let text = await scrape(rt);
    assert.equal(sample(text, 'nv_inference_request_success', MV), 2);
    assert.equal(sample(text, 'nv_inference_count', MV), 2);
    assert.ok(seriesOf(text, 'm').length >= 14, 'success, failure×4, counts, durations, pending, load duration, queue depth');

    await rt.unloadModel('m', { unloadDependents: false });
    text = await scrape(rt);
    assert.deepEqual(seriesOf(text, 'm'), []);
    // Other models keep theirs, and the families stay on the page.
    assert.equal(sample(text, 'nv_inference_request_success', 'model="keep",version="1"'), 1);
    assert.match(text, /# TYPE nv_inference_request_success counter\n/);

    await rt.loadModel('m', {});
    text = await scrape(rt);
    assert.equal(sample(text, 'nv_inference_request_success', MV), 0);
    assert.equal(sample(text, 'nv_inference_count', MV), 0);
    assert.equal(sample(text, 'nv_inference_exec_count', MV), 0);
    assert.equal(sample(text, 'nv_inference_request_duration_us', MV), 0);
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']) {
      assert.equal(sample(text, 'nv_inference_request_failure', `${MV},reason="${reason}"`), 0, reason);
    }
    assert.ok(sample(text, 'nv_model_load_duration_secs', MV)! >= 0);
    await infer(rt, 'm');
    assert.equal(sample(await scrape(rt), 'nv_inference_request_success', MV), 1);
  });
});

test('load/unload cycles of many models do not grow the metrics page', async () => {
  const names = ['a', 'b', 'c', 'd'];
  await withExplicit(names, [], async (rt) => {
    const cycle = async () => {
      for (const n of names) await rt.loadModel(n, {});
      await Promise.all(names.map((n) => infer(rt, n)));
      for (const n of names) await rt.unloadModel(n, { unloadDependents: false });
    };
    await cycle();
    const lines = (await scrape(rt)).split('\n').filter((l) => !l.startsWith('#')).length;
    for (let i = 0; i < 3; i++) await cycle();
    const text = await scrape(rt);
    for (const n of names) assert.deepEqual(seriesOf(text, n), [], n);
    // Only process-wide gauges (CPU memory, backend, ...) remain, as many as after one cycle.
    assert.equal(text.split('\n').filter((l) => !l.startsWith('#')).length, lines);
  });
});

test('a reload that replaces the serving version in place keeps its series counting', async () => {
  await withExplicit(['m'], ['m'], async (rt, root) => {
    await infer(rt, 'm');
    // A changed config makes the load build a new version 1 and swap it in for the old one.
    await writeModel(root, 'm', { config: cfg('m', 'dynamic_batching { }') });
    await rt.loadModel('m', {});
    assert.ok(rt.modelConfig('m').dynamic_batching, 'the new config serves');
    await infer(rt, 'm');
    assert.equal(sample(await scrape(rt), 'nv_inference_request_success', MV), 2);
  });
});
