// What the HTTP front end needs from the rest of the server. Nothing here touches tfjs.
import type { Logger } from 'pino';
import type { InferenceRuntime } from '../runtime/api.js';

/** Triton's `--http-restricted-api` groups. */
export const RESTRICTED_GROUPS = [
  'health', 'metadata', 'inference', 'shared-memory', 'model-config', 'model-repository',
  'statistics', 'trace', 'logging',
] as const;
export type RestrictedGroup = (typeof RESTRICTED_GROUPS)[number];

/** One `--http-restricted-api=<groups>:<header>=<value>` entry. */
export interface RestrictedApi {
  groups: string[];
  header: string;
  value: string;
}

export interface HttpDeps {
  runtime: InferenceRuntime;
  log: Logger;
  /** `--http-max-input-size`; Triton's default is 64 MiB. */
  maxInputSize: number;
  restrictedApis?: RestrictedApi[];
  /** Request time and concurrency limits; absent fields mean no limit. */
  limits?: HttpLimits;
  /** What the status page at `GET /` shows about the execution side (backend, adapter). */
  serverInfo?: () => ServerInfo;
}

/** Plain data about the execution backend, supplied by the composition root (no tfjs here). */
export interface ServerInfo {
  backend: string;
  adapter?: { vendor: string; architecture: string; device: string; description: string };
  wgslKernels?: string[];
  startedAt: number;
}

export const DEFAULT_MAX_INPUT_SIZE = 64 * 1024 * 1024;

export interface HttpLimits {
  /** `--http-request-timeout-secs` in ms: an inference not answered by then gets 503 and its
   *  queued work is dropped. Node's own request timeout bounds receiving (server.ts). */
  requestTimeoutMs?: number;
  /** `--http-max-in-flight`: POST requests served at once; the next one gets 503. */
  maxInFlight?: number;
}
