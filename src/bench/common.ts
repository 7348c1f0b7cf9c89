// Shared by `dawnserve bench http` and `dawnserve bench models`: percentiles, the machine
// description recorded next to every result, text tables, and child processes that say "ready".
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryGiB: number;
  /** 1-minute load average when the run started: other work on the box skews every number. */
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  return {
    nproc: cpus().length, cpuModel, node: process.version, platform: `${process.platform}/${process.arch}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** Nearest-rank percentile of an ascending array (p in [0, 1]); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A plain text table: first row is the header, columns right-aligned except the first ones given. */
export function textTable(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}

export function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
}

/** The repository root (nearest folder above this module with a package.json), from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/**
 * A sibling module of this one, as the running code sees it: `x.js` next to the compiled file, or
 * `x.ts` when running from source through tsx (fork inherits execArgv, so the loader follows).
 */
export function siblingModule(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  return join(dirname(here), `${name}${ext}`);
}

export interface ReadyChild<M> {
  child: ChildProcess;
  ready: M;
  /** Last lines the child wrote to stdout/stderr (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Forks `module` with an IPC channel and waits (at most `timeoutMs`) for its first message, which
 * must be `{ ready: ... }` or `{ error: string }`. stop() sends SIGTERM, then SIGKILL after 5 s.
 * `execArgv` defaults to this process's (so tsx's loader follows when running from source).
 */
export async function forkReady<M>(
  module: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv,
): Promise<ReadyChild<M>> {
  const child = fork(module, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env, execArgv });
  let tail = '';
  const keep = (b: Buffer) => { tail = (tail + b.toString('utf8')).slice(-4000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ready = await new Promise<M>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${module} did not become ready within ${timeoutMs} ms\n${tail}`)), timeoutMs);
      child.once('message', (m: unknown) => {
        clearTimeout(timer);
        const msg = m as { ready?: M; error?: string };
        if (msg.error !== undefined) reject(new Error(msg.error));
        else resolve(msg.ready as M);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${module} exited (${code ?? signal}) before it was ready\n${tail}`));
      });
    });
    return { child, ready, output: () => tail, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Sends one message to a child and waits for its reply (the next message it sends). */
export function ask<R>(child: ChildProcess, message: unknown, timeoutMs: number): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no reply from child within ${timeoutMs} ms`)); }, timeoutMs);
    const onMessage = (m: unknown) => { cleanup(); resolve(m as R); };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`child exited (${code}) before replying`)); };
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit); };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message as object);
  });
}

/** Parses `1,4,16` into positive integers within [1, max]. */
export function parseIntList(flag: string, value: string, max: number): number[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) throw new Error(`${flag}: '${s}' is not an integer in [1, ${max}]`);
    return Number(s);
  });
  if (list.length === 0) throw new Error(`${flag}: empty list`);
  return [...new Set(list)];
}
