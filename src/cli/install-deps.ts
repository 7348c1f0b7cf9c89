// `dawnserve install-deps <repo>`: a JS function model (backend "js") may carry its own package.json.
// Its dependencies are installed into the model folder itself, so that they travel with the
// repository: on a cluster the repository is bind-mounted into the container (Apptainer `--bind`,
// Docker `-v`), and Node resolves `import 'x'` from model.js by walking up to <model>/node_modules.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface InstallDepsOptions {
  /** List what would be installed, run nothing. */
  dryRun?: boolean;
  /** npm executable (default: $DAWNSERVE_NPM, else `npm` on PATH). */
  npm?: string;
  /** Called with npm's output as it arrives (default: discarded; the tail is kept in the result). */
  onOutput?: (chunk: string) => void;
}

export interface Result {
  /** Model folder name in the repository. */
  model: string;
  /** Version folder name when the package.json lives in a version folder. */
  version?: string;
  /** Absolute folder where npm runs. */
  dir: string;
  /** The npm arguments used (`ci …` with a lockfile, `install …` without). */
  args: string[];
  status: 'ok' | 'failed' | 'dry-run';
  exitCode?: number;
  ms?: number;
  /** Last lines of npm's output when it failed. */
  error?: string;
}

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];
const COMMON_ARGS = ['--omit=dev', '--no-audit', '--no-fund'];
const ERROR_TAIL_LINES = 20;

const isDir = (p: string): boolean => {
  try { return statSync(p).isDirectory(); } catch { return false; }
};

/** Folders holding a package.json: `<model>/` and `<model>/<version>/` (positive integer names, as Triton). */
export function findModelPackages(repo: string): Array<Pick<Result, 'model' | 'version' | 'dir'>> {
  const root = path.resolve(repo);
  if (!isDir(root)) throw new Error(`model repository '${repo}' is not a directory`);
  const found: Array<Pick<Result, 'model' | 'version' | 'dir'>> = [];
  for (const model of readdirSync(root).sort()) {
    const modelDir = path.join(root, model);
    if (model.startsWith('.') || model === 'node_modules' || !isDir(modelDir)) continue;
    if (existsSync(path.join(modelDir, 'package.json'))) found.push({ model, dir: modelDir });
    const versions = readdirSync(modelDir).filter((v) => /^[1-9]\d*$/.test(v) && isDir(path.join(modelDir, v)));
    for (const version of versions.sort((a, b) => Number(a) - Number(b))) {
      const dir = path.join(modelDir, version);
      if (existsSync(path.join(dir, 'package.json'))) found.push({ model, version, dir });
    }
  }
  return found;
}

/** `npm ci` when a lockfile pins the tree (reproducible), `npm install` otherwise; never dev deps. */
export function npmArgs(dir: string): string[] {
  const locked = LOCKFILES.some((f) => existsSync(path.join(dir, f)));
  return [locked ? 'ci' : 'install', ...COMMON_ARGS];
}

function runNpm(npm: string, args: string[], cwd: string, onOutput?: (chunk: string) => void): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(npm, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
    const take = (b: Buffer) => {
      const s = b.toString('utf8');
      output = (output + s).slice(-64 * 1024);
      onOutput?.(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => resolve({ code: 127, output: output + `\n${npm}: ${e.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

/** Installs every model's dependencies, one folder at a time (npm's cache is not built for concurrent writers). */
export async function installModelDeps(repo: string, opts: InstallDepsOptions = {}): Promise<Result[]> {
  const npm = opts.npm ?? process.env['DAWNSERVE_NPM'] ?? 'npm';
  const results: Result[] = [];
  for (const pkg of findModelPackages(repo)) {
    const args = npmArgs(pkg.dir);
    if (opts.dryRun) {
      results.push({ ...pkg, args, status: 'dry-run' });
      continue;
    }
    const started = Date.now();
    const { code, output } = await runNpm(npm, args, pkg.dir, opts.onOutput);
    const ms = Date.now() - started;
    results.push(code === 0
      ? { ...pkg, args, status: 'ok', exitCode: 0, ms }
      : { ...pkg, args, status: 'failed', exitCode: code, ms, error: output.trimEnd().split('\n').slice(-ERROR_TAIL_LINES).join('\n') });
  }
  return results;
}

export function formatInstallSummary(repo: string, results: Result[]): string {
  if (results.length === 0) return `install-deps: no model in ${repo} has a package.json; nothing to install\n`;
  const rows = results.map((r) => [
    r.version ? `${r.model}/${r.version}` : r.model,
    `npm ${r.args[0]}`,
    r.status,
    r.ms === undefined ? '' : `${(r.ms / 1000).toFixed(1)} s`,
  ]);
  const head = ['model', 'command', 'result', 'time'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n';
  let out = line(head) + rows.map(line).join('');
  for (const r of results.filter((x) => x.status === 'failed')) {
    out += `\n${r.dir}: npm ${r.args.join(' ')} exited with ${r.exitCode}\n${r.error ?? ''}\n`;
  }
  const failed = results.filter((r) => r.status === 'failed').length;
  out += failed
    ? `\ninstall-deps: ${failed} of ${results.length} failed\n`
    : `\ninstall-deps: ${results.length} folder(s) ${results[0]!.status === 'dry-run' ? 'would be installed (dry run)' : 'installed'}\n`;
  return out;
}

/** 0 when every install worked (or it was a dry run), 1 otherwise. */
export const installDepsExitCode = (results: Result[]): number => (results.some((r) => r.status === 'failed') ? 1 : 0);
