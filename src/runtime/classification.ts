// The classification extension (protocol notes §1.7): an output turned into its top-K entries as
// BYTES "<value>:<index>[:<label>]", sorted by value, one row per batch item.
import type { HostTensor } from './types.js';
import { elementCount } from './types.js';
import { halfToFloat } from './tensor-convert.js';
import { invalidArg } from './errors.js';

const MAX_CLASSIFICATION_ELEMENTS = 1_000_000;
const encoder = new TextEncoder();

function bf16ToFloat(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
}

/** C++ std::to_string(float): "%f", including its spellings of the non-finite values. */
function formatFloat(v: number): string {
  if (Number.isNaN(v)) return v < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(v)) return v < 0 ? '-inf' : 'inf';
  if (Math.abs(v) >= 1e21) return BigInt(Math.round(v)).toString() + '.000000';
  return v.toFixed(6);
}

/** Element i as a sortable number and its printed form. */
function reader(t: HostTensor): (i: number) => { key: number; text: string } {
  const d = t.data;
  switch (t.datatype) {
    case 'FP32': case 'FP64': {
      const a = d as Float32Array | Float64Array;
      return (i) => ({ key: a[i]!, text: formatFloat(a[i]!) });
    }
    case 'FP16': {
      const a = d as Uint16Array;
      return (i) => { const v = halfToFloat(a[i]!); return { key: v, text: formatFloat(v) }; };
    }
    case 'BF16': {
      const a = d as Uint16Array;
      return (i) => { const v = bf16ToFloat(a[i]!); return { key: v, text: formatFloat(v) }; };
    }
    case 'INT64': case 'UINT64': {
      const a = d as BigInt64Array | BigUint64Array;
      return (i) => ({ key: Number(a[i]!), text: a[i]!.toString() });
    }
    case 'BYTES':
      throw invalidArg("class result not available for output due to unsupported type 'BYTES'");
    default: {
      const a = d as Exclude<HostTensor['data'], Uint8Array[] | BigInt64Array | BigUint64Array>;
      return (i) => ({ key: a[i]!, text: String(a[i]!) });
    }
  }
}

/**
 * Top-`k` classification of `tensor`. For batching models the first dim is the batch and each
 * row is classified on its own; `labels[index]` is appended when the model has a label file.
 */
export function classify(tensor: HostTensor, k: number, batching: boolean, labels?: readonly string[]): HostTensor {
  const read = reader(tensor);
  const total = elementCount(tensor.shape);
  if (total > MAX_CLASSIFICATION_ELEMENTS) throw invalidArg('classification output tensor too large');
  const rows = batching && tensor.shape.length > 0 ? tensor.shape[0]! : 1;
  const perRow = rows === 0 ? 0 : total / rows;
  const top = Math.min(k, perRow);
  const out: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * perRow;
    const entries = Array.from({ length: perRow }, (_, i) => ({ index: i, ...read(base + i) }));
    // Stable sort: equal values keep index order, as std::stable_sort would.
    entries.sort((a, b) => (b.key > a.key ? 1 : b.key < a.key ? -1 : 0));
    for (const e of entries.slice(0, top)) {
      const label = labels?.[e.index];
      out.push(encoder.encode(`${e.text}:${e.index}${label !== undefined && label !== '' ? `:${label}` : ''}`));
    }
  }
  return { name: tensor.name, datatype: 'BYTES', shape: batching ? [rows, top] : [top], data: out };
}
