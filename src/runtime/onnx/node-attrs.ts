// Attribute and domain readers for the graph passes (layout, fusion), which look at raw nodes
// before any op runs (ops read attributes through `Attributes` in ops/types.ts instead).
import type { OnnxNode } from './model.js';

/** The node is in the default ONNX domain. */
export const isDefault = (n: OnnxNode): boolean => n.domain === '' || n.domain === 'ai.onnx';

export const intAttr = (n: OnnxNode, name: string, dflt: number): number => {
  const a = n.attributes.get(name);
  return a?.kind === 'int' ? a.value : dflt;
};

export const floatAttr = (n: OnnxNode, name: string, dflt: number): number => {
  const a = n.attributes.get(name);
  return a?.kind === 'float' ? a.value : dflt;
};

export const intsAttr = (n: OnnxNode, name: string): number[] | undefined => {
  const a = n.attributes.get(name);
  return a?.kind === 'ints' ? a.value : undefined;
};

export const stringAttr = (n: OnnxNode, name: string, dflt: string): string => {
  const a = n.attributes.get(name);
  return a?.kind === 'string' ? a.value : dflt;
};
