// The runtime as the HTTP layer sees it. `src/http` depends only on this interface (and types.ts,
// model-config.ts, errors.ts), never on tfjs or on how models execute.
import type { HostTensor, Parameters, DataType } from './types.js';
import type { ModelConfig } from './model-config.js';

export type ModelState = 'UNKNOWN' | 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

export interface ServerMetadata { name: string; version: string; extensions: string[] }

export interface TensorMetadata { name: string; datatype: DataType; shape: number[] }

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface RequestedOutput {
  name: string;
  /** `classification` (top-K) and any other output parameters; `binary_data` is HTTP's concern. */
  parameters?: Parameters;
}

export interface InferenceRequest {
  model: string;
  /** Version string from the URL; undefined or '' means the policy's highest READY version. */
  version?: string;
  id?: string;
  parameters: Parameters;
  inputs: HostTensor[];
  /** Undefined: return every model output in config order. */
  outputs?: RequestedOutput[];
  /** Aborted when the client goes away; the runtime drops work that has not started. */
  signal?: AbortSignal;
}

export interface InferenceResponse {
  id?: string;
  model_name: string;
  model_version: string;
  parameters?: Parameters;
  /** In the model's output order (or the requested subset in that order). */
  outputs: HostTensor[];
  /** Batch items in the request, and in the execution it was part of: for logs, never sent. */
  batchSize?: number;
  executionBatchSize?: number;
}

export interface StatDuration { count: number; ns: number }

export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: StatDuration; fail: StatDuration; queue: StatDuration; compute_input: StatDuration;
    compute_infer: StatDuration; compute_output: StatDuration; cache_hit: StatDuration; cache_miss: StatDuration;
  };
  response_stats: Record<string, never>;
  batch_stats: { batch_size: number; compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration }[];
  memory_usage: { type: string; id: number; byte_size: number }[];
}

export interface RepositoryIndexEntry { name: string; version?: string; state: ModelState; reason?: string }

export interface LoadParameters {
  /** JSON text of a ModelConfig override (Triton's `config` load parameter). */
  config?: string;
  /** `file:<version>/<name>` → content, for models uploaded with the load request. */
  files?: Record<string, Uint8Array>;
}

/** What the HTTP front end calls. Methods throw InferenceServerError with Triton's codes and texts. */
export interface InferenceRuntime {
  isLive(): boolean;
  isReady(): boolean;
  serverMetadata(): ServerMetadata;
  modelMetadata(name: string, version?: string): ModelMetadata;
  modelConfig(name: string, version?: string): ModelConfig;
  modelReady(name: string, version?: string): boolean;
  infer(request: InferenceRequest): Promise<InferenceResponse>;
  statistics(name?: string, version?: string): ModelStatistics[];
  repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]>;
  loadModel(name: string, params: LoadParameters): Promise<void>;
  unloadModel(name: string, params: { unloadDependents: boolean }): Promise<void>;
  /** Model-control mode; load/unload answer an error unless 'explicit'. */
  readonly modelControlMode: 'none' | 'explicit' | 'poll';
}
