// Security: model names and versions cannot reach outside the repository (`..`, encoded forms,
// absolute paths, symlinks, a config override naming another file); JS model code is imported
// only from inside the repository; repository control needs explicit mode; --http-restricted-api
// guards its groups (through the CLI flag); CORS is off; error bodies carry no internals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import {
  assertSimpleCorrect, checkHostileReply, INT32_16_IO, makeRepo, request, simpleJson, spawnServe, waitReady,
} from './helpers.js';

const outside = mkdtempSync(join(tmpdir(), 'dawnserve-outside-'));
const MARKER = join(outside, 'imported');
// A model outside the repository whose import would leave a marker file behind.
const EVIL = `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(MARKER)}, 'imported');
export const inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [16] }];
export const outputs = [{ name: 'OUTPUT0', datatype: 'INT32', shape: [16] }];
export const maxBatchSize = 8;
export function infer({ INPUT0 }) { return { OUTPUT0: INPUT0 }; }
`;
mkdirSync(join(outside, 'evil', '1'), { recursive: true });
writeFileSync(join(outside, 'evil', 'config.pbtxt'), `name: "evil"\nbackend: "js"\n${INT32_16_IO}\n`);
writeFileSync(join(outside, 'evil', '1', 'model.js'), EVIL);

const repo = makeRepo({ linkjs: { files: { 'config.pbtxt': `name: "linkjs"\nbackend: "js"\n${INT32_16_IO}\n` } } });
symlinkSync(join(outside, 'evil'), join(repo.dir, 'escape'));
symlinkSync(join(outside, 'evil', '1', 'model.js'), join(repo.dir, 'linkjs', '1', 'model.js'));

let server: RunningServer;
let port: number;

before(async () => {
  server = await startDawnserve({
    modelRepository: repo.dir, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu', logLevel: 'silent',
    modelControlMode: 'explicit', loadModel: ['simple'],
  });
  port = server.httpPort;
});
after(async () => {
  await server.close();
  repo.remove();
  rmSync(outside, { recursive: true, force: true });
});

const errorOf = (r: { body: Buffer }) => (JSON.parse(r.body.toString()) as { error: string }).error;

test('load: traversal names (plain, encoded, absolute, backslash, empty) are refused', async () => {
  const names = ['..', '.', '%2e%2e', '..%2F..%2Fetc', '%2Fetc%2Fpasswd', encodeURIComponent(outside + '/evil'), 'a%5C..%5Cb', '%20', '..%00'];
  for (const n of names) {
    const r = await request(port, { path: `/v2/repository/models/${n}/load`, body: '{}' });
    assert.ok(r.status >= 400 && r.status !== 500 || /failed to poll from model repository/.test(errorOf(r)), `${n}: ${r.status} ${r.body}`);
    checkHostileReply({ ...r, status: r.status === 500 ? 400 : r.status }, `load ${n}`);
  }
  // Dot-segments never reach the route at all: they are a different (unknown) path.
  const dots = await request(port, { path: '/v2/repository/models/../load', body: '{}' });
  assert.ok(dots.status >= 400);
  assert.equal(existsSync(MARKER), false);
});

test('load: a model folder that is a symlink out of the repository is not in the repository', async () => {
  const r = await request(port, { path: '/v2/repository/models/escape/load', body: '{}' });
  assert.equal(r.status, 500);
  assert.equal(errorOf(r), "failed to load 'escape', failed to poll from model repository");
  const index = JSON.parse((await request(port, { path: '/v2/repository/index', body: '{}' })).body.toString()) as { name: string }[];
  assert.ok(!index.some((e) => e.name === 'escape'), 'a symlink out of the repository is listed');
  assert.equal(existsSync(MARKER), false);
});

test('load: a model.js that is a symlink out of the repository is refused before it is imported', async () => {
  const r = await request(port, { path: '/v2/repository/models/linkjs/load', body: '{}' });
  assert.ok(r.status >= 400);
  assert.match(errorOf(r), /resolves outside its model folder/);
  assert.equal(existsSync(MARKER), false);
});

test('load: a config override cannot point default_model_filename out of the version folder', async () => {
  for (const file of [`../../../${outside}/evil/1/model.js`, join(outside, 'evil', '1', 'model.js'), '../../escape/1/model.js']) {
    const config = JSON.stringify({ backend: 'js', max_batch_size: 8, default_model_filename: file,
      input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }], output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }] });
    const r = await request(port, { path: '/v2/repository/models/linkjs/load', body: JSON.stringify({ parameters: { config } }) });
    assert.equal(r.status, 400, r.body.toString());
    // (The error echoes the client's own file name, so no leak check here.)
    assert.match(errorOf(r), /must name a file inside the version folder/);
  }
  assert.equal(existsSync(MARKER), false);
});

test('uploaded model files cannot be written outside their temp folder', async () => {
  const config = JSON.stringify({ backend: 'js', input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }], output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }] });
  for (const key of ['file:../../x.js', 'file:/tmp/x.js', 'file:1/../../../x.js']) {
    const r = await request(port, { path: '/v2/repository/models/up/load', body: JSON.stringify({ parameters: { config, [key]: Buffer.from('x').toString('base64') } }) });
    assert.equal(r.status, 400, `${key}: ${r.body}`);
    assert.match(errorOf(r), /invalid model file path/);
  }
});

test('metadata and infer: traversal in model names or versions is just an unknown model (404)', async () => {
  for (const p of ['/v2/models/..%2F..%2Fetc%2Fpasswd/config', '/v2/models/%2e%2e/config', '/v2/models/escape', `/v2/models/${encodeURIComponent('/etc/passwd')}`,
    '/v2/models/simple/versions/..%2F1/config', '/v2/models/simple/versions/-1/config', '/v2/models/simple/versions/1e3/config']) {
    const r = await request(port, { method: 'GET', path: p });
    assert.equal(r.status, 404, `${p}: ${r.body}`);
    checkHostileReply(r, p);
  }
});

test('CORS is off: no Access-Control-* headers, preflight is not answered with a grant', async () => {
  const origin = { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' };
  const pre = await request(port, { method: 'OPTIONS', path: '/v2/models/simple/infer', headers: origin });
  assert.ok(pre.status >= 400, String(pre.status));
  const infer = await request(port, { path: '/v2/models/simple/infer', headers: origin, body: JSON.stringify(simpleJson()) });
  assert.equal(infer.status, 200);
  for (const r of [pre, infer, await request(port, { method: 'GET', path: '/v2/health/live', headers: origin })]) {
    const cors = Object.keys(r.headers).filter((h) => h.startsWith('access-control-'));
    assert.deepEqual(cors, []);
  }
});

test('an internal error answers its message only: no stack trace, no file path', async () => {
  // A model file that does not exist on a load: the reason names the file relative to the repository.
  const r = await request(port, { path: '/v2/repository/models/linkjs/load', body: JSON.stringify({ parameters: { config: JSON.stringify({ backend: 'js', default_model_filename: 'missing.js', input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }], output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }] }) } }) });
  assert.ok(r.status >= 400);
  checkHostileReply({ ...r, status: 400 }, 'load error body');
  assert.doesNotMatch(errorOf(r), new RegExp(repo.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await assertSimpleCorrect(port);
});

test('repository control is off unless --model-control-mode explicit', async () => {
  const r2 = makeRepo({});
  const none = await startDawnserve({
    modelRepository: r2.dir, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu', logLevel: 'silent', modelControlMode: 'none',
  });
  try {
    for (const action of ['load', 'unload']) {
      const r = await request(none.httpPort, { path: `/v2/repository/models/simple/${action}`, body: '{}' });
      assert.ok(r.status >= 400, `${action}: ${r.status}`);
      assert.match(errorOf(r), /explicit model load \/ unload is not allowed/);
    }
    await assertSimpleCorrect(none.httpPort);
  } finally {
    await none.close();
    r2.remove();
  }
});

test('--http-restricted-api (CLI flag) guards its group with a header key; other groups stay open', async () => {
  const r = makeRepo({});
  const child = await spawnServe(['--model-repository', r.dir, '--log-level', 'warn',
    '--http-restricted-api', 'model-repository,statistics:admin-key=s3cret']);
  try {
    await waitReady(child.port);
    const denied = await request(child.port, { path: '/v2/repository/index', body: '{}', agent: false });
    assert.equal(denied.status, 403);
    assert.equal(errorOf(denied), "This API is restricted, expecting header 'admin-key'");
    const wrong = await request(child.port, { path: '/v2/repository/index', body: '{}', headers: { 'admin-key': 'guess' }, agent: false });
    assert.equal(wrong.status, 403);
    assert.equal((await request(child.port, { method: 'GET', path: '/v2/models/stats', agent: false })).status, 403);
    const ok = await request(child.port, { path: '/v2/repository/index', body: '{}', headers: { 'admin-key': 's3cret' }, agent: false });
    assert.equal(ok.status, 200);
    const infer = await request(child.port, { path: '/v2/models/simple/infer', body: JSON.stringify(simpleJson()), agent: false });
    assert.equal(infer.status, 200);
    child.proc.kill('SIGTERM');
    assert.equal(await child.exit(), 0);
  } finally {
    child.kill();
    r.remove();
  }
});


