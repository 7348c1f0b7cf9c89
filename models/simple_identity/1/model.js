// Triton's `simple_identity` example: OUTPUT0 is INPUT0, BYTES [batch, any]. Triton's client
// examples (e.g. reuse_infer_objects_client.py) send shape [1, 16].
export const inputs = [{ name: 'INPUT0', datatype: 'BYTES', shape: [-1] }];
export const outputs = [{ name: 'OUTPUT0', datatype: 'BYTES', shape: [-1] }];
export const maxBatchSize = 8;

export function infer({ INPUT0 }) {
  return { OUTPUT0: { data: INPUT0.data, shape: INPUT0.shape } };
}
