// Public surface of src/kernels used by the runtime's backend selection. The kernels work
// (issue 5) owns the implementation; these two entry points are the contract.

/**
 * Installs the Dawn WebGPU globals (`navigator.gpu`, GPU* classes) on globalThis so that
 * @tensorflow/tfjs-backend-webgpu can be imported afterwards. Resolves to the adapter info,
 * or throws with the reason WebGPU is unavailable.
 */
export { installWebGpuGlobals } from './device.js';

/** Registers dawnserve's WGSL kernels over tfjs-backend-webgpu's (call after setBackend('webgpu')). */
export { registerDawnKernels } from './register.js';

/** Device-lost hook and adapter summary for the runtime and `doctor`. */
export { onDeviceLost, type AdapterSummary, type DeviceLostInfo } from './device.js';
export { packTextureBytes } from './pack-cache.js';

/** Device-loss recovery: drop tfjs's webgpu backend and re-register our factory; a backend's device state. */
export { installBackendFactory as resetWebGpuBackendFactory, contextForBackend } from './device.js';

/** Ops tfjs has no kernel for (WGSL on webgpu, tfjs ops elsewhere), for the ONNX executor. */
export { layerNorm, gelu, attention } from './functions.js';

/** Switch our kernels off (`--no-wgsl-kernels`) or force a variant. */
export { setKernelOptions, type KernelOptions } from './options.js';

/** WGSL kernel dispatches since the process started (`dawnserve_kernel_dispatches_total`). */
export { kernelDispatches } from './dispatcher.js';
