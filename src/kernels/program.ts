/// <reference types="@webgpu/types" />
// A kernel is a small program object; the device layer compiles, caches and dispatches it.
export type WorkgroupSize = readonly [number, number, number];

export interface KernelProgram<P> {
  /** Stable name; prefixes the pipeline cache key. */
  readonly name: string;
  /** Only what changes the WGSL text (variant, vec4 flags, fused activation) — never dimensions. */
  key(p: P): string;
  wgsl(p: P): string;
  workgroupSize: WorkgroupSize | ((p: P) => WorkgroupSize);
  /** Workgroup counts for this call. */
  dispatch(p: P): [number, number, number];
  /** Dimensions and scalars for this call, packed as the WGSL `Uniforms` struct. */
  uniforms(p: P): ArrayBuffer;
}

export function workgroupSizeOf<P>(program: KernelProgram<P>, p: P): WorkgroupSize {
  return typeof program.workgroupSize === 'function' ? program.workgroupSize(p) : program.workgroupSize;
}

export type UniformField = readonly ['u32' | 'i32' | 'f32', number];

/** Packs 4-byte scalars in declaration order (every field 4-aligned), padded to 16 bytes. */
export function packUniforms(fields: readonly UniformField[]): ArrayBuffer {
  const size = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  fields.forEach(([type, v], i) => {
    if (type === 'f32') view.setFloat32(i * 4, v, true);
    else if (type === 'i32') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return buf;
}

/** WGSL `struct Uniforms` matching `packUniforms` field order. */
export function uniformStruct(fields: readonly (readonly [string, 'u32' | 'i32' | 'f32'])[]): string {
  return `struct Uniforms {\n${fields.map(([n, t]) => `  ${n} : ${t},`).join('\n')}\n};\n`;
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
