// The operator tables the plan resolves every node through: the default ONNX domain, and the
// internal domain its own rewrites use.
import type { OpDef, OpTable } from './types.js';
import { opDef } from './types.js';
import { elementwiseOps } from './elementwise.js';
import { shapeOps } from './shape.js';
import { nnOps } from './nn.js';
import { reduceOps } from './reduce.js';
import { recurrentOps } from './recurrent.js';
import { einsumOps } from './einsum.js';
import { INTERNAL_DOMAIN, nhwcOps } from './nhwc.js';
import { fusedOps } from './fused.js';

export const opTable: OpTable = { ...elementwiseOps, ...shapeOps, ...nnOps, ...reduceOps, ...recurrentOps, ...einsumOps };
/** Ops only the plan's own passes emit: the layout pass's NHWC ops and the fusion pass's fused ones. */
const internalOps: OpTable = { ...nhwcOps, ...fusedOps };

export function lookupOp(domain: string, opType: string): OpDef | undefined {
  const table = domain === '' || domain === 'ai.onnx' ? opTable : domain === INTERNAL_DOMAIN ? internalOps : undefined;
  if (!table) return undefined;
  const entry = Object.prototype.hasOwnProperty.call(table, opType) ? table[opType] : undefined;
  return entry && opDef(entry);
}

export type { OpContext, OpDef, OpFn, OpTable } from './types.js';
