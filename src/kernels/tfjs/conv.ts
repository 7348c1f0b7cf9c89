// Conv2D / FusedConv2D / DepthwiseConv2dNative (NHWC) over tfjs-backend-webgpu tensors.
import { type TensorInfo, backend_util } from '@tensorflow/tfjs-core';
import { type Activation, isActivation } from '../ops/activation.js';
import { type Conv2DParams, type ConvGeometry, depthwiseProgram, recordConv2D } from '../ops/conv2d.js';
import { matMulDefaults, pickMatMulVariant, recordMatMul } from '../ops/matmul.js';
import { kernelOptions } from '../options.js';
import { type WebGPUBackend, isFloat32OnGpuBackend, packSourceFor, runOnBackend, sizeOf } from './bridge.js';

export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: string;
}

export interface FusedOptions { bias?: TensorInfo; activation?: string; leakyreluAlpha?: number }

function geometry(x: TensorInfo, filter: TensorInfo, a: ConvAttrs, depthwise: boolean): { g: ConvGeometry; outShape: number[] } | undefined {
  if (x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC' && a.dataFormat !== 'channelsLast') return undefined;
  let info: backend_util.Conv2DInfo;
  try {
    info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides, a.dilations, a.pad, a.dimRoundingMode, depthwise, 'channelsLast');
  } catch {
    return undefined; // tfjs's kernel reports the error
  }
  const g: ConvGeometry = {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    fh: info.filterHeight, fw: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    dilH: info.dilationHeight, dilW: info.dilationWidth, padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
  if (g.outH <= 0 || g.outW <= 0) return undefined;
  return { g, outShape: [g.batch, g.outH, g.outW, g.outC] };
}

function fusedParts(o: FusedOptions, outC: number, perChannelOnly: boolean):
  { activation: Activation; leakyAlpha: number; bias: boolean; biasLen: number } | undefined {
  const activation = o.activation ?? 'linear';
  if (!isActivation(activation)) return undefined;
  let biasLen = 1;
  if (o.bias) {
    biasLen = sizeOf(o.bias.shape);
    const okLen = biasLen === outC || (!perChannelOnly && biasLen === 1);
    if (!okLen || (biasLen > 1 && o.bias.shape[o.bias.shape.length - 1] !== outC)) return undefined;
  }
  return { activation, leakyAlpha: o.leakyreluAlpha ?? 0.2, bias: !!o.bias, biasLen };
}

export function conv2dOnBackend(backend: WebGPUBackend, x: TensorInfo, filter: TensorInfo, a: ConvAttrs, o: FusedOptions = {}): TensorInfo | undefined {
  const ins = o.bias ? [x, filter, o.bias] : [x, filter];
  if (!isFloat32OnGpuBackend(backend, ins)) return undefined;
  const geo = geometry(x, filter, a, false);
  if (!geo) return undefined;
  const fused = fusedParts(o, geo.g.outC, false);
  if (!fused) return undefined;
  const g = geo.g;
  // A 1×1 convolution with stride 1 and no padding is a plain matmul of NHWC pixels [N·H·W, Cin]
  // by the filter [Cin, Cout] (tfjs and onnxruntime do the same): no im2col index math at all.
  const pointwise = g.fh === 1 && g.fw === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0;
  return runOnBackend(backend, ins, [geo.outShape], (batch, bufs, [out], ctx) => {
    const forced = kernelOptions.conv ?? kernelOptions.matmul;
    const M = g.batch * g.outH * g.outW;
    const K = pointwise ? g.inC : g.fh * g.fw * g.inC;
    const pick = pickMatMulVariant(ctx.adapter, { M, N: g.outC, K, batch: 1, batchB: 1 }, forced, kernelOptions.tile);
    const pack = packSourceFor(backend, ctx, filter, `conv${K}x${g.outC}`);
    if (pointwise) {
      recordMatMul(batch, pack, matMulDefaults({ M, N: g.outC, K, ...fused, ...pick }), [...bufs, out!]);
      return;
    }
    const params: Conv2DParams = { ...g, ...fused, nv: 1, tm: pick.variant === 'tex' ? pick.tm : 4, variant: pick.variant, tile: pick.tile };
    recordConv2D(batch, pack, params, [...bufs, out!]);
  })?.[0];
}

export function depthwiseOnBackend(backend: WebGPUBackend, x: TensorInfo, filter: TensorInfo, a: ConvAttrs, o: FusedOptions = {}): TensorInfo | undefined {
  const ins = o.bias ? [x, filter, o.bias] : [x, filter];
  if (!isFloat32OnGpuBackend(backend, ins) || filter.shape[3] !== 1) return undefined; // channel multiplier 1 only
  const geo = geometry(x, filter, a, true);
  if (!geo) return undefined;
  const fused = fusedParts(o, geo.g.outC, true);
  if (!fused) return undefined;
  const params = { ...geo.g, ...fused };
  return runOnBackend(backend, ins, [geo.outShape], (batch, bufs, [out]) => {
    batch.dispatch(depthwiseProgram, params, [...bufs, out!]);
  })?.[0];
}
