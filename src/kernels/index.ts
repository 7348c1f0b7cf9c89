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
