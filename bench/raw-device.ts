// Shared set-up of the raw-kernel tuning sweeps: our device and kernel context without tfjs, a
// profiler for GPU time, and storage buffers filled with a constant.
import { createDevice, contextForDevice, installWebGpuGlobals, type GpuContext } from '../src/kernels/device.js';
import { KernelProfiler } from '../src/kernels/dispatcher.js';

export interface RawDevice {
  device: GPUDevice;
  ctx: GpuContext;
  profiler: KernelProfiler;
  /** A storage buffer of n floats, all 0.5. */
  buffer(n: number): GPUBuffer;
}

export async function rawDevice(): Promise<RawDevice> {
  await installWebGpuGlobals();
  const { device, adapter } = await createDevice();
  const ctx = contextForDevice(device, adapter);
  const buffer = (n: number): GPUBuffer => {
    const b = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
    new Float32Array(b.getMappedRange()).fill(0.5);
    b.unmap();
    return b;
  };
  return { device, ctx, profiler: new KernelProfiler(device), buffer };
}
