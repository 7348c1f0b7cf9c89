/// <reference types="@webgpu/types" />
// Textures the lavapipe GEMM core packs its B operand into (ops/texmm.ts): one shared scratch
// texture for operands used once (activations), and kept textures for operands that come back
// (model weights), so a weight is packed once instead of on every call (the pack measured 4–29%
// of a call at transformer shapes).
//
// An operand is identified by its owner — tfjs's dataId, an object that never changes contents
// (tfjs tensors are immutable; a Variable's assign gives it a new dataId) and is never reused for
// another tensor — plus the pack shape (the same dataId can be viewed with other shapes after a
// reshape). It is kept on its second sighting, so one-off activations never take cache space;
// kept textures are evicted least recently used first within a byte budget, and entries whose
// tensor was disposed are dropped whenever a new one is added.

/** Upper bound of one pack texture (the chooser sends larger operands to the buffer kernel). */
export const PACK_TEXTURE_MAX_BYTES = 64 * 1024 * 1024;
/** Budget of the kept (weight) textures of one device. */
export const PACK_CACHE_MAX_BYTES = 256 * 1024 * 1024;

const TEXEL_BYTES = 16; // rgba32float

/** A pack texture to bind, and whether it already holds this operand (then the pack is skipped). */
export interface PackTarget {
  view: GPUTextureView;
  filled: boolean;
  /** Called once the pack dispatch into `view` is recorded. */
  markFilled(): void;
}

/** Where a GEMM packs B: the texture to bind and whether it already holds B (then no pack). */
export type PackSource = (width: number, height: number) => PackTarget;

interface Kept { key: string; texture: GPUTexture; bytes: number; filled: boolean }

/** GPU memory held in pack textures by every live device (reported with the GPU memory metric). */
let liveBytes = 0;

export function packTextureBytes(): number {
  return liveBytes;
}

export class PackTextures {
  private scratchTexture: GPUTexture | undefined;
  private scratchBytes = 0;
  private readonly kept = new Map<object, Kept>();
  private keptBytes = 0;
  /** Operands seen once, with the pack shape they had. */
  private readonly seen = new WeakMap<object, string>();

  constructor(private readonly device: GPUDevice) {}

  /**
   * The shared scratch texture, at least width × height texels, grown on demand. Reusing it for the
   * next matmul is safe because dispatches run in queue order; a replaced texture is only dropped
   * (not destroyed), so commands already recorded keep theirs alive.
   */
  scratch(width: number, height: number): GPUTextureView {
    const old = this.scratchTexture;
    if (!old || old.width < width || old.height < height) {
      let w = Math.max(width, old?.width ?? 0);
      let h = Math.max(height, old?.height ?? 0);
      if (w * h * TEXEL_BYTES > PACK_TEXTURE_MAX_BYTES) [w, h] = [width, height];
      this.scratchTexture = this.create(w, h);
      this.account(w * h * TEXEL_BYTES - this.scratchBytes);
      this.scratchBytes = w * h * TEXEL_BYTES;
    }
    return (this.scratchTexture as GPUTexture).createView();
  }

  /**
   * Where to pack the operand `owner` (undefined: not identifiable, use the scratch texture) of
   * pack shape `key`. `isLive(owner)` tells whether a kept operand's tensor still exists.
   */
  target(owner: object | undefined, key: string, width: number, height: number, isLive: (owner: object) => boolean): PackTarget {
    const hit = owner ? this.kept.get(owner) : undefined;
    if (owner && hit && hit.key === key) {
      this.kept.delete(owner); // re-inserted: Map order is least recently used first
      this.kept.set(owner, hit);
      return { view: hit.texture.createView(), filled: hit.filled, markFilled: () => { hit.filled = true; } };
    }
    const bytes = width * height * TEXEL_BYTES;
    if (!owner || this.seen.get(owner) !== key || bytes > PACK_CACHE_MAX_BYTES) {
      if (owner) this.seen.set(owner, key);
      return { view: this.scratch(width, height), filled: false, markFilled: () => undefined };
    }
    if (hit) this.evict(owner, hit); // same tensor, another shape: the newer view wins
    for (const [o, k] of this.kept) if (!isLive(o)) this.evict(o, k);
    for (const [o, k] of this.kept) {
      if (this.keptBytes + bytes <= PACK_CACHE_MAX_BYTES) break;
      this.evict(o, k);
    }
    const entry: Kept = { key, texture: this.create(width, height), bytes, filled: false };
    this.kept.set(owner, entry);
    this.keptBytes += bytes;
    this.account(bytes);
    return { view: entry.texture.createView(), filled: false, markFilled: () => { entry.filled = true; } };
  }

  /** A PackSource that always uses the scratch texture (operands used once). */
  scratchSource(): PackSource {
    return (w, h) => ({ view: this.scratch(w, h), filled: false, markFilled: () => undefined });
  }

  /** Kept operands (tests). */
  get keptCount(): number {
    return this.kept.size;
  }

  /** The device is gone: its textures no longer count. */
  lost(): void {
    this.account(-(this.scratchBytes + this.keptBytes));
    this.scratchBytes = 0;
    this.keptBytes = 0;
    this.kept.clear();
    this.scratchTexture = undefined;
  }

  private evict(owner: object, k: Kept): void {
    this.kept.delete(owner);
    this.keptBytes -= k.bytes;
    this.account(-k.bytes);
  }

  private account(delta: number): void {
    liveBytes += delta;
  }

  private create(width: number, height: number): GPUTexture {
    return this.device.createTexture({
      label: 'dawnserve-pack', size: [width, height], format: 'rgba32float',
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
    });
  }
}
