// Runs the kernel benchmark without the CLI: npx tsx bench/kernels.ts [--quick] [--json FILE] [ops...]
import { runKernelBench } from '../src/kernels/bench.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const json = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const ops = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
await runKernelBench({ quick: args.includes('--quick'), json, ops: ops.length ? ops : undefined });
// dawn.node can keep the event loop alive after the device is done (node-webgpu crbug 387965810).
process.exit(0);
