// Registers dawnserve's WGSL kernels over tfjs-backend-webgpu's. Each wrapper keeps tfjs's own
// kernelFunc and falls back to it for calls our kernel does not cover (dtype, prelu, exotic
// broadcasting), or when our kernels are switched off (`--no-wgsl-kernels`, benchmarks).
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { kernelOptions } from './options.js';
import type { WebGPUBackend } from './tfjs/bridge.js';
import { TFJS_KERNELS, CUSTOM_KERNELS } from './tfjs/table.js';



const replaced = new Map<string, KernelConfig>();
const custom = new Set<string>();

/** Registers our kernels (call after setBackend('webgpu')); resolves to the kernel names replaced or added. */
export async function registerDawnKernels(): Promise<string[]> {
  // tfjs registers its webgpu kernels when its module is evaluated; make sure that happened.
  await import('@tensorflow/tfjs-backend-webgpu');
  for (const [name, ours] of Object.entries(TFJS_KERNELS)) {
    if (replaced.has(name)) continue;
    const fallback = tf.getKernel(name, 'webgpu');
    if (!fallback) continue;
    const kernelFunc: KernelFunc = (args) => {
      const res = kernelOptions.enabled ? ours(args.inputs, args.backend as WebGPUBackend, args.attrs ?? {}) : undefined;
      return res ?? fallback.kernelFunc(args);
    };
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ ...fallback, kernelFunc });
    replaced.set(name, fallback);
  }
  for (const [name, ours] of Object.entries(CUSTOM_KERNELS)) {
    if (custom.has(name) || tf.getKernel(name, 'webgpu')) continue;
    tf.registerKernel({
      kernelName: name, backendName: 'webgpu',
      kernelFunc: (args) => {
        const res = ours(args.inputs, args.backend as WebGPUBackend, args.attrs ?? {});
        if (!res) throw new Error(`${name}: unsupported inputs for the WGSL kernel`);
        return res;
      },
    });
    custom.add(name);
  }
  return [...replaced.keys(), ...custom];
}

/** Restores tfjs's own kernels (tests, `--no-wgsl-kernels` after the fact). */
export function unregisterDawnKernels(): void {
  for (const [name, config] of replaced) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(config);
  }
  replaced.clear();
  for (const name of custom) tf.unregisterKernel(name, 'webgpu');
  custom.clear();
}

/** tfjs's original kernel for `name` (the benchmark calls it directly to compare). */
export function tfjsKernel(name: string): KernelConfig | undefined {
  return replaced.get(name) ?? tf.getKernel(name, 'webgpu');
}
