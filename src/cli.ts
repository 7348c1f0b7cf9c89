#!/usr/bin/env node
// The `dawnserve` command: serve, doctor, install-deps, bench. Flag names follow tritonserver's.
import { Command } from 'commander';
import { addServeOptions, type ServeOptions } from './cli/serve-options.js';

const program = new Command('dawnserve')
  .description('Triton-compatible inference server on TensorFlow.js (CUDA, WebGPU/Dawn, wasm, cpu)')
  .showHelpAfterError();

addServeOptions(program.command('serve').description('serve a model repository over the KServe v2 / Triton HTTP protocol'))
  .action(async (opts: ServeOptions) => {
    const { startDawnserve, stopOnSignals } = await import('./server.js');
    // Signals are handled from the start, so that SIGTERM during the startup loads exits cleanly.
    const starting = startDawnserve(opts);
    stopOnSignals(starting);
    await starting;
  });

program.command('doctor')
  .description('report which tfjs backends initialise, Dawn adapters and CUDA visibility')
  .option('--json', 'print the report as JSON')
  .option('--require-gpu', 'exit non-zero unless an accelerated backend (tensorflow or a hardware WebGPU adapter) works')
  .action(async (opts: { json?: boolean; requireGpu?: boolean }) => {
    const { runDoctor, formatDoctorReport, doctorExitCode } = await import('./runtime/doctor.js');
    const report = await runDoctor();
    process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
    process.exitCode = doctorExitCode(report, { requireGpu: opts.requireGpu === true });
  });

program.command('install-deps')
  .description("npm-install each model's own package.json inside the repository (model or version folder), so dependencies bind-mount with it")
  .argument('[repo]', 'model repository directory', process.env['DAWNSERVE_MODEL_REPOSITORY'] ?? './models')
  .option('--dry-run', 'list the folders and npm commands, install nothing')
  .option('--json', 'print the results as JSON')
  .action(async (repo: string, opts: { dryRun?: boolean; json?: boolean }) => {
    const { installModelDeps, formatInstallSummary, installDepsExitCode } = await import('./cli/install-deps.js');
    const results = await installModelDeps(repo, {
      dryRun: opts.dryRun === true,
      onOutput: opts.json ? undefined : (chunk) => process.stderr.write(chunk),
    });
    process.stdout.write(opts.json ? JSON.stringify(results, null, 2) + '\n' : formatInstallSummary(repo, results));
    process.exitCode = installDepsExitCode(results);
  });

const bench = program.command('bench').description('benchmarks');
bench.command('kernels')
  .description("WGSL kernels vs tfjs-backend-webgpu's on the same device, plus tfjs-wasm")
  .option('--json <file>', 'write results as JSON')
  .option('--svg <file>', 'write a chart of speed-ups')
  .option('--quick', 'fewer shapes and repetitions')
  .option('--ops <list>', 'comma-separated ops to run')
  .action(async (opts: { json?: string; svg?: string; quick?: boolean; ops?: string }) => {
    const { runKernelBench } = await import('./kernels/bench.js');
    await runKernelBench({ json: opts.json, svg: opts.svg, quick: opts.quick === true, ops: opts.ops?.split(',') });
    // dawn.node keeps the event loop alive after the device is done with.
    process.exit(0);
  });

bench.command('http')
  .description('load test (autocannon) of dawnserve next to a raw node:http baseline, same run: simple JSON/binary, 1/16 MB identity JSON/binary, CNN with dynamic batching on/off; '
    + 'or, with --overload, the digits CNN behind a bounded queue offered 2× its measured capacity')
  .option('--duration <seconds>', 'seconds per measurement (1-60; default 8, with --overload 15)')
  .option('--connections <list>', 'comma-separated connection counts (default per scenario: 1,4,16,64; large tensors 1,4; with --overload: capacity,overload)')
  .option('--overload', 'measure the queue bound under overload instead: capacity first, then --overload-factor × that rate; pass/fail on 503s, memory, p99, goodput')
  .option('--queue-size <n>', 'with --overload: max_queue_size of the model (default 64)')
  .option('--overload-factor <x>', 'with --overload: offered rate as a multiple of capacity (default 2)')
  .option('--scenarios <list>', 'comma-separated scenarios or groups (simple, identity, cnn)')
  .option('--url <url>', 'measure this running dawnserve (loopback only) instead of starting one')
  .option('--backend <name>', 'tfjs backend of the dawnserve started here', 'auto')
  .option('--warmup <seconds>', 'warm-up seconds per scenario and server (0-10; default 1, with --overload 2 per phase)')
  .option('--json <file>', 'write results as JSON')
  .option('--svg <file>', 'write a bar chart of req/s')
  .action(async (opts: {
    duration?: string; connections?: string; scenarios?: string; url?: string; backend: string; warmup?: string; json?: string; svg?: string;
    overload?: boolean; queueSize?: string; overloadFactor?: string;
  }) => {
    const { runHttpBench, MAX_CONNECTIONS } = await import('./bench/http.js');
    const { parseIntList } = await import('./bench/common.js');
    const backends = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
    const backend = backends.find((b) => b === opts.backend);
    if (!backend) throw new Error(`--backend must be one of ${backends.join(', ')}`);
    const duration = opts.duration ? parseIntList('--duration', opts.duration, 60)[0] : undefined;
    const warmup = opts.warmup !== undefined ? Number(opts.warmup) : undefined;
    if (warmup !== undefined && !(warmup >= 0 && warmup <= 10)) throw new Error('--warmup must be a number of seconds in [0, 10]');
    if (opts.overload) {
      if (opts.url || opts.scenarios || opts.svg) throw new Error('--overload starts its own dawnserve and runs no scenarios: drop --url/--scenarios/--svg');
      const { runOverloadBench } = await import('./bench/overload.js');
      const [capacityConnections, overloadConnections] = opts.connections ? parseIntList('--connections', opts.connections, MAX_CONNECTIONS) : [];
      const factor = opts.overloadFactor !== undefined ? Number(opts.overloadFactor) : undefined;
      if (factor !== undefined && !(factor >= 1 && factor <= 10)) throw new Error('--overload-factor must be a number in [1, 10]');
      const report = await runOverloadBench({
        duration, warmup, backend, json: opts.json, factor, capacityConnections, overloadConnections,
        queueSize: opts.queueSize ? parseIntList('--queue-size', opts.queueSize, 4096)[0] : undefined,
      });
      if (!report.passed) process.exitCode = 1;
      return;
    }
    await runHttpBench({
      duration, warmup, backend,
      connections: opts.connections ? parseIntList('--connections', opts.connections, MAX_CONNECTIONS) : undefined,
      scenarios: opts.scenarios?.split(',').map((s) => s.trim()).filter(Boolean), url: opts.url, json: opts.json, svg: opts.svg,
    });
  });
bench.command('models')
  .description("dawnserve's ONNX executor per tfjs backend (cpu, wasm, webgpu) next to onnxruntime-node CPU: p50/p90 at batch 1 and 8")
  .option('--backends <list>', 'comma-separated tfjs backends (default cpu,wasm,webgpu)')
  .option('--models <list>', 'comma-separated fixture names (test/fixtures/onnx) and/or digits')
  .option('--quick', 'fewer repetitions (2 warm-up, 5 timed)')
  .option('--reps <n>', 'timed repetitions (default 20, at most 200)')
  .option('--json <file>', 'write results as JSON')
  .action(async (opts: { backends?: string; models?: string; quick?: boolean; reps?: string; json?: string }) => {
    const { runModelBench } = await import('./bench/models.js');
    const { parseIntList } = await import('./bench/common.js');
    await runModelBench({
      backends: opts.backends?.split(',').map((s) => s.trim()).filter(Boolean),
      models: opts.models?.split(',').map((s) => s.trim()).filter(Boolean),
      quick: opts.quick === true, reps: opts.reps ? parseIntList('--reps', opts.reps, 200)[0] : undefined, json: opts.json,
    });
  });

await program.parseAsync(process.argv);
