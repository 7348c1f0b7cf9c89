// Attention softmax(α·Q·Kᵀ + mask)·V as three dispatches in one pass: scores into a scratch
// buffer (scale and mask fused into the first matmul), softmax in place, then P·V. The
// probabilities never leave the GPU and tfjs sees one kernel.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { matMulDefaults, pickMatMulVariant, recordMatMul } from '../ops/matmul.js';
import { chooseRowVariant } from '../ops/rows.js';
import { softmaxProgram } from '../ops/softmax.js';
import { kernelOptions } from '../options.js';
import { type WebGPUBackend, isFloat32OnGpuBackend, runOnBackend, sizeOf } from './bridge.js';

export interface AttentionShape { bh: number; sq: number; sk: number; d: number; dv: number; maskBatch: number }

/** Shapes: q [..., Sq, D], k [..., Sk, D], v [..., Sk, Dv], same leading dims; mask [..., Sq, Sk] with leading size 1 or that of q. */
export function attentionShape(q: TensorInfo, k: TensorInfo, v: TensorInfo, mask?: TensorInfo): AttentionShape | undefined {
  const r = q.shape.length;
  if (r < 2 || k.shape.length !== r || v.shape.length !== r) return undefined;
  const lead = q.shape.slice(0, -2);
  if (k.shape.slice(0, -2).some((d, i) => d !== lead[i]) || v.shape.slice(0, -2).some((d, i) => d !== lead[i])) return undefined;
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const [sk, dk] = k.shape.slice(-2) as [number, number];
  const [sv, dv] = v.shape.slice(-2) as [number, number];
  if (dk !== d || sv !== sk) return undefined;
  const bh = sizeOf(lead);
  let maskBatch = 1;
  if (mask) {
    const ms = mask.shape;
    if (ms.length < 2 || ms[ms.length - 2] !== sq || ms[ms.length - 1] !== sk) return undefined;
    maskBatch = sizeOf(ms) / (sq * sk);
    if (maskBatch !== 1 && maskBatch !== bh) return undefined;
  }
  return { bh, sq, sk, d, dv, maskBatch };
}

export function attentionOnBackend(backend: WebGPUBackend, q: TensorInfo, k: TensorInfo, v: TensorInfo,
  mask: TensorInfo | undefined, scale: number): TensorInfo | undefined {
  const ins = mask ? [q, k, v, mask] : [q, k, v];
  const s = attentionShape(q, k, v, mask);
  if (!s || !isFloat32OnGpuBackend(backend, ins)) return undefined;
  const outShape = [...q.shape.slice(0, -1), s.dv];
  return runOnBackend(backend, ins, [outShape], (batch, [qb, kb, vb, mb], [out], ctx) => {
    const pick = (M: number, N: number, K: number) =>
      pickMatMulVariant(ctx.adapter, { M, N, K, batch: s.bh, batchB: s.bh }, kernelOptions.matmul, kernelOptions.tile);
    // Kᵀ and V are activations: packed into the scratch texture each call.
    const pack = ctx.packs.scratchSource();
    const scores = batch.scratch(s.bh * s.sq * s.sk * 4);
    const qk = matMulDefaults({
      M: s.sq, N: s.sk, K: s.d, batch: s.bh, batchA: s.bh, batchB: s.bh, transB: true, alpha: scale,
      mask: !!mb, maskBatch: s.maskBatch, ...pick(s.sq, s.sk, s.d),
    });
    recordMatMul(batch, pack, qk, mb ? [qb!, kb!, mb, scores] : [qb!, kb!, scores]);
    const variant = chooseRowVariant(kernelOptions.rows, ctx.adapter.software, ctx.adapter.subgroups);
    batch.dispatch(softmaxProgram, { rows: s.bh * s.sq, cols: s.sk, variant, inPlace: true }, [scores]);
    const pv = matMulDefaults({
      M: s.sq, N: s.dv, K: s.sk, batch: s.bh, batchA: s.bh, batchB: s.bh, ...pick(s.sq, s.dv, s.sk),
    });
    recordMatMul(batch, pack, pv, [scores, vb!, out!]);
  })?.[0];
}
