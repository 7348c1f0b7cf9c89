// Placeholder; the backends helper owns this file.
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
