// One table from tfjs kernel names to our implementations (onnxruntime-web's op-resolve style).
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from './bridge.js';
import { attentionOnBackend } from './attention.js';
import { type ConvAttrs, conv2dOnBackend, depthwiseOnBackend } from './conv.js';
import { matMulOnBackend } from './matmul.js';
import { geluOnBackend, layerNormOnBackend, softmaxOnBackend } from './rows.js';

export type OurKernelFunc = (inputs: NamedTensorInfoMap, backend: WebGPUBackend, attrs: NamedAttrMap) => TensorInfo | undefined;

const bool = (v: unknown): boolean => v === true;
const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);

function convAttrs(attrs: NamedAttrMap): ConvAttrs {
  return attrs as unknown as ConvAttrs;
}

function fusedOpts(bias: TensorInfo | undefined, attrs: NamedAttrMap) {
  return { ...(bias ? { bias } : {}), activation: String(attrs['activation'] ?? 'linear'), leakyreluAlpha: num(attrs['leakyreluAlpha'], 0.2) };
}

export const TFJS_KERNELS: Record<string, OurKernelFunc> = {
  BatchMatMul: ({ a, b }, backend, attrs) =>
    matMulOnBackend(backend, a!, b!, { transposeA: bool(attrs['transposeA']), transposeB: bool(attrs['transposeB']) }),
  _FusedMatMul: ({ a, b, bias, preluActivationWeights }, backend, attrs) => {
    if (preluActivationWeights) return undefined;
    return matMulOnBackend(backend, a!, b!, {
      transposeA: bool(attrs['transposeA']), transposeB: bool(attrs['transposeB']),
      ...(bias ? { bias } : {}), activation: String(attrs['activation'] ?? 'linear'),
      leakyreluAlpha: num(attrs['leakyreluAlpha'], 0.2),
    });
  },
  Conv2D: ({ x, filter }, backend, attrs) => conv2dOnBackend(backend, x!, filter!, convAttrs(attrs)),
  FusedConv2D: ({ x, filter, bias, preluActivationWeights }, backend, attrs) =>
    (preluActivationWeights ? undefined : conv2dOnBackend(backend, x!, filter!, convAttrs(attrs), fusedOpts(bias, attrs))),
  DepthwiseConv2dNative: ({ x, filter }, backend, attrs) => depthwiseOnBackend(backend, x!, filter!, convAttrs(attrs)),
  FusedDepthwiseConv2D: ({ x, filter, bias, preluActivationWeights }, backend, attrs) =>
    (preluActivationWeights ? undefined : depthwiseOnBackend(backend, x!, filter!, convAttrs(attrs), fusedOpts(bias, attrs))),
  Softmax: ({ logits }, backend, attrs) => softmaxOnBackend(backend, logits!, num(attrs['dim'], -1)),
};

/** Kernels tfjs does not have; reached through the functions in `functions.ts`. */
export const CUSTOM_KERNELS: Record<string, OurKernelFunc> = {
  DawnLayerNorm: ({ x, gamma, beta }, backend, attrs) => layerNormOnBackend(backend, x!, gamma, beta, num(attrs['epsilon'], 1e-5)),
  DawnGelu: ({ x }, backend) => geluOnBackend(backend, x!),
  DawnAttention: ({ q, k, v, mask }, backend, attrs) => attentionOnBackend(backend, q!, k!, v!, mask, num(attrs['scale'], 1)),
};
