// The on-disk model repository (Triton layout): <repo>/<model>/config.pbtxt and
// <repo>/<model>/<version>/... with positive integer version folders. Reading only; the
// lifecycle lives in model-manager.ts. Every path is resolved and kept inside the repository, so
// neither a crafted model name nor a symlink can reach files outside it.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ModelVersionPolicy } from './model-config.js';
import { invalidArg } from './errors.js';

export const CONFIG_FILENAME = 'config.pbtxt';

/** Triton's load-API name checks (protocol notes §2 item 43). */
export function validateModelName(name: string): void {
  if (name.trim() === '') throw invalidArg('Model name cannot be empty. Please enter a valid name to deploy.');
  const t = name.trim();
  if (name.includes('/') || name.includes('\\') || name.includes('\0') || t === '..' || t === '.') {
    throw invalidArg('model name must not contain path traversal characters');
  }
}

/** A model folder as found on disk. */
export interface RepositoryModel {
  name: string;
  /** Real path of `<repo>/<model>`. */
  dir: string;
  /** config.pbtxt text, when the file exists. */
  configText?: string;
  /** Version folder → fingerprint of its files (changes when a file is added, removed or rewritten). */
  versions: Map<number, string>;
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** Names, sizes and mtimes of the files under `dir` (two levels), hashed. */
async function fingerprint(dir: string, depth = 2): Promise<string> {
  const h = createHash('sha1');
  const walk = async (d: string, level: number, prefix: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = path.join(d, e.name);
      const st = await fs.stat(full).catch(() => undefined);
      if (!st) continue;
      h.update(`${prefix}${e.name}:${st.size}:${st.mtimeMs}\n`);
      if (st.isDirectory() && level < depth) await walk(full, level + 1, `${prefix}${e.name}/`);
    }
  };
  await walk(dir, 1, '');
  return h.digest('hex');
}

export class ModelRepository {
  private rootReal: string | undefined;

  constructor(readonly root: string) {}

  private async realRoot(): Promise<string> {
    this.rootReal ??= await fs.realpath(this.root);
    return this.rootReal;
  }

  /** Model folder names (hidden entries and plain files skipped), sorted. */
  async list(): Promise<string[]> {
    const root = await this.realRoot();
    const entries = await fs.readdir(root, { withFileTypes: true });
    const names: string[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (await this.modelDir(e.name)) names.push(e.name);
    }
    return names.sort();
  }

  /** Real path of a model folder inside the repository, or undefined when there is none. */
  async modelDir(name: string): Promise<string | undefined> {
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.' || name === '') return undefined;
    const root = await this.realRoot();
    let real: string;
    try {
      real = await fs.realpath(path.join(root, name));
    } catch {
      return undefined;
    }
    if (!isInside(root, real)) return undefined;
    const st = await fs.stat(real).catch(() => undefined);
    return st?.isDirectory() ? real : undefined;
  }

  /** Reads one model folder; undefined when it is not in the repository. */
  async read(name: string): Promise<RepositoryModel | undefined> {
    const dir = await this.modelDir(name);
    if (!dir) return undefined;
    const root = await this.realRoot();
    const configPath = path.join(dir, CONFIG_FILENAME);
    const configText = await fs.readFile(configPath, 'utf8').catch(() => undefined);
    const versions = new Map<number, string>();
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (!/^[0-9]+$/.test(e.name)) continue;
      const v = Number(e.name);
      if (!Number.isSafeInteger(v) || v < 1) continue;
      const vdir = await fs.realpath(path.join(dir, e.name)).catch(() => undefined);
      if (!vdir || !isInside(root, vdir)) continue;
      const st = await fs.stat(vdir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      versions.set(v, await fingerprint(vdir));
    }
    return { name, dir, ...(configText !== undefined ? { configText } : {}), versions };
  }

  /** Real path of `<model>/<version>` (already checked by read()). */
  versionDir(model: RepositoryModel, version: number): string {
    return path.join(model.dir, String(version));
  }

  static fileExists = exists;
}

/** The versions a policy selects from those on disk, ascending. */
export function selectVersions(policy: ModelVersionPolicy, available: Iterable<number>): number[] {
  const all = [...available].sort((a, b) => a - b);
  if ('all' in policy) return all;
  if ('specific' in policy) {
    const wanted = new Set(policy.specific.versions);
    return all.filter((v) => wanted.has(v));
  }
  return all.slice(Math.max(0, all.length - policy.latest.num_versions));
}
