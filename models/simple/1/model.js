// Triton's `simple` example as a JavaScript function model: OUTPUT0 = INPUT0 + INPUT1,
// OUTPUT1 = INPUT0 - INPUT1, element-wise over INT32 [batch, 16]. int32 arithmetic wraps, as the
// TensorFlow graph behind Triton's original does.
export const inputs = [
  { name: 'INPUT0', datatype: 'INT32', shape: [16] },
  { name: 'INPUT1', datatype: 'INT32', shape: [16] },
];
export const outputs = [
  { name: 'OUTPUT0', datatype: 'INT32', shape: [16] },
  { name: 'OUTPUT1', datatype: 'INT32', shape: [16] },
];
export const maxBatchSize = 8;

export function infer({ INPUT0, INPUT1 }) {
  const a = INPUT0.data;
  const b = INPUT1.data;
  const sum = new Int32Array(a.length);
  const diff = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    sum[i] = (a[i] + b[i]) | 0;
    diff[i] = (a[i] - b[i]) | 0;
  }
  return {
    OUTPUT0: { data: sum, shape: INPUT0.shape },
    OUTPUT1: { data: diff, shape: INPUT0.shape },
  };
}
