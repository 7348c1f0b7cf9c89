// The executor interface every model kind plugs into (JS function, TF.js graph/layers, ONNX).
import type { HostTensor, Parameters } from './types.js';
import type { ModelConfig } from './model-config.js';
import type { BackendName } from './backends.js';
import type { Logger } from 'pino';

export interface ExecutorContext {
  modelName: string;
  version: number;
  /** Absolute path of `<repo>/<model>/<version>`. */
  versionDir: string;
  /** Absolute path of `<repo>/<model>`. */
  modelDir: string;
  config: ModelConfig;
  /** tfjs backend this model runs on (the server's, or the one pinned by `parameters.backend`). */
  backend: BackendName;
  log: Logger;
}

export interface ExecuteRequest {
  /** Inputs by name, already validated against the config; batched models include the batch dim. */
  inputs: Map<string, HostTensor>;
  /** Output names to produce (a subset of the config's outputs, in config order). */
  outputs: string[];
  parameters: Parameters;
}

export interface Executor {
  /** Runs one (possibly batched) execution; returns the requested outputs. */
  execute(request: ExecuteRequest): Promise<HostTensor[]>;
  /** Frees every tensor and resource; called once. */
  unload(): Promise<void>;
}

/** What the model files in a version folder say about the model, used to auto-complete config. */
export interface DerivedConfig {
  platform?: string;
  backend?: string;
  max_batch_size?: number;
  input?: ModelConfig['input'];
  output?: ModelConfig['output'];
}

export interface ExecutorFactory {
  /** Config `platform` / `backend` values this factory serves, e.g. ['tensorflowjs'], ['js']. */
  readonly platforms: readonly string[];
  /** Default model file name inside a version folder, e.g. 'model.onnx'. */
  readonly defaultFilename: string;
  /** Reads the model file to fill in what config.pbtxt does not say (Triton's auto-complete). */
  deriveConfig(versionDir: string, filename: string): Promise<DerivedConfig>;
  load(ctx: ExecutorContext): Promise<Executor>;
}
