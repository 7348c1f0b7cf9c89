// The contract between the plan executor and the operator mappings.
import type * as tf from '@tensorflow/tfjs-core';
import type { AttrValue, ConstTensor, OnnxGraph, OnnxNode } from '../model.js';
import { invalidArg } from '../../errors.js';

export type Tensor = tf.Tensor;

type AttrValueOf<K extends AttrValue['kind']> = { [A in AttrValue as A['kind']]: A['value'] }[K];

/** Typed access to a node's attributes, with the ONNX default passed at the call site. */
export class Attributes {
  constructor(private readonly node: OnnxNode) {}

  has(name: string): boolean { return this.node.attributes.has(name); }

  private get<K extends AttrValue['kind']>(name: string, kind: K): AttrValueOf<K> | undefined {
    const a = this.node.attributes.get(name);
    if (!a) return undefined;
    if (a.kind !== kind) throw invalidArg(`ONNX node '${this.node.name}' (${this.node.opType}): attribute '${name}' is ${a.kind}, expected ${kind}`);
    return a.value as AttrValueOf<K>;
  }

  int(name: string, dflt: number): number { return this.get(name, 'int') ?? dflt; }
  float(name: string, dflt: number): number { return this.get(name, 'float') ?? dflt; }
  string(name: string, dflt: string): string { return this.get(name, 'string') ?? dflt; }
  ints(name: string): number[] | undefined { return this.get(name, 'ints'); }
  floats(name: string): number[] | undefined { return this.get(name, 'floats'); }
  strings(name: string): string[] | undefined { return this.get(name, 'strings'); }
  tensor(name: string): ConstTensor | undefined { return this.get(name, 'tensor'); }
  graph(name: string): OnnxGraph | undefined { return this.get(name, 'graph'); }
}

export interface OpContext {
  node: OnnxNode;
  /** Default-domain opset of the model: selects between attribute and input forms of an op. */
  opset: number;
  /** Node inputs in order; an omitted optional input is undefined (test with `has`). */
  inputs: Tensor[];
  attr: Attributes;
  has(i: number): boolean;
  /** Values of input `i`, which the op declared in `hostInputs` (read before the op runs). */
  host(i: number): ArrayLike<number>;
}

export type OpFn = (ctx: OpContext) => Tensor | Tensor[];

export interface OpDef {
  run: OpFn;
  /** Inputs whose values the op needs on the host (shapes, axes, pads, scales). */
  hostInputs?: readonly number[] | ((ctx: { opset: number; node: OnnxNode }) => readonly number[]);
  /** Set for ops that must not be evaluated at load time even with constant inputs. */
  noFold?: boolean;
}

/** One table per op family; values are a bare mapping when the op needs nothing more. */
export type OpTable = Record<string, OpFn | OpDef>;

export function opDef(entry: OpFn | OpDef): OpDef {
  return typeof entry === 'function' ? { run: entry } : entry;
}

export function opError(node: OnnxNode, msg: string): Error {
  return invalidArg(`ONNX node '${node.name}' (${node.opType}): ${msg}`);
}

/** Normalises a possibly negative axis against `rank`. */
export function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The values of host input `i` as plain numbers, or undefined when the input is omitted. */
export function hostInts(ctx: OpContext, i: number): number[] | undefined {
  return ctx.has(i) ? Array.from(ctx.host(i), Number) : undefined;
}
