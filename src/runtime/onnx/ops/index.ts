// The operator table the plan resolves every node through (default ONNX domain only).
import type { OpDef, OpTable } from './types.js';
import { opDef } from './types.js';
import { elementwiseOps } from './elementwise.js';
import { shapeOps } from './shape.js';
import { nnOps } from './nn.js';
import { reduceOps } from './reduce.js';
import { recurrentOps } from './recurrent.js';
import { einsumOps } from './einsum.js';
import { INTERNAL_DOMAIN, nhwcOps } from './nhwc.js';

export const opTable: OpTable = { ...elementwiseOps, ...shapeOps, ...nnOps, ...reduceOps, ...recurrentOps, ...einsumOps };

export function lookupOp(domain: string, opType: string): OpDef | undefined {
  const table = domain === '' || domain === 'ai.onnx' ? opTable : domain === INTERNAL_DOMAIN ? nhwcOps : undefined;
  if (!table) return undefined;
  const entry = Object.prototype.hasOwnProperty.call(table, opType) ? table[opType] : undefined;
  return entry && opDef(entry);
}

export type { OpContext, OpDef, OpFn, OpTable } from './types.js';
