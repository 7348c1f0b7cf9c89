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
    const server = await startDawnserve(opts);
    stopOnSignals(server);
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

await program.parseAsync(process.argv);
