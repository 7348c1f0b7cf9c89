// dawnserve as `dawnserve bench http` runs it: a child process (so the load generator does not
// share its event loop), on 127.0.0.1 with an ephemeral port, serving a temporary repository plus
// an FP32 identity model bound through the library API.
import type { BackendChoice } from '../cli/serve-options.js';
import type { HostTensor } from '../runtime/types.js';
import { startDawnserve, type RunningServer } from '../server.js';
import { IDENTITY_MODEL } from './payloads.js';

export interface DawnserveChildOptions {
  repository: string;
  backend: BackendChoice;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as DawnserveChildOptions;
  let server: RunningServer;
  try {
    server = await startDawnserve({
      modelRepository: opts.repository, httpAddress: '127.0.0.1', httpPort: 0, metricsPort: 0,
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
  const models = (await server.runtime.repositoryIndex(false)).map((m) => ({ name: m.name, state: m.state, reason: m.reason }));
  process.send?.({ ready: { port: server.httpPort, backend: server.backend.backend, models } });
}

await main();
