// Triton's `simple_sequence` example as a JavaScript function model. Triton builds it with
// qa/common/gen_qa_sequence_models.py, whose ONNX graph is, in its own words, not a proper
// accumulator: OUTPUT = READY ? INPUT + START : 0, element-wise over INT32 [batch, 1]. The official
// client example (simple_http_sequence_sync_infer_client.py) expects exactly that, e.g. 0 → 1 on
// the first request of a sequence and 11 → 11 afterwards. START and READY are the control tensors
// the sequence batcher adds (see config.pbtxt).
export const inputs = [{ name: 'INPUT', datatype: 'INT32', shape: [1] }];
export const outputs = [{ name: 'OUTPUT', datatype: 'INT32', shape: [1] }];
export const maxBatchSize = 8;

export function infer({ INPUT, START, READY }) {
  const x = INPUT.data;
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ready = READY ? READY.data[i] : 1;
    const start = START ? START.data[i] : 0;
    out[i] = ready ? (x[i] + start) | 0 : 0;
  }
  return { OUTPUT: { data: out, shape: INPUT.shape } };
}
