// Triton's `simple_string` example: INPUT0 and INPUT1 are BYTES tensors [batch, 16] whose
// elements are decimal integers as text; OUTPUT0/OUTPUT1 are their sum/difference, as text.
// A bad element is the client's fault, so it is reported as INVALID_ARG (HTTP 400).
export const inputs = [
  { name: 'INPUT0', datatype: 'BYTES', shape: [16] },
  { name: 'INPUT1', datatype: 'BYTES', shape: [16] },
];
export const outputs = [
  { name: 'OUTPUT0', datatype: 'BYTES', shape: [16] },
  { name: 'OUTPUT1', datatype: 'BYTES', shape: [16] },
];
export const maxBatchSize = 8;

const decoder = new TextDecoder();

function toInts(tensor) {
  return tensor.data.map((bytes, i) => {
    const text = decoder.decode(bytes).trim();
    if (!/^[+-]?\d+$/.test(text)) {
      const err = new Error(`${tensor.name} element ${i} ('${text}') is not an integer`);
      err.code = 'INVALID_ARG';
      throw err;
    }
    return Number.parseInt(text, 10);
  });
}

export function infer({ INPUT0, INPUT1 }) {
  const a = toInts(INPUT0);
  const b = toInts(INPUT1);
  return {
    OUTPUT0: { data: a.map((v, i) => String((v + b[i]) | 0)), shape: INPUT0.shape },
    OUTPUT1: { data: a.map((v, i) => String((v - b[i]) | 0)), shape: INPUT0.shape },
  };
}
