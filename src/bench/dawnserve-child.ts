// dawnserve as `dawnserve bench http` runs it: a child process (so the load generator does not
// share its event loop), on 127.0.0.1 with an ephemeral port, serving a temporary repository plus
// an FP32 identity model bound through the library API. It answers `{ memory: true }` messages with
// its own RSS, heap and live tfjs tensors (the overload benchmark watches them under load); with
// `gc: true` and node's --expose-gc it runs a full GC first, so heap readings compare across time.
import type { BackendChoice } from '../cli/serve-options.js';
import { tensorsAlive } from '../runtime/backends.js';
import type { HostTensor } from '../runtime/types.js';
import { startDawnserve, type RunningServer } from '../server.js';
import { IDENTITY_MODEL } from './payloads.js';

export interface DawnserveChildOptions {
  repository: string;
  backend: BackendChoice;
  /** Serve /metrics on an ephemeral port (its number comes back in the ready message). */
  metrics?: boolean;
}

export interface ChildMemory {
  rssBytes: number;
  heapUsedBytes: number;
  /** V8's committed heap: what RSS follows as the heap grows between major GCs. */
  heapTotalBytes: number;
  tensors: number;
  /** Whether a full GC ran just before this reading. */
  afterGc: boolean;
}

function memory(gc: boolean): ChildMemory {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc && collect) collect();
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, tensors: tensorsAlive(), afterGc: gc && collect !== undefined };
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as DawnserveChildOptions;
  let server: RunningServer;
  try {
    server = await startDawnserve({
      modelRepository: opts.repository, httpAddress: '127.0.0.1', httpPort: 0,
      ...(opts.metrics ? { metricsPortEphemeral: true } : { metricsPort: 0 }),
      backend: opts.backend, logLevel: 'error', modelControlMode: 'none',
      boundModels: [{
        name: IDENTITY_MODEL,
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1] }],
        outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1] }],
        infer: (inputs: Record<string, HostTensor>) => {
          const x = inputs['INPUT0']!;
          return { OUTPUT0: { data: x.data as Float32Array, shape: x.shape } };
        },
      }],
    });
  } catch (e) {
    process.send?.({ error: `dawnserve did not start: ${(e as Error).message}` });
    process.exit(1);
  }
  const stop = () => { server.close().then(() => process.exit(0), () => process.exit(1)); };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  process.on('message', (m: unknown) => {
    const ask = m as { memory?: boolean; gc?: boolean } | null;
    if (ask?.memory === true) process.send?.({ memory: memory(ask.gc === true) });
  });
  const models = (await server.runtime.repositoryIndex(false)).map((m) => ({ name: m.name, state: m.state, reason: m.reason }));
  process.send?.({ ready: { port: server.httpPort, metricsPort: server.metricsPort, backend: server.backend.backend, models } });
}

await main();
