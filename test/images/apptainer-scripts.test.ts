// images/apptainer/run-server.sh and exec.sh, with test/images/fake-apptainer.sh standing in for
// apptainer (not a Debian package): the flags they pass (--nv, --cleanenv, the repository bound
// read-only at /models), the readiness wait, the log file, and SIGTERM passed on for a clean drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, bundledModels } from '../helpers/paths.js';

const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function fakeEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const sif = path.join(dir, 'dawnserve.sif');
  writeFileSync(sif, '');
  return {
    ...process.env,
    APPTAINER: path.join(repoRoot(), 'test/images/fake-apptainer.sh'),
    FAKE_APPTAINER_ARGV: path.join(dir, 'argv'),
    DAWNSERVE_SIF: sif,
    DAWNSERVE_GPU: '1',
    ...extra,
  };
}

test('run-server.sh: binds the repository read-only with --nv, waits for ready, logs to a file, drains on SIGTERM', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dawnserve-run-server-'));
  try {
    const port = await freePort();
    const log = path.join(dir, 'logs', 'server.log');
    const child = spawn('bash', [path.join(repoRoot(), 'images/apptainer/run-server.sh'), bundledModels(),
      '--model-control-mode', 'explicit', '--load-model', 'simple'], {
      env: fakeEnv(dir, {
        DAWNSERVE_HTTP_ADDRESS: '127.0.0.1', DAWNSERVE_HTTP_PORT: String(port), DAWNSERVE_METRICS_PORT: '0',
        DAWNSERVE_BACKEND: 'cpu', DAWNSERVE_LOG_FILE: log, DAWNSERVE_READY_TIMEOUT: '60',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/run-server: ready on/.test(out)) { clearInterval(timer); resolve(); }
        if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`run-server exited: ${out}`)); }
      }, 100);
    });
    const ready = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
    assert.equal(ready.status, 200);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /server exited with 0/);
    const argv = readFileSync(path.join(dir, 'argv'), 'utf8');
    assert.match(argv, /^run --cleanenv --nv --bind \S+:\/models:ro --env XDG_RUNTIME_DIR=\S+ \S+dawnserve\.sif serve --model-repository \/models --model-control-mode explicit --load-model simple$/m);
    const logText = readFileSync(log, 'utf8');
    assert.match(logText, /dawnserve is serving/);
    assert.match(logText, /draining in-flight requests/);
    assert.match(logText, /dawnserve stopped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exec.sh: one-off command with the repository bound read-write and DAWNSERVE_* passed through', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dawnserve-exec-'));
  try {
    const { stdout } = await run('bash', [path.join(repoRoot(), 'images/apptainer/exec.sh'), 'dawnserve', 'install-deps', '/models', '--dry-run'], {
      env: fakeEnv(dir, { DAWNSERVE_MODELS: bundledModels(), DAWNSERVE_GPU: '0', DAWNSERVE_LOG_LEVEL: 'warn' }),
    });
    assert.match(stdout, /nothing to install/);
    const argv = readFileSync(path.join(dir, 'argv'), 'utf8');
    assert.match(argv, /^exec --cleanenv --bind \S+\/models:\/models \S+dawnserve\.sif dawnserve install-deps \/models --dry-run$/m);
    assert.doesNotMatch(argv, /--nv/);
    await assert.rejects(run('bash', [path.join(repoRoot(), 'images/apptainer/exec.sh')], { env: fakeEnv(dir) }), /usage/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
