// Placeholder until the kernels work lands: installs Dawn's globals for tfjs-backend-webgpu.
export interface AdapterSummary { vendor: string; architecture: string; device: string; description: string; features: string[] }

let installed: Promise<AdapterSummary> | undefined;

export function installWebGpuGlobals(): Promise<AdapterSummary> {
  installed ??= (async () => {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter (is a Vulkan driver such as Mesa lavapipe installed?)');
    const info = adapter.info;
    return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, features: [...adapter.features] as string[] };
  })();
  return installed;
}
