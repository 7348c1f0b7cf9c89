// `dawnserve serve` options: tritonserver's flag names, each also settable as DAWNSERVE_<FLAG>.
import { Command, Option } from 'commander';

export type ModelControlMode = 'none' | 'explicit' | 'poll';
export type BackendChoice = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ServeOptions {
  modelRepository: string;
  httpAddress: string;
  httpPort: number;
  metricsPort: number;
  modelControlMode: ModelControlMode;
  loadModel: string[];
  repositoryPollSecs: number;
  backend: BackendChoice;
  logLevel: LogLevel;
  httpMaxInputSize: number;
  httpRestrictedApi: string[];
  wgslKernels: boolean;
  /** Seconds to receive a request and to answer it once received (0 = no limit). */
  httpRequestTimeoutSecs: number;
  /** POST requests (inference, repository, settings) served at once; more get 503 (0 = no limit). */
  httpMaxInFlight: number;
  /** Largest accepted request head (request line + headers), bytes; Node's default. */
  httpMaxHeaderSize: number;
  /** Seconds a model version may take to load before it is UNAVAILABLE (0 = no limit). */
  modelLoadTimeoutSecs: number;
  /** tritonserver's --exit-timeout-secs: on SIGTERM, how long to wait for in-flight work. */
  exitTimeoutSecs: number;
}

/** Reliability limits and their defaults (SECURITY.md says what each defends). */
export const LIMIT_DEFAULTS = {
  httpMaxInputSize: 64 * 1024 * 1024,
  httpRequestTimeoutSecs: 300,
  httpMaxInFlight: 1024,
  httpMaxHeaderSize: 16 * 1024,
  modelLoadTimeoutSecs: 600,
  exitTimeoutSecs: 30,
} as const;

function nonNegativeInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`${flag} expects a non-negative integer, got '${value}'`);
    return Number(value);
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Adds the serve flags to a commander command; `.env()` gives each its DAWNSERVE_<FLAG> variable. */
export function addServeOptions(cmd: Command): Command {
  const env = (flag: string) => `DAWNSERVE_${flag.replace(/-/g, '_').toUpperCase()}`;
  const opt = (flags: string, description: string, name: string) => new Option(flags, description).env(env(name));
  return cmd
    .addOption(opt('--model-repository <dir>', 'model repository directory', 'model-repository').default('./models'))
    .addOption(opt('--http-address <addr>', 'HTTP listen address', 'http-address').default('0.0.0.0'))
    .addOption(opt('--http-port <port>', 'HTTP port', 'http-port').default(8000).argParser(nonNegativeInt('--http-port')))
    .addOption(opt('--metrics-port <port>', 'Prometheus metrics port (0 disables)', 'metrics-port').default(8002).argParser(nonNegativeInt('--metrics-port')))
    .addOption(opt('--model-control-mode <mode>', 'model control mode', 'model-control-mode').choices(['none', 'explicit', 'poll']).default('none'))
    .addOption(opt('--load-model <name>', 'model to load at start in explicit mode (repeatable; * = all)', 'load-model').argParser(collect).default([]))
    .addOption(opt('--repository-poll-secs <n>', 'poll interval in poll mode', 'repository-poll-secs').default(15).argParser(nonNegativeInt('--repository-poll-secs')))
    .addOption(opt('--backend <name>', 'tfjs backend', 'backend').choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']).default('auto'))
    .addOption(opt('--log-level <level>', 'log level', 'log-level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .addOption(opt('--http-max-input-size <bytes>', 'largest accepted input, bytes', 'http-max-input-size').default(LIMIT_DEFAULTS.httpMaxInputSize).argParser(nonNegativeInt('--http-max-input-size')))
    .addOption(opt('--http-request-timeout-secs <n>', 'seconds to receive a request and to answer it (0 = no limit)', 'http-request-timeout-secs').default(LIMIT_DEFAULTS.httpRequestTimeoutSecs).argParser(nonNegativeInt('--http-request-timeout-secs')))
    .addOption(opt('--http-max-in-flight <n>', 'POST requests served at once; more are answered 503 (0 = no limit)', 'http-max-in-flight').default(LIMIT_DEFAULTS.httpMaxInFlight).argParser(nonNegativeInt('--http-max-in-flight')))
    .addOption(opt('--http-max-header-size <bytes>', 'largest accepted request head, bytes', 'http-max-header-size').default(LIMIT_DEFAULTS.httpMaxHeaderSize).argParser(nonNegativeInt('--http-max-header-size')))
    .addOption(opt('--model-load-timeout-secs <n>', 'seconds a model version may take to load (0 = no limit)', 'model-load-timeout-secs').default(LIMIT_DEFAULTS.modelLoadTimeoutSecs).argParser(nonNegativeInt('--model-load-timeout-secs')))
    .addOption(opt('--exit-timeout-secs <n>', 'on SIGTERM, seconds to wait for in-flight requests before exiting anyway', 'exit-timeout-secs').default(LIMIT_DEFAULTS.exitTimeoutSecs).argParser(nonNegativeInt('--exit-timeout-secs')))
    .addOption(opt('--http-restricted-api <spec>', "restrict API groups: '<group>[,<group>]:<header>=<value>' (repeatable)", 'http-restricted-api').argParser(collect).default([]))
    .addOption(opt('--no-wgsl-kernels', "use tfjs-backend-webgpu's own kernels instead of dawnserve's WGSL kernels", 'wgsl-kernels'));
}

/** Parses `--http-restricted-api` specs as tritonserver does: `model-repository,health:k1=v1`. */
export function parseRestrictedApi(spec: string): { groups: string[]; header: string; value: string } {
  const m = /^([^:]+):([^=]+)=(.*)$/.exec(spec);
  if (!m) throw new Error(`--http-restricted-api expects '<api-group>[,<api-group>]:<key>=<value>', got '${spec}'`);
  return { groups: m[1]!.split(',').map((g) => g.trim()).filter(Boolean), header: m[2]!.trim().toLowerCase(), value: m[3]! };
}
