/// <reference types="@webgpu/types" />
// Compiled pipelines per device, keyed only by what changes the WGSL text. The device layer is
// the only code that creates pipelines; everything else asks this cache.
import { type KernelProgram, workgroupSizeOf } from './program.js';

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  hits = 0;
  misses = 0;

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  keyOf<P>(program: KernelProgram<P>, p: P): string {
    return `${program.name}:${program.key(p)}:${workgroupSizeOf(program, p).join('x')}`;
  }

  get<P>(program: KernelProgram<P>, p: P): GPUComputePipeline {
    const key = this.keyOf(program, p);
    const hit = this.pipelines.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const module = this.device.createShaderModule({ label: key, code: program.wgsl(p) });
    // layout 'auto': every kernel binds its storage buffers in order, then one uniform buffer.
    const pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } });
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Keys of the compiled pipelines (tests check which variant ran). */
  keys(): string[] {
    return [...this.pipelines.keys()];
  }

  clear(): void {
    this.pipelines.clear();
  }
}
