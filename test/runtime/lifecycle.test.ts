import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TritonRuntime } from '../../src/runtime/runtime.js';
import { selectVersions } from '../../src/runtime/repository.js';
import type { ModelControlMode } from '../../src/runtime/model-manager.js';
import { FakeFactory, makeRepo, removeRepo, silentLog, SIMPLE_CONFIG, writeModel, int32 } from './fake.js';

function runtime(repositoryPath: string, controlMode: ModelControlMode, factory: FakeFactory, startupModels: string[] = []) {
  return new TritonRuntime({
    repositoryPath, controlMode, startupModels, factories: [factory], backend: 'cpu', log: silentLog, pollSecs: 0,
  });
}

const cfg = (name: string, extra = '') => SIMPLE_CONFIG.replace('name: "simple"', `name: "${name}"`) + extra;

test('version policies select from the versions on disk', () => {
  assert.deepEqual(selectVersions({ latest: { num_versions: 1 } }, [1, 3, 2]), [3]);
  assert.deepEqual(selectVersions({ latest: { num_versions: 2 } }, [1, 3, 2]), [2, 3]);
  assert.deepEqual(selectVersions({ all: {} }, [3, 1]), [1, 3]);
  assert.deepEqual(selectVersions({ specific: { versions: [1, 4] } }, [1, 2, 3]), [1]);
});

test('none mode: a failing model is UNAVAILABLE with its reason and the others serve', async () => {
  const root = await makeRepo({
    good: { config: cfg('good'), versions: { 1: {} } },
    badconfig: { config: 'name: "badconfig"\nmax_batch_size: "x"', versions: { 1: {} } },
    throws: { config: cfg('throws'), versions: { 1: { failLoad: 'weights are corrupt' } } },
    wrongname: { config: cfg('other'), versions: { 1: {} } },
  });
  const f = new FakeFactory();
  const rt = runtime(root, 'none', f);
  try {
    await rt.start();
    const index = await rt.repositoryIndex(false);
    const by = (n: string) => index.filter((e) => e.name === n);
    assert.deepEqual(by('good'), [{ name: 'good', version: '1', state: 'READY' }]);
    assert.equal(by('throws')[0]!.state, 'UNAVAILABLE');
    assert.equal(by('throws')[0]!.reason, 'weights are corrupt');
    assert.match(by('badconfig')[0]!.reason!, /max_batch_size: expected an integer/);
    assert.equal(by('badconfig')[0]!.version, undefined);
    assert.match(by('wrongname')[0]!.reason!, /directory name must equal model name/);
    assert.deepEqual(await rt.repositoryIndex(true), [{ name: 'good', version: '1', state: 'READY' }]);
    assert.equal(rt.modelReady('good'), true);
    assert.equal(rt.modelReady('throws'), false);
    // Strict readiness (Triton's default): a model that should be loaded but is not makes the server not ready.
    assert.equal(rt.isReady(), false);
    const r = await rt.infer({ model: 'good', parameters: {}, inputs: [int32('INPUT0', [1, 16], (i) => i), int32('INPUT1', [1, 16], () => 1)] });
    assert.deepEqual([...(r.outputs[0]!.data as Int32Array)].slice(0, 3), [1, 2, 3]);
    await assert.rejects(rt.loadModel('good', {}), (e: Error) => {
      assert.equal(e.message, 'explicit model load / unload is not allowed if polling is enabled');
      return true;
    });
  } finally {
    await rt.close();
    await removeRepo(root);
  }
  assert.deepEqual(f.unloads, ['good:1']);
});

test('explicit mode: startup list, load, unload, reload, name checks', async () => {
  const root = await makeRepo({
    simple: { config: cfg('simple'), versions: { 1: {} } },
    other: { config: cfg('other'), versions: { 1: {} } },
  });
  const f = new FakeFactory();
  const rt = runtime(root, 'explicit', f, ['simple']);
  try {
    await rt.start();
    assert.equal(rt.isReady(), true);
    assert.equal(rt.modelReady('simple'), true);
    assert.equal(rt.modelReady('other'), false);
    assert.deepEqual(await rt.repositoryIndex(false), [
      { name: 'other', state: 'UNKNOWN' },
      { name: 'simple', version: '1', state: 'READY' },
    ]);
    await rt.loadModel('other', {});
    assert.equal(rt.modelReady('other'), true);
    await rt.unloadModel('other', { unloadDependents: false });
    assert.equal(rt.modelReady('other'), false);
    assert.deepEqual((await rt.repositoryIndex(false)).find((e) => e.name === 'other'),
      { name: 'other', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    assert.deepEqual(f.unloads, ['other:1']);
    assert.equal(rt.isReady(), true, 'unloaded on purpose does not make the server unready');
    assert.throws(() => rt.modelMetadata('other'), /Request for unknown model: 'other' has no available versions/);

    await assert.rejects(rt.loadModel('missing', {}), /^Error: failed to load 'missing', failed to poll from model repository$|failed to load 'missing', failed to poll from model repository/);
    for (const bad of ['../etc', 'model/', '..', '/etc/passwd', ' ..']) {
      await assert.rejects(rt.loadModel(bad, {}), /model name must not contain path traversal characters/, bad);
    }
    for (const empty of ['', ' ']) {
      await assert.rejects(rt.loadModel(empty, {}), /Model name cannot be empty. Please enter a valid name to deploy./);
    }
    // Config override: replaces config.pbtxt; int64 fields may be strings.
    await rt.loadModel('simple', { config: JSON.stringify({
      max_batch_size: '16', platform: 'fake',
      input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }],
    }) });
    assert.equal(rt.modelConfig('simple').max_batch_size, 16);
    assert.deepEqual(rt.modelConfig('simple').output.map((o) => o.name), ['OUTPUT0']);
    await assert.rejects(rt.loadModel('simple', { config: '{"max_batch_size":' }), /failed to load 'simple'/);
    assert.equal(rt.modelReady('simple'), true, 'a rejected override keeps the loaded model serving');
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});

test('explicit mode: "*" loads everything', async () => {
  const root = await makeRepo({ a: { config: cfg('a'), versions: { 1: {} } }, b: { config: cfg('b'), versions: { 2: {} } } });
  const rt = runtime(root, 'explicit', new FakeFactory(), ['*']);
  try {
    await rt.start();
    assert.deepEqual((await rt.repositoryIndex(true)).map((e) => `${e.name}:${e.version}`), ['a:1', 'b:2']);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});

test('version policies on disk: latest 2, all, specific', async () => {
  const three = { 1: { bias: 100 }, 2: { bias: 200 }, 3: { bias: 300 } };
  const root = await makeRepo({
    latest: { config: cfg('latest', 'version_policy: { latest { num_versions: 2 } }'), versions: three },
    all: { config: cfg('all', 'version_policy: { all { } }'), versions: three },
    specific: { config: cfg('specific', 'version_policy: { specific { versions: [1, 3] } }'), versions: three },
    dflt: { config: cfg('dflt'), versions: three },
  });
  const rt = runtime(root, 'none', new FakeFactory());
  try {
    await rt.start();
    assert.deepEqual(rt.modelMetadata('latest').versions, ['2', '3']);
    assert.deepEqual(rt.modelMetadata('all').versions, ['1', '2', '3']);
    assert.deepEqual(rt.modelMetadata('specific').versions, ['1', '3']);
    assert.deepEqual(rt.modelMetadata('dflt').versions, ['3']);
    assert.throws(() => rt.modelMetadata('specific', '2'), /Request for unknown model: 'specific' version 2 is not found/);
    // No version: highest READY one; explicit version: that one.
    const inputs = [int32('INPUT0', [1, 16], () => 0), int32('INPUT1', [1, 16], () => 0)];
    assert.equal((await rt.infer({ model: 'all', parameters: {}, inputs })).model_version, '3');
    const r1 = await rt.infer({ model: 'all', version: '1', parameters: {}, inputs });
    assert.equal(r1.model_version, '1');
    assert.equal((r1.outputs[0]!.data as Int32Array)[0], 100);
    assert.equal(rt.statistics('all').length, 3);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});

test('poll mode: picks up a new model and version, drops a removed one, reloads a changed config', async () => {
  const root = await makeRepo({ m: { config: cfg('m'), versions: { 1: { bias: 1 } } } });
  const f = new FakeFactory();
  const rt = runtime(root, 'poll', f);
  try {
    await rt.start();
    assert.deepEqual(rt.modelMetadata('m').versions, ['1']);
    await rt.pollNow();
    assert.equal(f.loads.length, 1, 'nothing changed, nothing reloaded');

    await writeModel(root, 'm', { versions: { 2: { bias: 2 } } });
    await writeModel(root, 'n', { config: cfg('n'), versions: { 1: {} } });
    await rt.pollNow();
    assert.deepEqual(rt.modelMetadata('m').versions, ['2'], 'latest 1: version 2 replaces version 1');
    assert.ok(f.unloads.includes('m:1'));
    assert.equal(rt.modelReady('n'), true);

    await fs.rm(path.join(root, 'n'), { recursive: true });
    await fs.writeFile(path.join(root, 'm', 'config.pbtxt'), cfg('m', 'version_policy: { all { } }'));
    await rt.pollNow();
    assert.throws(() => rt.modelMetadata('n'), /Request for unknown model: 'n' is not found/);
    assert.ok(f.unloads.includes('n:1'));
    assert.deepEqual(rt.modelMetadata('m').versions, ['1', '2']);

    await fs.rm(path.join(root, 'm', '2'), { recursive: true });
    await rt.pollNow();
    assert.deepEqual(rt.modelMetadata('m').versions, ['1']);
    await assert.rejects(rt.unloadModel('m', { unloadDependents: false }), /not allowed if polling is enabled/);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});

test('factory choice by model file when there is no config; parameters.backend pins the backend', async () => {
  const root = await makeRepo({
    auto: {
      versions: { 1: { derive: {
        max_batch_size: 4,
        input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [2], is_shape_tensor: false, allow_ragged_batch: false, optional: false }],
        output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [2], label_filename: '', is_shape_tensor: false }],
      } } },
    },
    pinned: { config: cfg('pinned', 'parameters { key: "backend" value { string_value: "wasm" } }'), versions: { 1: {} } },
    badpin: { config: cfg('badpin', 'parameters { key: "backend" value { string_value: "cuda" } }'), versions: { 1: {} } },
    nofile: { versions: { 1: { files: { 'weights.bin': 'x' } } } },
  });
  const f = new FakeFactory();
  const other = new FakeFactory({ platforms: ['js'], defaultFilename: 'model.js' });
  const rt = new TritonRuntime({ repositoryPath: root, controlMode: 'none', factories: [other, f], backend: 'cpu', log: silentLog });
  try {
    await rt.start();
    const c = rt.modelConfig('auto');
    assert.equal(c.platform, 'fake');
    assert.equal(c.max_batch_size, 4);
    assert.equal(c.default_model_filename, 'model.fake');
    assert.deepEqual(rt.modelMetadata('auto').inputs, [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 2] }]);
    assert.equal(f.loads.find((x) => x.modelName === 'pinned')!.backend, 'wasm');
    assert.equal(f.loads.find((x) => x.modelName === 'auto')!.backend, 'cpu');
    const idx = await rt.repositoryIndex(false);
    assert.match(idx.find((e) => e.name === 'badpin')!.reason!, /unknown tfjs backend 'cuda'/);
    assert.match(idx.find((e) => e.name === 'nofile')!.reason!, /unable to find a model file/);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});

test('symlinks out of the repository are not followed', async () => {
  const outside = await makeRepo({ secret: { config: cfg('secret'), versions: { 1: {} } } });
  const root = await makeRepo({ inside: { config: cfg('inside'), versions: { 1: {} } } });
  await fs.symlink(path.join(outside, 'secret'), path.join(root, 'secret'));
  await fs.symlink(path.join(outside, 'secret', '1'), path.join(root, 'inside', '2'));
  const rt = runtime(root, 'explicit', new FakeFactory(), ['*']);
  try {
    await rt.start();
    assert.deepEqual((await rt.repositoryIndex(false)).map((e) => `${e.name}:${e.version}`), ['inside:1']);
    await assert.rejects(rt.loadModel('secret', {}), /failed to poll from model repository/);
  } finally {
    await rt.close();
    await removeRepo(root);
    await removeRepo(outside);
  }
});

test('library API: addModel serves a model that is not on disk', async () => {
  const f = new FakeFactory();
  const rt = new TritonRuntime({ controlMode: 'none', factories: [], backend: 'cpu', log: silentLog });
  try {
    await rt.start();
    await rt.addModel({
      name: 'lib', max_batch_size: 8,
      input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [-1] } as never, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [-1] } as never],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [-1] } as never],
    }, async (ctx) => f.executor(ctx.modelName, ctx.version, {}));
    assert.equal(rt.isReady(), true);
    assert.equal(rt.modelMetadata('lib').platform, 'js');
    const r = await rt.infer({ model: 'lib', parameters: {}, inputs: [int32('INPUT0', [1, 2], [1, 2]), int32('INPUT1', [1, 2], [3, 4])] });
    assert.deepEqual([...(r.outputs[0]!.data as Int32Array)], [4, 6]);
    await rt.removeModel('lib');
    assert.equal(rt.modelReady('lib'), false);
  } finally {
    await rt.close();
  }
});

test('explicit mode: load with uploaded files needs a config and stays inside its folder', async () => {
  const root = await makeRepo({});
  const f = new FakeFactory();
  const rt = runtime(root, 'explicit', f);
  const spec = new TextEncoder().encode(JSON.stringify({ bias: 7 }));
  const config = JSON.stringify({ platform: 'fake', max_batch_size: 8,
    input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }],
    output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }] });
  try {
    await rt.start();
    await assert.rejects(rt.loadModel('up', { files: { 'file:1/model.fake': spec } }), /'config' parameter must be provided/);
    await assert.rejects(rt.loadModel('up', { config, files: { 'file:../../escape': spec } }), /invalid model file path/);
    await rt.loadModel('up', { config, files: { 'file:1/model.fake': spec } });
    const r = await rt.infer({ model: 'up', parameters: {}, inputs: [int32('INPUT0', [1, 16], () => 0), int32('INPUT1', [1, 16], () => 0)] });
    assert.equal((r.outputs[0]!.data as Int32Array)[0], 7);
    const dir = f.loads.at(-1)!.versionDir;
    await rt.unloadModel('up', { unloadDependents: false });
    await assert.rejects(fs.access(dir), 'uploaded files are removed on unload');
  } finally {
    await rt.close();
    await removeRepo(root);
  }
});
