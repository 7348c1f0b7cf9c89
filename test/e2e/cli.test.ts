// The `dawnserve` binary as a user runs it: serve on a port, answer health, drain on SIGTERM, exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { repoRoot, bundledModels } from '../helpers/paths.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, deadlineMs: number): Promise<number> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return 200;
    } catch { /* not listening yet */ }
    if (Date.now() > end) return 0;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('dawnserve serve answers ready, serves metrics, and exits 0 on SIGTERM', async () => {
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  const child = spawn(process.execPath, [cli, 'serve', '--model-repository', bundledModels(), '--http-address', '127.0.0.1',
    '--http-port', String(httpPort), '--backend', 'cpu', '--log-level', 'warn'], {
    env: { ...process.env, DAWNSERVE_METRICS_PORT: String(metricsPort) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    assert.equal(await waitReady(`http://127.0.0.1:${httpPort}/v2/health/ready`, 60_000), 200, stderr);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /# TYPE nv_inference_request_success counter/);
    const [code] = await Promise.all([once(child, 'exit'), Promise.resolve(child.kill('SIGTERM'))]);
    assert.equal(code[0], 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('dawnserve rejects an unknown backend with a clear message', async () => {
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  const child = spawn(process.execPath, [cli, 'serve', '--backend', 'tpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.match(stderr, /--backend <name>' argument 'tpu' is invalid/);
});
