// Composition root: backend → runtime (repository + executors) → HTTP and metrics servers.
// `startDawnserve` is what `dawnserve serve` runs; `Server` is the PyTriton-style library API.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { ServeOptions } from './cli/serve-options.js';
import { LIMIT_DEFAULTS, parseRestrictedApi } from './cli/serve-options.js';
import { createHttpApp, startHttpServer, type HttpServerHandle } from './http/app.js';
import { createMetricsApp } from './http/metrics-app.js';
import { backendMemory, initBackend, tensorsAlive, type BackendSelection } from './runtime/backends.js';
import { kernelDispatches, packTextureBytes } from './kernels/index.js';
import { TritonRuntime } from './runtime/runtime.js';
import { DeviceRecovery } from './runtime/device-recovery.js';
import { executorFactories, createJsExecutor, definitionToConfig, type JsModelDefinition } from './runtime/executors/index.js';
import { onnxExecutorFactory } from './runtime/onnx/executor.js';
import type { ExecutorFactory } from './runtime/executor.js';

export interface RunningServer {
  httpPort: number;
  /** 0 when metrics are disabled. */
  metricsPort: number;
  runtime: TritonRuntime;
  backend: BackendSelection;
  /** Reloads the models on a new device when the WebGPU device is lost. */
  deviceRecovery: DeviceRecovery;
  log: Logger;
  /** tritonserver's --exit-timeout-secs, for stopOnSignals. */
  exitTimeoutSecs?: number;
  /** Stops accepting, drains in-flight requests, unloads models. Idempotent. */
  close(): Promise<void>;
}

const DEFAULTS: ServeOptions = {
  modelRepository: './models', httpAddress: '0.0.0.0', httpPort: 8000, metricsPort: 8002,
  modelControlMode: 'none', loadModel: [], repositoryPollSecs: 15, backend: 'auto', logLevel: 'info',
  httpRestrictedApi: [], wgslKernels: true, ...LIMIT_DEFAULTS,
};

export const allExecutorFactories: readonly ExecutorFactory[] = [...executorFactories, onnxExecutorFactory];

export interface StartOptions extends Partial<ServeOptions> {
  /** Models served from code (library API), besides the repository. */
  boundModels?: JsModelDefinition[];
  /** Serve no repository (library API with bound models only). */
  noRepository?: boolean;
  /** Serve metrics on an ephemeral port (tests); `metricsPort: 0` still means no metrics. */
  metricsPortEphemeral?: boolean;
  /** Where the JSON log lines go (default stdout). */
  logDestination?: DestinationStream;
}

export async function startDawnserve(options: StartOptions = {}): Promise<RunningServer> {
  const opts: ServeOptions = { ...DEFAULTS, ...stripUndefined(options) };
  const pinoOptions = { level: opts.logLevel, base: { service: 'dawnserve' } };
  const log = options.logDestination ? pino(pinoOptions, options.logDestination) : pino(pinoOptions);
  const restrictedApis = opts.httpRestrictedApi.map(parseRestrictedApi);

  const backend = await initBackend(opts.backend, { wgslKernels: opts.wgslKernels });
  for (const [name, why] of Object.entries(backend.reasons)) log.info({ backend: name }, why);
  log.info({ backend: backend.backend, adapter: backend.adapter, wgslKernels: backend.wgslKernels }, `using tfjs backend '${backend.backend}'`);

  const runtime = new TritonRuntime({
    ...(options.noRepository ? {} : { repositoryPath: opts.modelRepository }),
    controlMode: opts.modelControlMode,
    startupModels: opts.loadModel,
    pollSecs: opts.repositoryPollSecs,
    factories: allExecutorFactories,
    backend: backend.backend,
    log,
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    tensorsAlive,
    // tfjs's tensors on the GPU plus the textures our lavapipe matmul packs operands into.
    gpuMemoryBytes: () => {
      const tfjsBytes = backendMemory().numBytesInGPU;
      return tfjsBytes === undefined ? undefined : tfjsBytes + packTextureBytes();
    },
    kernelDispatches,
    loadTimeoutMs: opts.modelLoadTimeoutSecs * 1000,
  });
  // Subscribed before the first load, so a loss during startup loads is recovered from too.
  const deviceRecovery = new DeviceRecovery({ runtime, selection: backend, log, backendOptions: { wgslKernels: opts.wgslKernels } });
  for (const def of options.boundModels ?? []) {
    const name = def.name;
    if (!name) throw new Error('a bound model needs a name');
    await runtime.addModel(definitionToConfig(def, name), (ctx) => createJsExecutor(def, ctx));
  }
  await runtime.start();

  const startedAt = Date.now();
  const serverInfo = () => ({
    backend: backend.backend, startedAt,
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    ...(backend.wgslKernels ? { wgslKernels: backend.wgslKernels } : {}),
  });
  const requestTimeoutMs = opts.httpRequestTimeoutSecs * 1000;
  const limits = { requestTimeoutMs, maxInFlight: opts.httpMaxInFlight };
  const app = createHttpApp({ runtime, log, maxInputSize: opts.httpMaxInputSize, restrictedApis, serverInfo, limits });
  const http = await startHttpServer(app, {
    address: opts.httpAddress, port: opts.httpPort, requestTimeoutMs, maxHeaderSize: opts.httpMaxHeaderSize,
  });
  let metrics: HttpServerHandle | undefined;
  if (options.metricsPortEphemeral || opts.metricsPort !== 0) {
    const port = options.metricsPortEphemeral ? 0 : opts.metricsPort;
    metrics = await startHttpServer(createMetricsApp(runtime.metricsRegistry), { address: opts.httpAddress, port });
  }
  log.info({ httpPort: http.port, metricsPort: metrics?.port ?? 0, repository: opts.modelRepository }, 'dawnserve is serving');

  let closing: Promise<void> | undefined;
  return {
    httpPort: http.port, metricsPort: metrics?.port ?? 0, runtime, backend, deviceRecovery, log, exitTimeoutSecs: opts.exitTimeoutSecs,
    close: () => (closing ??= (async () => {
      await Promise.all([http.close(), metrics?.close()]);
      deviceRecovery.stop();
      await runtime.close();
      log.info('dawnserve stopped');
    })()),
  };
}

/**
 * SIGTERM/SIGINT: stop accepting, drain, unload, exit 0 (a second signal exits at once). Given
 * the server's start promise, a signal that arrives while models are still loading (no request
 * has been accepted yet: the HTTP port opens after the startup loads) exits 0 without waiting
 * for them. Past --exit-timeout-secs the process exits 1 even if work is still in flight, as
 * tritonserver does.
 */
export function stopOnSignals(server: RunningServer | Promise<RunningServer>): void {
  let running: RunningServer | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    if (!running) {
      process.stderr.write(`dawnserve: ${signal} during startup, exiting before serving\n`);
      process.exit(0);
    }
    const s = running;
    s.log.info({ signal }, 'draining in-flight requests');
    const secs = s.exitTimeoutSecs ?? 0;
    if (secs > 0) {
      setTimeout(() => {
        s.log.warn({ exitTimeoutSecs: secs }, 'exit timeout expired with work still in flight; exiting now');
        process.exit(1);
      }, secs * 1000).unref();
    }
    s.close().then(() => process.exit(0), (e: unknown) => {
      s.log.error({ err: e }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  void Promise.resolve(server).then((s) => { running = s; }, () => undefined);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface ServerOptions {
  httpPort?: number;
  httpAddress?: string;
  metricsPort?: number;
  backend?: ServeOptions['backend'];
  logLevel?: ServeOptions['logLevel'];
  /** Also serve a Triton repository folder next to the bound models. */
  modelRepository?: string;
}

/**
 * The PyTriton way: bind JavaScript functions as models, then serve them.
 * ```ts
 * const server = new Server({ httpPort: 8000 });
 * server.bind({ name: 'add_sub', inputs, outputs, maxBatchSize: 64, infer: async (batch) => ({ ... }) });
 * await server.serve();
 * ```
 */
export class Server {
  private readonly bound: JsModelDefinition[] = [];
  private running: RunningServer | undefined;

  constructor(private readonly options: ServerOptions = {}) {}

  bind(definition: JsModelDefinition & { name: string }): this {
    if (this.running) throw new Error('bind() must be called before serve()');
    if (this.bound.some((d) => d.name === definition.name)) throw new Error(`model '${definition.name}' is already bound`);
    this.bound.push(definition);
    return this;
  }

  /** Starts serving; resolves once the HTTP port is listening and the bound models are READY. */
  async serve(): Promise<RunningServer> {
    if (this.running) return this.running;
    const { modelRepository, ...rest } = this.options;
    this.running = await startDawnserve({
      ...rest,
      ...(modelRepository ? { modelRepository } : { noRepository: true }),
      modelControlMode: 'none',
      boundModels: this.bound,
    });
    return this.running;
  }

  get httpPort(): number | undefined {
    return this.running?.httpPort;
  }

  async stop(): Promise<void> {
    await this.running?.close();
    this.running = undefined;
  }
}
