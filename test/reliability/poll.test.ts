// The repository changing under `--model-control-mode poll` (issue 8 item 3), through the real
// server with JS models on disk. `pollNow()` stands in for the poll timer (set to an hour), so each
// step is one deterministic rescan. Each change stays with its model: `simple` keeps answering.
//
// Broken edits follow Triton (core model_repository_manager.cc, Poll(): "If error happens during
// polling the model, its state will fallback to the state before the polling"; a failed reload
// of a serving model leaves the loaded versions serving, as the lifecycle loads new versions in
// the background before swapping): a config.pbtxt that does not parse, or a version whose
// model.js fails to load, keeps the last good version serving and logs why. A model with no good
// version to fall back on (added half-written) is UNAVAILABLE with the reason in the index.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDawnserve, type RunningServer } from '../../src/server.js';
import type { RepositoryIndexEntry } from '../../src/runtime/api.js';
import { assertSimpleCorrect, INT32_16_IO, makeRepo, request, SEQ16 } from './helpers.js';

const SPECS = `export const inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [16] }];
export const outputs = [{ name: 'OUTPUT0', datatype: 'INT32', shape: [16] }];
export const maxBatchSize = 8;
`;
/** model.js whose OUTPUT0 is INPUT0 + k, so the answer tells which version served. */
const plus = (k: number) => `${SPECS}export function infer({ INPUT0 }) {
  return { OUTPUT0: { data: Int32Array.from(INPUT0.data, (x) => x + ${k}), shape: INPUT0.shape } };
}
`;
const config = (name: string, extra = '') => `name: "${name}"\nbackend: "js"\n${INT32_16_IO}\n${extra}`;

const repo = makeRepo({ plus: { config: INT32_16_IO, code: plus(1) } });
const file = (...parts: string[]) => join(repo.dir, ...parts);
function write(rel: string, text: string): void {
  mkdirSync(join(file(rel), '..'), { recursive: true });
  writeFileSync(file(rel), text);
}

let server: RunningServer;
let port: number;

before(async () => {
  server = await startDawnserve({
    modelRepository: repo.dir, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0, backend: 'cpu', logLevel: 'silent',
    modelControlMode: 'poll', repositoryPollSecs: 3600,
  });
  port = server.httpPort;
});
after(async () => {
  await server.close();
  repo.remove();
});

const poll = () => server.runtime.pollNow();

async function index(): Promise<RepositoryIndexEntry[]> {
  const r = await request(port, { path: '/v2/repository/index', body: '{}' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as RepositoryIndexEntry[];
}
const entriesOf = async (name: string) => (await index()).filter((e) => e.name === name);

/** Infers `model` with INPUT0 = 1..16; returns the version that answered and OUTPUT0 - INPUT0. */
async function offset(model: string, version?: string): Promise<{ status: number; version?: string; k?: number; error?: string }> {
  const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: SEQ16 }] });
  const r = await request(port, { path: `/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`, body });
  const json = JSON.parse(r.body.toString()) as { model_version?: string; outputs?: { data: number[] }[]; error?: string };
  if (r.status !== 200) return { status: r.status, ...(json.error ? { error: json.error } : {}) };
  const out = json.outputs![0]!.data;
  const k = out[0]! - SEQ16[0]!;
  assert.deepEqual(out, SEQ16.map((x) => x + k), 'a constant offset');
  return { status: 200, version: json.model_version!, k };
}

test('poll: an added model becomes READY', async () => {
  assert.deepEqual(await offset('plus'), { status: 200, version: '1', k: 1 });
  assert.equal((await offset('added')).status, 404);
  write('added/config.pbtxt', config('added'));
  write('added/1/model.js', plus(10));
  await poll();
  assert.deepEqual(await entriesOf('added'), [{ name: 'added', version: '1', state: 'READY' }]);
  assert.deepEqual(await offset('added'), { status: 200, version: '1', k: 10 });
  await assertSimpleCorrect(port);
});

test('poll: a new version is served; the old one is unloaded per the version policy (latest 1)', async () => {
  write('plus/2/model.js', plus(2));
  await poll();
  assert.deepEqual(await offset('plus'), { status: 200, version: '2', k: 2 });
  assert.deepEqual(await entriesOf('plus'), [
    { name: 'plus', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
    { name: 'plus', version: '2', state: 'READY' },
  ]);
  const v1 = await offset('plus', '1');
  assert.equal(v1.status, 503, JSON.stringify(v1));
  assert.match(v1.error ?? '', /version 1 is not at ready state/);
  // With policy `all`, both versions serve.
  write('plus/config.pbtxt', config('plus', 'version_policy: { all { } }'));
  await poll();
  assert.deepEqual(await offset('plus', '1'), { status: 200, version: '1', k: 1 });
  assert.deepEqual(await offset('plus'), { status: 200, version: '2', k: 2 });
  await assertSimpleCorrect(port);
});

test('poll: a removed version folder is unloaded', async () => {
  rmSync(file('plus', '2'), { recursive: true });
  await poll();
  assert.deepEqual(await entriesOf('plus'), [
    { name: 'plus', version: '1', state: 'READY' },
    { name: 'plus', version: '2', state: 'UNAVAILABLE', reason: 'unloaded' },
  ]);
  assert.deepEqual(await offset('plus'), { status: 200, version: '1', k: 1 });
  assert.equal((await offset('plus', '2')).status, 503);
});

test('poll: a config.pbtxt replaced by a broken one keeps the last good version serving (as Triton)', async () => {
  const good = readFileSync(file('plus', 'config.pbtxt'), 'utf8');
  write('plus/config.pbtxt', 'name: "plus"\nbackend: "js"\ninput [ { name: ');
  await poll();
  assert.deepEqual(await offset('plus'), { status: 200, version: '1', k: 1 });
  assert.deepEqual(await entriesOf('plus'), [
    { name: 'plus', version: '1', state: 'READY' },
    { name: 'plus', version: '2', state: 'UNAVAILABLE', reason: 'unloaded' },
  ]);
  // Still broken at the next poll: not retried, still serving.
  await poll();
  assert.deepEqual(await offset('plus'), { status: 200, version: '1', k: 1 });
  // Fixed, with a new version: picked up.
  write('plus/config.pbtxt', good);
  write('plus/3/model.js', plus(3));
  await poll();
  assert.deepEqual(await offset('plus', '3'), { status: 200, version: '3', k: 3 });
  assert.deepEqual(await offset('plus', '1'), { status: 200, version: '1', k: 1 });
  await assertSimpleCorrect(port);
});

test('poll: a half-written model.js: a new model is UNAVAILABLE with the reason, a serving one keeps serving', async (t) => {
  const full = plus(5);
  write('half/config.pbtxt', config('half'));
  write('half/1/model.js', full.slice(0, Math.floor(full.length * 0.6)));
  await poll();
  const [entry, ...rest] = await entriesOf('half');
  assert.equal(rest.length, 0);
  assert.equal(entry?.state, 'UNAVAILABLE', JSON.stringify(entry));
  assert.match(entry?.reason ?? '', /SyntaxError|Unexpected|missing|expected/i);
  assert.doesNotMatch(entry?.reason ?? '', new RegExp(repo.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no server paths');
  const r = await offset('half');
  assert.ok(r.status === 400 || r.status === 404 || r.status === 503, JSON.stringify(r));
  // Others unaffected.
  await assertSimpleCorrect(port);
  assert.deepEqual(await offset('added'), { status: 200, version: '1', k: 10 });

  // The writer finishes: the next poll loads it.
  write('half/1/model.js', full);
  await poll();
  assert.deepEqual(await entriesOf('half'), [{ name: 'half', version: '1', state: 'READY' }]);
  assert.deepEqual(await offset('half'), { status: 200, version: '1', k: 5 });

  // A serving version's model.js caught half-rewritten: the loaded one keeps serving.
  if (import.meta.url.endsWith('.ts')) {
    // tsx's ESM loader hands back the previously compiled module for a path whose new text does
    // not compile (measured: import(`model.js?mtime=…`) of a truncated file yields the old
    // exports), so this part only means something from dist/ under plain node (`npm test`).
    t.diagnostic('rewrite of a serving model.js not checked under tsx (its loader caches by path)');
    return;
  }
  write('added/1/model.js', plus(11).slice(0, 40));
  await poll();
  assert.deepEqual(await offset('added'), { status: 200, version: '1', k: 10 });
  assert.deepEqual(await entriesOf('added'), [{ name: 'added', version: '1', state: 'READY' }]);
  write('added/1/model.js', plus(11));
  await poll();
  assert.deepEqual(await offset('added'), { status: 200, version: '1', k: 11 });
});

test('poll: a deleted model folder is unloaded and removed from the index', async () => {
  rmSync(file('added'), { recursive: true });
  rmSync(file('half'), { recursive: true });
  await poll();
  const names = new Set((await index()).map((e) => e.name));
  assert.ok(!names.has('added') && !names.has('half'), [...names].join(', '));
  const r = await offset('added');
  assert.equal(r.status, 404);
  assert.match(r.error ?? '', /Request for unknown model: 'added' is not found/);
  assert.deepEqual(await offset('plus', '3'), { status: 200, version: '3', k: 3 });
  await assertSimpleCorrect(port);
  // Everything left is READY (versions unloaded on purpose aside): the server is ready again.
  const ready = await request(port, { method: 'GET', path: '/v2/health/ready' });
  assert.equal(ready.status, 200);
});
