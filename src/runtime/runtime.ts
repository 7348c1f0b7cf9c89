// The InferenceRuntime the HTTP layer calls: Triton's core behaviour (version resolution and its
// not-found texts, request validation, scheduling, classification, statistics, metrics) over the
// model repository manager. Executors are injected as factories, so nothing here imports tfjs.
import type {
  InferenceRequest, InferenceResponse, InferenceRuntime, LoadParameters, ModelMetadata, ModelStatistics,
  RepositoryIndexEntry, ServerMetadata, TensorMetadata,
} from './api.js';
import type { ModelConfig } from './model-config.js';
import type { HostTensor } from './types.js';
import { toProtocolDataType } from './types.js';
import { InferenceServerError, invalidArg, notFound, unavailable } from './errors.js';
import {
  ModelRepositoryManager, type ApiModelLoader, type ManagedModel, type ModelRepositoryManagerOptions, type ModelVersion,
} from './model-manager.js';
import { RuntimeMetrics, type AdapterLabels, type FailureReason, type MetricsOptions, type QueueDepth } from './metrics.js';
import { VersionStatistics } from './statistics.js';
import { validateRequest, requestLabel } from './validation.js';
import { classify } from './classification.js';
import { QUEUE_FULL, TIMEOUT_EXPIRED } from './scheduler.js';

export const DAWNSERVE_VERSION = '0.1.0';

/** Extensions we implement; Triton clients probe this list (protocol notes §1.1). */
export const EXTENSIONS = [
  'classification', 'sequence', 'model_repository', 'model_repository(unload_dependents)', 'schedule_policy',
  'model_configuration', 'binary_tensor_data', 'parameters', 'statistics', 'logging',
] as const;

export interface TritonRuntimeOptions extends Omit<ModelRepositoryManagerOptions, 'observe' | 'onLoaded'>,
  Pick<MetricsOptions, 'tensorsAlive' | 'gpuMemoryBytes' | 'kernelDispatches'> {
  /** The Dawn adapter behind the webgpu backend, for `dawnserve_backend_info`. */
  adapter?: AdapterLabels;
  /** Version string of server metadata. */
  version?: string;
}

interface Resolved { model: ManagedModel; entry: ModelVersion; config: ModelConfig }

const unknownModel = (m: string): string => `Request for unknown model: '${m}'`;

function failureReason(e: unknown): FailureReason {
  if (!(e instanceof InferenceServerError)) return 'BACKEND';
  if (e.code === 'CANCELLED') return 'CANCELED';
  if (e.code === 'UNAVAILABLE' && (e.message === QUEUE_FULL || e.message === TIMEOUT_EXPIRED)) return 'REJECTED';
  if (e.code === 'INVALID_ARG') return 'OTHER';
  return 'BACKEND';
}

function tensorMetadata(io: { name: string; data_type: ModelConfig['input'][number]['data_type']; dims: number[] },
  batching: boolean): TensorMetadata {
  return {
    name: io.name,
    datatype: toProtocolDataType(io.data_type) ?? 'BYTES',
    shape: batching ? [-1, ...io.dims] : [...io.dims],
  };
}

export class TritonRuntime implements InferenceRuntime {
  readonly manager: ModelRepositoryManager;
  readonly metrics: RuntimeMetrics;
  /** Model name → version → statistics (kept across reloads, as Triton does). */
  private readonly stats = new Map<string, Map<number, VersionStatistics>>();
  private readonly version: string;
  private closed = false;

  constructor(opts: TritonRuntimeOptions) {
    this.version = opts.version ?? DAWNSERVE_VERSION;
    this.metrics = new RuntimeMetrics({
      backend: opts.backend,
      ...(opts.adapter ? { adapter: opts.adapter } : {}),
      ...(opts.tensorsAlive ? { tensorsAlive: opts.tensorsAlive } : {}),
      ...(opts.gpuMemoryBytes ? { gpuMemoryBytes: opts.gpuMemoryBytes } : {}),
      ...(opts.kernelDispatches ? { kernelDispatches: opts.kernelDispatches } : {}),
      queueDepths: () => this.queueDepths(),
    });
    this.manager = new ModelRepositoryManager({
      ...opts,
      observe: (model, version) => {
        const stats = this.statsFor(model, version);
        const v = String(version);
        // Every series exists from load on, at 0 (as Triton's): requests that run at once on an
        // idle instance never change the pending gauge, for one.
        this.metrics.versionLoaded(model, v);
        return {
          execution: (batchSize, compute) => {
            stats.execution(batchSize, compute);
            this.metrics.execution(model, v);
          },
          pendingChanged: (delta) => this.metrics.pendingChanged(model, v, delta),
        };
      },
      onLoaded: (model, version, seconds) => this.metrics.modelLoaded(model, String(version), seconds),
      onUnloaded: (model, version) => this.metrics.versionUnloaded(model, String(version)),
    });
  }

  /** The Prometheus registry to serve on the metrics port. */
  get metricsRegistry() {
    return this.metrics.registry;
  }

  get modelControlMode() {
    return this.manager.controlMode;
  }

  /** Loads the startup models for the control mode (and starts polling in poll mode). */
  start(): Promise<void> {
    return this.manager.start();
  }

  /** Library API: serve a model that is not in the repository (see ModelRepositoryManager.addModel). */
  addModel(config: Partial<ModelConfig> & { name: string }, load: ApiModelLoader): Promise<void> {
    return this.manager.addModel(config, load);
  }

  removeModel(name: string): Promise<void> {
    return this.manager.removeModel(name);
  }

  /** Rescans the repository now (poll mode). */
  pollNow(): Promise<void> {
    return this.manager.pollNow();
  }

  isLive(): boolean {
    return !this.closed;
  }

  /** Strict readiness, Triton's default: see ModelRepositoryManager.isReady. */
  isReady(): boolean {
    return !this.closed && this.manager.isReady();
  }

  serverMetadata(): ServerMetadata {
    return { name: 'triton', version: this.version, extensions: [...EXTENSIONS] };
  }

  /** Triton's model lookup with its texts (protocol notes §1.2). */
  private resolve(name: string, version?: string): Resolved {
    const model = this.manager.get(name);
    if (!model) throw notFound(`${unknownModel(name)} is not found`);
    if (version !== undefined && version !== '') {
      if (!/^[0-9]+$/.test(version)) {
        throw invalidArg(`failed to get model version from specified version string '${version}'`);
      }
      const entry = model.versions.get(Number(version));
      if (!entry) throw notFound(`${unknownModel(name)} version ${version} is not found`);
      if (entry.state !== 'READY' || !model.config) {
        // LOADING with a reason: being reloaded after a GPU device loss (model-manager suspendBackend).
        if (entry.state === 'LOADING' && entry.reason) throw unavailable(`model '${name}' version ${version} is unavailable: ${entry.reason}`);
        throw unavailable(`${unknownModel(name)} version ${version} is not at ready state`);
      }
      return { model, entry, config: model.config };
    }
    let best: ModelVersion | undefined;
    for (const v of model.versions.values()) {
      if (v.state === 'READY' && (!best || v.version > best.version)) best = v;
    }
    if (!best || !model.config) {
      const reloading = [...model.versions.values()].find((v) => v.state === 'LOADING' && v.reason);
      if (reloading) throw unavailable(`model '${name}' is unavailable: ${reloading.reason}`);
      throw notFound(`${unknownModel(name)} has no available versions`);
    }
    return { model, entry: best, config: model.config };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const { model, config } = this.resolve(name, version);
    const versions = version
      ? [version]
      : [...model.versions.values()].filter((v) => v.state === 'READY').map((v) => v.version).sort((a, b) => a - b).map(String);
    const batching = config.max_batch_size > 0;
    return {
      name,
      versions,
      platform: config.platform !== '' ? config.platform : config.backend,
      inputs: config.input.map((i) => tensorMetadata(i, batching)),
      outputs: config.output.map((o) => tensorMetadata(o, batching)),
    };
  }

  modelConfig(name: string, version?: string): ModelConfig {
    return structuredClone(this.resolve(name, version).config);
  }

  modelReady(name: string, version?: string): boolean {
    try {
      this.resolve(name, version);
      return true;
    } catch {
      return false;
    }
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const t0 = process.hrtime.bigint();
    const { model, entry, config } = this.resolve(request.model, request.version);
    const stats = this.statsFor(model.name, entry.version);
    const versionStr = stats.version;
    try {
      const v = validateRequest(config, request);
      if (v.classification.size > 0) for (const [name] of v.classification) {
        if (config.output.find((o) => o.name === name)?.data_type === 'TYPE_STRING') {
          throw invalidArg("class result not available for output due to unsupported type 'BYTES'");
        }
      }
      const scheduler = entry.scheduler;
      if (!scheduler) throw unavailable(`${unknownModel(model.name)} version ${versionStr} is not at ready state`);
      const timeout = request.parameters.timeout;
      if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0)) {
        throw invalidArg(`${requestLabel(request.id)}'timeout' parameter must be a non-negative integer number of microseconds`);
      }
      // The HTTP codec already checked it is a uint; library callers may pass anything.
      const priority = request.parameters.priority;
      if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0)) {
        throw invalidArg(`${requestLabel(request.id)}'priority' parameter must be a non-negative integer`);
      }
      const result = await scheduler.enqueue({
        inputs: v.inputs, outputs: v.outputs, parameters: request.parameters, batchSize: v.batchSize,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(typeof timeout === 'number' ? { timeoutUs: timeout } : {}),
        ...(typeof priority === 'number' ? { priority } : {}),
      });
      const outputs: HostTensor[] = v.outputs.map((name) => {
        const t = result.outputs.get(name)!;
        const k = v.classification.get(name);
        return k === undefined ? t : classify(t, k, config.max_batch_size > 0, model.labels.get(name));
      });
      const totalNs = Number(process.hrtime.bigint() - t0);
      stats.success(v.batchSize, totalNs, result.queueNs, result.compute);
      this.metrics.requestSuccess(model.name, versionStr, v.batchSize, totalNs, result.queueNs, result.compute);
      return {
        ...(request.id !== undefined && request.id !== '' ? { id: request.id } : {}),
        model_name: model.name,
        model_version: versionStr,
        outputs,
        batchSize: v.batchSize,
        executionBatchSize: result.executionBatchSize,
      };
    } catch (e) {
      const totalNs = Number(process.hrtime.bigint() - t0);
      stats.failure(totalNs);
      this.metrics.requestFailure(model.name, versionStr, failureReason(e));
      throw e;
    }
  }

  /** Scrape time only: each loaded version's queued requests. */
  private *queueDepths(): Iterable<QueueDepth> {
    for (const m of this.manager.all()) {
      for (const v of m.versions.values()) {
        if (v.state === 'READY' && v.scheduler) yield { model: m.name, version: String(v.version), depth: v.scheduler.pending };
      }
    }
  }

  private statsFor(model: string, version: number): VersionStatistics {
    let byVersion = this.stats.get(model);
    if (!byVersion) {
      byVersion = new Map();
      this.stats.set(model, byVersion);
    }
    let s = byVersion.get(version);
    if (!s) {
      s = new VersionStatistics(model, String(version));
      byVersion.set(version, s);
    }
    return s;
  }

  statistics(name?: string, version?: string): ModelStatistics[] {
    const models = name === undefined || name === '' ? this.manager.all() : [this.manager.get(name)];
    if (name) {
      const m = models[0];
      if (!m || ![...m.versions.values()].some((v) => v.state === 'READY')) {
        throw invalidArg(`requested model '${name}' is not available`);
      }
      if (version !== undefined && version !== '') {
        const entry = /^[0-9]+$/.test(version) ? m.versions.get(Number(version)) : undefined;
        if (!entry || entry.state !== 'READY') throw invalidArg(`requested model version is not available for model '${name}'`);
        return [this.statsFor(name, entry.version).snapshot()];
      }
    }
    const out: ModelStatistics[] = [];
    for (const m of models) {
      if (!m) continue;
      const ready = [...m.versions.values()].filter((v) => v.state === 'READY').sort((a, b) => a.version - b.version);
      for (const v of ready) out.push(this.statsFor(m.name, v.version).snapshot());
    }
    return out;
  }

  repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    return this.manager.index(readyOnly);
  }

  async loadModel(name: string, params: LoadParameters): Promise<void> {
    await this.manager.load(name, params.config, params.files);
  }

  async unloadModel(name: string, _params: { unloadDependents: boolean }): Promise<void> {
    // No ensembles, hence no dependents: unload_dependents changes nothing.
    await this.manager.unload(name);
  }

  /** Stops polling, lets in-flight requests finish, unloads every model (Executor.unload). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.manager.close();
  }
}
