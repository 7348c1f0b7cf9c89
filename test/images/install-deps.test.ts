// `dawnserve install-deps`: per-model package.json installs inside a Triton repository. Runs the
// real npm, offline: the dependencies are local `file:` folders, so no registry is contacted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { findModelPackages, formatInstallSummary, installDepsExitCode, installModelDeps, npmArgs } from '../../src/cli/install-deps.js';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const cli = () => path.join(repoRoot(), 'dist', 'src', 'cli.js');

let repo: string;

function write(rel: string, content: string | object): void {
  const file = path.join(repo, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

/** A model.js that imports its own dependency, as a JS function model with a package.json would. */
const modelJs = (dep: string) => `import { greet } from '${dep}';\nexport const hello = () => greet();\n`;
const localDep = (name: string) => ({ name, version: '1.0.0', type: 'module', main: 'index.js' });

function makeRepo(): void {
  repo = mkdtempSync(path.join(tmpdir(), 'dawnserve-install-deps-'));
  // package.json in the model folder, no lockfile → npm install
  write('greeter/package.json', { name: 'greeter-model', private: true, type: 'module', dependencies: { 'greet-lib': 'file:vendor/greet-lib' } });
  write('greeter/vendor/greet-lib/package.json', localDep('greet-lib'));
  write('greeter/vendor/greet-lib/index.js', "export const greet = () => 'hello from greet-lib';\n");
  write('greeter/config.pbtxt', 'backend: "js"\n');
  write('greeter/1/model.js', modelJs('greet-lib'));
  // package.json in a version folder, with a lockfile → npm ci
  write('versioned/2/package.json', { name: 'versioned-model', private: true, dependencies: {} });
  write('versioned/2/package-lock.json', {
    name: 'versioned-model', lockfileVersion: 3, requires: true,
    packages: { '': { name: 'versioned-model' } },
  });
  // no package.json anywhere → skipped
  write('plain/1/model.js', 'export const infer = () => ({});\n');
  // a non-version folder and hidden folders are not model/version folders
  write('plain/assets/package.json', { name: 'not-a-version' });
  write('.hidden/package.json', { name: 'hidden' });
}

before(() => {
  makeRepo();
  // Belt and braces: even a mistake in the fixture must not reach a registry from a test.
  process.env['npm_config_offline'] = 'true';
  process.env['npm_config_update_notifier'] = 'false';
});
after(() => { rmSync(repo, { recursive: true, force: true }); });

test('finds package.json in model folders and positive-integer version folders only', () => {
  const found = findModelPackages(repo).map((p) => (p.version ? `${p.model}/${p.version}` : p.model));
  assert.deepEqual(found, ['greeter', 'versioned/2']);
});

test('npm ci with a lockfile, npm install without; never dev dependencies', () => {
  assert.deepEqual(npmArgs(path.join(repo, 'greeter')).slice(0, 2), ['install', '--omit=dev']);
  assert.deepEqual(npmArgs(path.join(repo, 'versioned', '2')).slice(0, 2), ['ci', '--omit=dev']);
});

test('dry run lists what would run and installs nothing', async () => {
  const results = await installModelDeps(repo, { dryRun: true });
  assert.deepEqual(results.map((r) => [r.model, r.version, r.args[0], r.status]), [
    ['greeter', undefined, 'install', 'dry-run'],
    ['versioned', '2', 'ci', 'dry-run'],
  ]);
  assert.equal(existsSync(path.join(repo, 'greeter', 'node_modules')), false);
  assert.equal(installDepsExitCode(results), 0);
  assert.match(formatInstallSummary(repo, results), /would be installed \(dry run\)/);
});

test('the CLI dry run prints the summary and exits 0', async () => {
  const { stdout } = await run(process.execPath, [cli(), 'install-deps', repo, '--dry-run']);
  assert.match(stdout, /greeter\s+npm install\s+dry-run/);
  assert.match(stdout, /versioned\/2\s+npm ci\s+dry-run/);
  const json = await run(process.execPath, [cli(), 'install-deps', repo, '--dry-run', '--json']);
  assert.equal(JSON.parse(json.stdout).length, 2);
});

test('installs into the model folder, where model.js resolves its dependency', { timeout: 120_000 }, async () => {
  const results = await installModelDeps(repo);
  for (const r of results) assert.equal(r.status, 'ok', `${r.dir}: ${r.error ?? ''}`);
  assert.ok(existsSync(path.join(repo, 'greeter', 'node_modules', 'greet-lib', 'index.js')));
  const model = await import(pathToFileURL(path.join(repo, 'greeter', '1', 'model.js')).href) as { hello: () => string };
  assert.equal(model.hello(), 'hello from greet-lib');
});

test('a failing install is reported with npm output and a non-zero exit', { timeout: 120_000 }, async () => {
  write('broken/package.json', '{ "name": "broken", ');
  try {
    const results = await installModelDeps(repo);
    const broken = results.find((r) => r.model === 'broken');
    assert.equal(broken?.status, 'failed');
    assert.notEqual(broken.exitCode, 0);
    assert.match(broken.error ?? '', /JSON|parse/i);
    assert.equal(results.filter((r) => r.status === 'ok').length, 2, 'the other models still install');
    assert.equal(installDepsExitCode(results), 1);
    assert.match(formatInstallSummary(repo, results), /1 of 3 failed/);
    await assert.rejects(run(process.execPath, [cli(), 'install-deps', repo]), (e: { code?: number; stdout?: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stdout ?? '', /broken\s+npm install\s+failed/);
      return true;
    });
  } finally {
    rmSync(path.join(repo, 'broken'), { recursive: true, force: true });
  }
});

test('a repository that is not a directory is an error; one without package.json is a no-op', async () => {
  await assert.rejects(installModelDeps(path.join(repo, 'missing')), /not a directory/);
  const empty = mkdtempSync(path.join(tmpdir(), 'dawnserve-install-deps-empty-'));
  try {
    const results = await installModelDeps(empty);
    assert.deepEqual(results, []);
    assert.match(formatInstallSummary(empty, results), /nothing to install/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
