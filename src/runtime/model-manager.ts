// Model lifecycle, as Triton's model repository manager: which models and versions are loaded,
// their states (LOADING, READY, UNLOADING, UNAVAILABLE + reason), the model-control modes
// none / explicit / poll, and models registered through the library API. A model that fails to
// load is UNAVAILABLE with its reason and never stops the others.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ModelState, RepositoryIndexEntry } from './api.js';
import type { BackendName } from './backends.js';
import type { Executor, ExecutorContext, ExecutorFactory, DerivedConfig } from './executor.js';
import type { ModelConfig } from './model-config.js';
import { InferenceServerError, internal, invalidArg, unavailable } from './errors.js';
import {
  completeConfig, ModelConfigError, needsAutoComplete, parseConfigJson, parseConfigText, versionPolicyOf,
  type PartialConfig,
} from './config/normalize.js';
import type { PlainObject } from './config/proto-schema.js';
import { CONFIG_FILENAME, ModelRepository, selectVersions, validateModelName, type RepositoryModel } from './repository.js';
import { ModelScheduler, type Scheduler, type SchedulerObserver } from './scheduler.js';
import { SequenceBatcher } from './sequence-batcher.js';

export type ModelControlMode = 'none' | 'explicit' | 'poll';

const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
const UNLOADED = 'unloaded';
/** How long device-loss recovery waits for a version's queue to drain before unloading it anyway. */
const RECOVERY_DRAIN_MS = 10_000;
/** Triton answers this in every mode but explicit (model_repository_manager.cc). */
export const MODEL_CONTROL_DISABLED = 'explicit model load / unload is not allowed if polling is enabled';

export interface ModelRepositoryManagerOptions {
  /** Repository folder; optional when every model comes from addModel(). */
  repositoryPath?: string;
  controlMode: ModelControlMode;
  /** `--load-model` names for explicit mode; `*` loads everything. */
  startupModels?: readonly string[];
  factories: readonly ExecutorFactory[];
  /** The server's tfjs backend; a model's `parameters.backend` overrides it. */
  backend: BackendName;
  log: Logger;
  /** Poll interval for `poll` mode (seconds, default 15 as tritonserver). */
  pollSecs?: number;
  /** Called for each version that becomes READY; the runtime hooks statistics and metrics here. */
  observe?: (model: string, version: number) => SchedulerObserver | undefined;
  onLoaded?: (model: string, version: number, seconds: number) => void;
  /** Called for each version that stops serving on unload; the runtime drops its metric series here. */
  onUnloaded?: (model: string, version: number) => void;
  /** `--model-load-timeout-secs` in ms: a version (or the model file read for auto-complete)
   *  not loaded by then is UNAVAILABLE with the reason; 0 or absent = no limit. */
  loadTimeoutMs?: number;
}

export interface ModelVersion {
  readonly version: number;
  state: ModelState;
  reason?: string;
  executor?: Executor;
  scheduler?: Scheduler;
  /** How this version was loaded: device-loss recovery loads it again the same way. */
  origin?: { ctx: ExecutorContext; load: (ctx: ExecutorContext) => Promise<Executor> };
}

export interface ManagedModel {
  readonly name: string;
  readonly source: 'repository' | 'api';
  /** Config of the versions now serving; undefined until a load succeeded. */
  config?: ModelConfig;
  /** Why the model as a whole could not load (bad config, no executor, ...). */
  reason?: string;
  versions: Map<number, ModelVersion>;
  /** Output name → class labels, from the outputs' label_filename. */
  labels: Map<string, string[]>;
  /** What the current state was built from; a poll reloads only when it changes. */
  sourceKey?: string;
}

/** Loads an executor for a model registered through the library API. */
export type ApiModelLoader = (ctx: ExecutorContext) => Promise<Executor>;

interface Prepared {
  config: ModelConfig;
  factory: ExecutorFactory;
  backend: BackendName;
  versions: number[];
  labels: Map<string, string[]>;
  sourceKey: string;
}

const isGpu = (b: BackendName): boolean => b === 'tensorflow' || b === 'webgpu';
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Reasons (shown in the repository index and load errors) name files relative to the repository:
 * clients are not told where the server keeps its files.
 */
function relativeToRepository(text: string, modelDir: string): string {
  const root = path.dirname(modelDir);
  return root.length > 1 ? text.split(root + path.sep).join('') : text;
}

export class ModelRepositoryManager {
  readonly controlMode: ModelControlMode;
  private readonly repo: ModelRepository | undefined;
  private readonly models = new Map<string, ManagedModel>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly apiLoaders = new Map<string, ApiModelLoader>();
  private readonly fingerprints = new Map<string, Map<number, string>>();
  /** Temp folders of models loaded from uploaded files. */
  private readonly uploads = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private started = false;
  private closed = false;
  /** The server's backend for models that pin none; changes when device recovery falls back. */
  private defaultBackend: BackendName;
  /** Per backend: device losses seen, and the reason while its models are being reloaded. */
  private readonly losses = new Map<BackendName, { count: number; reason: string; recovering: boolean }>();

  constructor(private readonly opts: ModelRepositoryManagerOptions) {
    this.controlMode = opts.controlMode;
    this.defaultBackend = opts.backend;
    this.repo = opts.repositoryPath ? new ModelRepository(path.resolve(opts.repositoryPath)) : undefined;
  }

  /** Initial load for the control mode; resolves when every startup model is READY or UNAVAILABLE. */
  async start(): Promise<void> {
    if (this.repo) {
      let names: string[] = [];
      if (this.controlMode === 'explicit') {
        const wanted = this.opts.startupModels ?? [];
        names = wanted.includes('*') ? await this.repo.list() : [...new Set(wanted)];
      } else {
        names = await this.repo.list();
      }
      await Promise.all(names.map((n) => this.withLock(n, () => this.loadFromRepository(n, undefined, false))
        .catch((e: unknown) => this.opts.log.error({ model: n, err: message(e) }, 'model failed to load'))));
    }
    this.started = true;
    if (this.controlMode === 'poll' && this.repo) {
      const secs = this.opts.pollSecs ?? 15;
      if (secs > 0) {
        this.pollTimer = setInterval(() => { void this.pollNow(); }, secs * 1000);
        this.pollTimer.unref();
      }
    }
  }

  /** Rescans the repository (poll mode's periodic step; tests call it directly). */
  pollNow(): Promise<void> {
    // Overlapping polls would race on the same models; join the one in flight.
    this.polling ??= this.pollOnce().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    if (!this.repo || this.closed) return;
    const names = new Set(await this.repo.list());
    const work: Promise<unknown>[] = [];
    for (const [name, m] of this.models) {
      if (m.source === 'repository' && !names.has(name)) {
        work.push(this.withLock(name, async () => {
          await this.unloadVersions(m, [...m.versions.keys()]);
          this.models.delete(name);
        }));
      }
    }
    for (const name of names) {
      work.push(this.withLock(name, () => this.loadFromRepository(name, undefined, true))
        .catch((e: unknown) => this.opts.log.error({ model: name, err: message(e) }, 'model failed to load')));
    }
    await Promise.all(work);
  }

  /** The load API (explicit mode): (re)reads the model from the repository. */
  async load(name: string, configJson?: string, files?: Record<string, Uint8Array>): Promise<void> {
    if (this.controlMode !== 'explicit') throw unavailable(MODEL_CONTROL_DISABLED);
    validateModelName(name);
    if (this.apiLoaders.has(name)) {
      await this.withLock(name, () => this.loadApiModel(name, this.models.get(name)?.config));
      return;
    }
    if (files && Object.keys(files).length > 0) {
      await this.withLock(name, () => this.loadUploaded(name, configJson, files));
      return;
    }
    await this.withLock(name, async () => {
      await this.loadFromRepository(name, configJson, false);
      await this.dropUpload(name);
    });
  }

  /**
   * Triton's load with `file:<version>/<path>` parameters: the files form a private model folder
   * (in a temp dir, removed on unload) and the `config` parameter is required.
   */
  private async loadUploaded(name: string, configJson: string | undefined, files: Record<string, Uint8Array>): Promise<void> {
    if (configJson === undefined) {
      throw invalidArg(`failed to load '${name}', the 'config' parameter must be provided when model files are uploaded`);
    }
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'dawnserve-upload-'));
    try {
      for (const [key, content] of Object.entries(files)) {
        const rel = key.startsWith('file:') ? key.slice('file:'.length) : key;
        const target = path.resolve(root, name, rel);
        const inside = path.relative(path.join(root, name), target);
        if (rel === '' || path.isAbsolute(rel) || inside.startsWith('..') || path.isAbsolute(inside)) {
          throw invalidArg(`failed to load '${name}', invalid model file path '${key}'`);
        }
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.writeFile(target, content);
      }
      await this.loadFromRepository(name, configJson, false, new ModelRepository(root));
    } catch (e) {
      await fs.rm(root, { recursive: true, force: true });
      throw e;
    }
    await this.dropUpload(name);
    this.uploads.set(name, root);
  }

  private async dropUpload(name: string): Promise<void> {
    const dir = this.uploads.get(name);
    if (!dir) return;
    this.uploads.delete(name);
    await fs.rm(dir, { recursive: true, force: true });
  }

  /** The unload API (explicit mode). Versions stay listed as UNAVAILABLE "unloaded", as in Triton. */
  async unload(name: string): Promise<void> {
    if (this.controlMode !== 'explicit') throw unavailable(MODEL_CONTROL_DISABLED);
    await this.withLock(name, async () => {
      const m = this.models.get(name);
      if (!m) return;
      await this.unloadVersions(m, [...m.versions.keys()]);
      m.sourceKey = undefined;
      await this.dropUpload(name);
    });
  }

  /**
   * Registers a model that is not on disk (the PyTriton-style library API) and loads it as
   * version 1. The config is completed and validated like a repository config.
   */
  async addModel(config: Partial<ModelConfig> & { name: string }, loader: ApiModelLoader): Promise<void> {
    validateModelName(config.name);
    const existing = this.models.get(config.name);
    if (existing && existing.source === 'repository') {
      throw new InferenceServerError('ALREADY_EXISTS', `model '${config.name}' already exists in the model repository`);
    }
    this.apiLoaders.set(config.name, loader);
    await this.withLock(config.name, () => this.loadApiModel(config.name, config));
  }

  /** Unloads and forgets a model registered with addModel(). */
  async removeModel(name: string): Promise<void> {
    await this.withLock(name, async () => {
      const m = this.models.get(name);
      if (!m || m.source !== 'api') return;
      await this.unloadVersions(m, [...m.versions.keys()]);
      this.models.delete(name);
      this.apiLoaders.delete(name);
    });
  }

  get(name: string): ManagedModel | undefined {
    return this.models.get(name);
  }

  all(): ManagedModel[] {
    return [...this.models.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Triton's strict readiness (its default): ready once startup finished and every model that
   * should be loaded has all its versions READY; versions unloaded on purpose do not count.
   */
  isReady(): boolean {
    if (!this.started || this.closed) return false;
    for (const m of this.models.values()) {
      if (m.versions.size === 0 && m.reason !== undefined) return false;
      for (const v of m.versions.values()) {
        if (v.state !== 'READY' && !(v.state === 'UNAVAILABLE' && v.reason === UNLOADED)) return false;
      }
    }
    return true;
  }

  /** Repository index: every model folder plus API models, with per-version state. */
  async index(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    const entries: RepositoryIndexEntry[] = [];
    const names = new Set<string>(this.models.keys());
    if (this.repo) for (const n of await this.repo.list()) names.add(n);
    for (const name of [...names].sort()) {
      const m = this.models.get(name);
      if (!m || (m.versions.size === 0 && m.reason === undefined)) {
        // In the repository but never loaded (explicit mode); Triton lists the name alone.
        if (!readyOnly) entries.push({ name, state: 'UNKNOWN' });
        continue;
      }
      if (m.versions.size === 0) {
        if (!readyOnly) entries.push({ name, state: 'UNAVAILABLE', reason: m.reason! });
        continue;
      }
      for (const v of [...m.versions.values()].sort((a, b) => a.version - b.version)) {
        if (readyOnly && v.state !== 'READY') continue;
        entries.push({ name, version: String(v.version), state: v.state, ...(v.reason ? { reason: v.reason } : {}) });
      }
    }
    return entries;
  }

  /** Stops polling, lets in-flight requests finish, unloads every model. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.polling?.catch(() => undefined);
    await Promise.all([...this.models.values()].map((m) => this.withLock(m.name, async () => {
      await this.unloadVersions(m, [...m.versions.keys()]);
      await this.dropUpload(m.name);
    })));
  }

  // -------------------------------------------------------------------------------------------
  // GPU device loss (src/runtime/device-recovery.ts drives these)

  /**
   * The device under `backend` is lost: every version on it that is serving (or about to) shows
   * LOADING with `reason` and answers 503 with it, and executions that fail from now on answer
   * 503 too, until reloadBackend has loaded them again. Synchronous, so that no request that
   * arrives after the loss is sent to the lost device.
   */
  suspendBackend(backend: BackendName, reason: string): void {
    const prev = this.losses.get(backend);
    this.losses.set(backend, { count: (prev?.count ?? 0) + 1, reason, recovering: true });
    for (const m of this.models.values()) {
      for (const v of m.versions.values()) {
        if (v.origin?.ctx.backend === backend && v.state === 'READY') {
          v.state = 'LOADING';
          v.reason = reason;
        }
      }
    }
  }

  /**
   * Reloads what suspendBackend took down: under each affected model's lifecycle lock, drains and
   * unloads every version on `backend` (their tensors live on the lost device), lets `reinit`
   * re-create the backend (it resolves to the backend to load on: `backend` again, or a fallback
   * that then also becomes the default for models that pin none), and loads them again: READY,
   * or UNAVAILABLE with the load's reason. Resolves to the number of versions reloaded / failed.
   */
  async reloadBackend(backend: BackendName, reinit: () => Promise<BackendName>): Promise<{ reloaded: number; failed: number }> {
    const onBackend = (v: ModelVersion) => v.origin?.ctx.backend === backend && (v.state === 'READY' || v.state === 'LOADING');
    const names = this.all().filter((m) => [...m.versions.values()].some(onBackend)).map((m) => m.name);
    const run = async (): Promise<{ reloaded: number; failed: number }> => {
      if (this.closed) return { reloaded: 0, failed: 0 };
      // Under the locks no other load is in progress, so LOADING here means suspended.
      const affected = this.all().filter((m) => names.includes(m.name))
        .flatMap((m) => [...m.versions.values()].filter(onBackend).map((v) => ({ m, v })));
      await Promise.all(affected.map(({ m, v }) => this.releaseExecutor(m.name, v)));
      let target: BackendName;
      try {
        target = await reinit();
      } finally {
        const loss = this.losses.get(backend);
        if (loss) loss.recovering = false;
      }
      if (target !== backend && this.defaultBackend === backend) this.defaultBackend = target;
      await Promise.all(affected.map(({ m, v }) => {
        const origin = v.origin!;
        return this.loadVersion(m.name, v, { ...origin.ctx, backend: target }, origin.load);
      }));
      const failed = affected.filter(({ v }) => v.state !== 'READY').length;
      return { reloaded: affected.length - failed, failed };
    };
    // Nested per-model locks, in name order (every other operation takes one lock only).
    const locked = names.reduceRight<() => Promise<{ reloaded: number; failed: number }>>(
      (inner, name) => () => this.withLock(name, inner), run);
    return locked();
  }

  /** Frees a version's executor without changing its state (recovery keeps it LOADING). */
  private async releaseExecutor(name: string, entry: ModelVersion): Promise<void> {
    const drained = entry.scheduler?.drain() ?? Promise.resolve();
    // A lost device should fail executions fast (Dawn rejects them); do not wait forever if not.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, RECOVERY_DRAIN_MS); });
    try {
      await Promise.race([drained, limit]);
      await entry.executor?.unload();
    } catch (e) {
      this.opts.log.warn({ model: name, version: entry.version, err: message(e) }, 'error while unloading after device loss');
    } finally {
      clearTimeout(timer);
    }
    entry.executor = undefined;
    entry.scheduler = undefined;
  }

  /**
   * An executor on a GPU backend whose failures, once its device has been lost, answer 503 with
   * the loss's reason instead of the backend's own error (Dawn's is empty on lavapipe).
   */
  private guardDeviceLoss(backend: BackendName, executor: Executor): Executor {
    return {
      execute: async (request) => {
        const lossesBefore = this.losses.get(backend)?.count ?? 0;
        try {
          return await executor.execute(request);
        } catch (e) {
          const loss = this.losses.get(backend);
          if (loss && (loss.recovering || loss.count !== lossesBefore)) throw unavailable(loss.reason);
          throw e;
        }
      },
      unload: () => executor.unload(),
    };
  }

  // -------------------------------------------------------------------------------------------

  /** Runs lifecycle operations on one model one at a time; different models proceed in parallel. */
  private withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(name, tail);
    void tail.then(() => { if (this.locks.get(name) === tail) this.locks.delete(name); });
    return run;
  }

  private record(name: string, source: ManagedModel['source']): ManagedModel {
    let m = this.models.get(name);
    if (!m) {
      m = { name, source, versions: new Map(), labels: new Map() };
      this.models.set(name, m);
    }
    return m;
  }

  /**
   * Loads or reloads a repository model. `fromPoll` skips models whose files did not change
   * (so a broken model is not retried every poll); the load API always re-reads.
   */
  private async loadFromRepository(
    name: string, configJson: string | undefined, fromPoll: boolean, repo = this.repo,
  ): Promise<void> {
    if (fromPoll && this.uploads.has(name)) return;
    const repoModel = await repo?.read(name);
    if (!repoModel) {
      if (fromPoll) return;
      throw internal(`failed to load '${name}', failed to poll from model repository`);
    }
    const existing = this.models.get(name);
    if (existing?.source === 'api') {
      throw new InferenceServerError('ALREADY_EXISTS', `model '${name}' was registered through the API`);
    }
    const rawKey = JSON.stringify([configJson ?? repoModel.configText ?? null, [...repoModel.versions]]);
    if (fromPoll && existing?.sourceKey === rawKey) return;
    const m = this.record(name, 'repository');

    let prepared: Prepared;
    try {
      prepared = await this.prepare(repoModel, configJson, rawKey);
    } catch (e) {
      const reason = relativeToRepository(message(e), repoModel.dir);
      m.sourceKey = rawKey;
      if (![...m.versions.values()].some((v) => v.state === 'READY')) {
        m.reason = reason;
        m.versions.clear();
      }
      // Keep serving what was loaded before: a bad edit should not take a working model down.
      this.opts.log.error({ model: name, err: reason }, 'model configuration rejected');
      const code = e instanceof ModelConfigError ? 'INVALID_ARG' : 'INTERNAL';
      throw new InferenceServerError(code, `failed to load '${name}', ${reason}`);
    }
    await this.applyPrepared(m, prepared, repoModel, !fromPoll);
  }

  /** Reads config, picks the executor, auto-completes and validates; no executor is loaded yet. */
  private async prepare(repoModel: RepositoryModel, configJson: string | undefined, rawKey: string): Promise<Prepared> {
    const name = repoModel.name;
    const partial: PartialConfig = configJson !== undefined
      ? parseConfigJson(configJson)
      : repoModel.configText !== undefined
        ? parseConfigText(repoModel.configText, path.join(repoModel.dir, CONFIG_FILENAME))
        : {};
    const versions = selectVersions(versionPolicyOf(partial), repoModel.versions.keys());
    if (versions.length === 0) {
      throw new ModelConfigError(`at least one version must be available under the version policy of model '${name}'`);
    }
    const latestDir = path.join(repoModel.dir, String(versions.at(-1)));
    // The model file is code or data the server opens: it must stay inside its version folder,
    // whatever a config (or a load request's config override) names.
    const named = partial.default_model_filename;
    if (typeof named === 'string' && named !== '') {
      const rel = path.relative(latestDir, path.resolve(latestDir, named));
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new ModelConfigError(`default_model_filename '${named}' of model '${name}' must name a file inside the version folder`);
      }
    }
    const factory = await this.pickFactory(name, partial, latestDir);
    const filename = typeof partial.default_model_filename === 'string' && partial.default_model_filename !== ''
      ? partial.default_model_filename : factory.defaultFilename;
    let derived: DerivedConfig | undefined;
    if (needsAutoComplete(partial)) {
      try {
        derived = await this.withLoadTimeout(factory.deriveConfig(latestDir, filename), () => undefined);
      } catch (e) {
        throw new ModelConfigError(`unable to auto-complete the configuration of '${name}' from ${filename}: ${message(e)}`);
      }
    }
    const backend = this.backendFor(name, partial);
    const config = completeConfig(partial, {
      modelName: name, derived, defaultPlatform: factory.platforms[0], defaultFilename: filename, gpu: isGpu(backend),
    });
    const labels = await this.readLabels(repoModel.dir, config);
    return { config, factory, backend, versions, labels, sourceKey: rawKey };
  }

  private async pickFactory(name: string, partial: PartialConfig, versionDir: string): Promise<ExecutorFactory> {
    const factories = this.opts.factories;
    const platform = typeof partial.platform === 'string' ? partial.platform : '';
    const backend = typeof partial.backend === 'string' ? partial.backend : '';
    if (platform !== '' || backend !== '') {
      const f = factories.find((x) => x.platforms.includes(platform) || x.platforms.includes(backend));
      if (!f) {
        const known = [...new Set(factories.flatMap((x) => x.platforms))].join(', ');
        throw new ModelConfigError(`unsupported platform/backend '${platform || backend}' for model '${name}'; this server runs: ${known}`);
      }
      return f;
    }
    const explicitFile = typeof partial.default_model_filename === 'string' ? partial.default_model_filename : '';
    for (const f of factories) {
      const file = explicitFile !== '' ? explicitFile : f.defaultFilename;
      if (explicitFile !== '' && explicitFile !== f.defaultFilename
          && path.extname(explicitFile) !== path.extname(f.defaultFilename)) continue;
      if (await ModelRepository.fileExists(path.join(versionDir, file))) return f;
    }
    const expected = factories.map((f) => f.defaultFilename).join(', ');
    throw new ModelConfigError(`unable to find a model file for '${name}' in ${versionDir} (expected one of: ${expected}); `
      + `set 'platform' or 'backend' in config.pbtxt`);
  }

  private backendFor(name: string, partial: PartialConfig): BackendName {
    const params = partial.parameters as PlainObject | undefined;
    const pinned = (params?.backend as PlainObject | undefined)?.string_value;
    if (typeof pinned !== 'string' || pinned === '' || pinned === 'auto') return this.defaultBackend;
    if (!(BACKENDS as readonly string[]).includes(pinned)) {
      throw new ModelConfigError(`unknown tfjs backend '${pinned}' in parameters.backend of model '${name}'; expected one of ${BACKENDS.join(', ')}`);
    }
    return pinned as BackendName;
  }

  private async readLabels(modelDir: string, config: ModelConfig): Promise<Map<string, string[]>> {
    const labels = new Map<string, string[]>();
    for (const o of config.output) {
      if (o.label_filename === '') continue;
      const file = path.resolve(modelDir, o.label_filename);
      const rel = path.relative(modelDir, file);
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new ModelConfigError(`label_filename '${o.label_filename}' of output '${o.name}' must be inside the model folder`);
      }
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch {
        throw new ModelConfigError(`unable to read label file '${o.label_filename}' of output '${o.name}' for ${config.name}`);
      }
      const lines = text.split(/\r?\n/);
      if (lines.at(-1) === '') lines.pop();
      labels.set(o.name, lines);
    }
    return labels;
  }

  /**
   * Brings a model to `prepared`: loads what is new or changed, then swaps it in, then unloads
   * what it replaced, so requests keep being served by the old versions during a reload.
   */
  private async applyPrepared(m: ManagedModel, p: Prepared, repoModel: RepositoryModel, force: boolean): Promise<void> {
    const configChanged = m.config === undefined || JSON.stringify(m.config) !== JSON.stringify(p.config);
    const oldFingerprints = this.fingerprints.get(m.name);
    const toLoad = p.versions.filter((v) => {
      const cur = m.versions.get(v);
      if (!cur || cur.state !== 'READY') return true;
      if (force && m.sourceKey === undefined) return true;
      return configChanged || oldFingerprints?.get(v) !== repoModel.versions.get(v);
    });
    const fresh = new Map<number, ModelVersion>();
    for (const v of toLoad) {
      const entry: ModelVersion = { version: v, state: 'LOADING' };
      fresh.set(v, entry);
      // Show LOADING for versions not serving yet; serving ones stay READY until the swap.
      if (m.versions.get(v)?.state !== 'READY') m.versions.set(v, entry);
    }
    await Promise.all([...fresh.values()].map((entry) => this.loadVersion(m.name, entry, {
      modelName: m.name, version: entry.version, versionDir: path.join(repoModel.dir, String(entry.version)),
      modelDir: repoModel.dir, config: p.config, backend: p.backend, log: this.opts.log.child({ model: m.name, version: entry.version }),
    }, (ctx) => p.factory.load(ctx))));

    const replaced: ModelVersion[] = [];
    for (const [v, entry] of fresh) {
      const cur = m.versions.get(v);
      if (cur && cur !== entry && entry.state === 'READY') replaced.push(cur);
      if (!cur || cur === entry || entry.state === 'READY' || cur.state !== 'READY') m.versions.set(v, entry);
    }
    m.config = p.config;
    m.labels = p.labels;
    m.reason = undefined;
    m.sourceKey = p.sourceKey;
    this.fingerprints.set(m.name, new Map(repoModel.versions));
    const dropped = [...m.versions.keys()].filter((v) => !p.versions.includes(v));
    await Promise.all(replaced.map((v) => this.unloadVersion(m.name, v)));
    await this.unloadVersions(m, dropped);
    const failed = [...fresh.values()].filter((v) => v.state !== 'READY');
    if (failed.length > 0) {
      throw internal(`failed to load '${m.name}' version ${failed[0]!.version}: ${failed[0]!.reason ?? 'unknown error'}`);
    }
  }

  private async loadApiModel(name: string, config: Partial<ModelConfig> & { name: string } | undefined): Promise<void> {
    const loader = this.apiLoaders.get(name);
    if (!config || !loader) throw internal(`failed to load '${name}', failed to poll from model repository`);
    const m = this.record(name, 'api');
    const partial = { ...config } as unknown as PartialConfig;
    if (!partial.platform && !partial.backend) partial.backend = 'js';
    const backend = this.backendFor(name, partial);
    let full: ModelConfig;
    try {
      full = completeConfig(partial, { modelName: name, gpu: isGpu(backend) });
    } catch (e) {
      m.reason = message(e);
      throw invalidArg(`failed to load '${name}', ${message(e)}`);
    }
    const old = [...m.versions.values()];
    const entry: ModelVersion = { version: 1, state: 'LOADING' };
    if (old.length === 0 || old.every((v) => v.state !== 'READY')) m.versions.set(1, entry);
    await this.loadVersion(name, entry, {
      modelName: name, version: 1, versionDir: '', modelDir: '', config: full, backend,
      log: this.opts.log.child({ model: name, version: 1 }),
    }, loader);
    if (entry.state === 'READY') {
      m.versions.set(1, entry);
      m.config = full;
      m.reason = undefined;
      await Promise.all(old.filter((v) => v !== entry).map((v) => this.unloadVersion(name, v)));
    } else {
      throw internal(`failed to load '${name}' version 1: ${entry.reason ?? 'unknown error'}`);
    }
  }

  private async loadVersion(
    name: string, entry: ModelVersion, ctx: ExecutorContext, load: (ctx: ExecutorContext) => Promise<Executor>,
  ): Promise<void> {
    const t0 = process.hrtime.bigint();
    entry.origin = { ctx, load };
    try {
      // A late executor (the load finished after its timeout) is unloaded, not leaked.
      const loaded = await this.withLoadTimeout(load(ctx), (late) => {
        this.opts.log.warn({ model: name, version: entry.version }, 'model finished loading after its load timeout; unloading it');
        void late.unload().catch(() => undefined);
      });
      const executor = isGpu(ctx.backend) ? this.guardDeviceLoss(ctx.backend, loaded) : loaded;
      entry.executor = executor;
      const observer = this.opts.observe?.(name, entry.version);
      entry.scheduler = ctx.config.sequence_batching
        ? new SequenceBatcher(ctx.config, executor, observer, { log: ctx.log })
        : new ModelScheduler(ctx.config, executor, observer);
      entry.state = 'READY';
      entry.reason = undefined;
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      this.opts.onLoaded?.(name, entry.version, secs);
      this.opts.log.info({ model: name, version: entry.version, backend: ctx.backend, seconds: secs }, 'model version ready');
    } catch (e) {
      entry.state = 'UNAVAILABLE';
      entry.reason = ctx.modelDir ? relativeToRepository(message(e), ctx.modelDir) : message(e);
      this.opts.log.error({ model: name, version: entry.version, err: entry.reason }, 'model version failed to load');
    }
  }

  /** `work`, or a rejection once the load timeout passes (`late` receives what finishes after). */
  private async withLoadTimeout<T>(work: Promise<T>, late: (value: T) => void): Promise<T> {
    const ms = this.opts.loadTimeoutMs ?? 0;
    if (!(ms > 0)) return work;
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new Error(`load did not finish within ${ms / 1000} s (--model-load-timeout-secs)`));
      }, ms);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
      if (expired) work.then(late, () => undefined);
    }
  }

  private async unloadVersions(m: ManagedModel, versions: number[]): Promise<void> {
    await Promise.all(versions.map(async (v) => {
      const entry = m.versions.get(v);
      if (entry) await this.unloadVersion(m.name, entry);
    }));
  }

  /** Drains the version's queue, then frees the executor; the entry ends UNAVAILABLE "unloaded". */
  private async unloadVersion(name: string, entry: ModelVersion): Promise<void> {
    if (entry.state === 'UNAVAILABLE' && !entry.executor) {
      entry.reason = UNLOADED;
      return;
    }
    entry.state = 'UNLOADING';
    const t0 = process.hrtime.bigint();
    try {
      await entry.scheduler?.drain();
      await entry.executor?.unload();
    } catch (e) {
      this.opts.log.warn({ model: name, version: entry.version, err: message(e) }, 'error while unloading');
    }
    entry.executor = undefined;
    entry.scheduler = undefined;
    entry.state = 'UNAVAILABLE';
    entry.reason = UNLOADED;
    // An entry a reload replaced with a new one of the same version does not end that version: its
    // series go on, as Triton's new model shares the old one's metric reporter (same labels).
    if (this.models.get(name)?.versions.get(entry.version) === entry) this.opts.onUnloaded?.(name, entry.version);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    this.opts.log.info({ model: name, version: entry.version, seconds: secs }, 'model version unloaded');
  }
}
