// A fake InferenceRuntime for HTTP tests: `simple` (INT32 [-1,16] add/sub, max_batch_size 8),
// `identity_fp32` (FP32 dims [-1]), `identity_bytes` (BYTES dims [1], batching) and
// `identity_fp16` (FP16 [-1]). It records the last request so tests can see what HTTP decoded.
import type {
  InferenceRequest, InferenceResponse, InferenceRuntime, ModelMetadata, ModelStatistics,
  RepositoryIndexEntry, LoadParameters, ServerMetadata,
} from '../../src/runtime/api.js';
import { InferenceServerError, invalidArg, notFound } from '../../src/runtime/errors.js';
import type { ModelConfig, ModelInput, ModelOutput } from '../../src/runtime/model-config.js';
import { toConfigDataType, type DataType, type HostTensor } from '../../src/runtime/types.js';

interface FakeModel {
  config: ModelConfig;
  run(inputs: Map<string, HostTensor>): HostTensor[];
}

const tensorIn = (name: string, dt: DataType, dims: number[]): ModelInput => ({
  name, data_type: toConfigDataType(dt), format: 'FORMAT_NONE', dims, is_shape_tensor: false, allow_ragged_batch: false, optional: false,
});
const tensorOut = (name: string, dt: DataType, dims: number[]): ModelOutput => ({
  name, data_type: toConfigDataType(dt), dims, label_filename: '', is_shape_tensor: false,
});

function config(name: string, maxBatch: number, input: ModelInput[], output: ModelOutput[]): ModelConfig {
  return {
    name, platform: 'js', backend: 'js', version_policy: { latest: { num_versions: 1 } }, max_batch_size: maxBatch,
    input, output, instance_group: [{ name, kind: 'KIND_CPU', count: 1, gpus: [] }],
    default_model_filename: 'model.js', parameters: {},
  };
}

const identity = (out: string) => (inputs: Map<string, HostTensor>): HostTensor[] => {
  const x = inputs.get('INPUT0') as HostTensor;
  return [{ ...x, name: out }];
};

export function fakeModels(): Map<string, FakeModel> {
  return new Map<string, FakeModel>([
    ['simple', {
      config: config('simple', 8, [tensorIn('INPUT0', 'INT32', [16]), tensorIn('INPUT1', 'INT32', [16])],
        [tensorOut('OUTPUT0', 'INT32', [16]), tensorOut('OUTPUT1', 'INT32', [16])]),
      run(inputs) {
        const a = inputs.get('INPUT0') as HostTensor;
        const b = inputs.get('INPUT1') as HostTensor;
        const x = a.data as Int32Array;
        const y = b.data as Int32Array;
        const sum = new Int32Array(x.length);
        const diff = new Int32Array(x.length);
        for (let i = 0; i < x.length; i++) {
          sum[i] = (x[i] as number) + (y[i] as number);
          diff[i] = (x[i] as number) - (y[i] as number);
        }
        return [
          { name: 'OUTPUT0', datatype: 'INT32', shape: a.shape, data: sum },
          { name: 'OUTPUT1', datatype: 'INT32', shape: a.shape, data: diff },
        ];
      },
    }],
    ['identity_fp32', {
      config: config('identity_fp32', 0, [tensorIn('INPUT0', 'FP32', [-1])], [tensorOut('OUTPUT0', 'FP32', [-1])]),
      run: identity('OUTPUT0'),
    }],
    ['identity_bytes', {
      config: config('identity_bytes', 8, [tensorIn('INPUT0', 'BYTES', [1])], [tensorOut('OUTPUT0', 'BYTES', [1])]),
      run: identity('OUTPUT0'),
    }],
    ['identity_fp16', {
      config: config('identity_fp16', 0, [tensorIn('INPUT0', 'FP16', [-1])], [tensorOut('OUTPUT0', 'FP16', [-1])]),
      run: identity('OUTPUT0'),
    }],
  ]);
}

export class FakeRuntime implements InferenceRuntime {
  readonly models = fakeModels();
  ready = true;
  lastRequest: InferenceRequest | undefined;
  modelControlMode: 'none' | 'explicit' | 'poll' = 'explicit';
  loads: { name: string; params: LoadParameters }[] = [];
  unloads: { name: string; unloadDependents: boolean }[] = [];
  /** When set, infer waits for this before answering (drain tests). */
  gate: Promise<void> | undefined;

  isLive(): boolean { return true; }
  isReady(): boolean { return this.ready; }
  serverMetadata(): ServerMetadata {
    return { name: 'triton', version: '2.73.0', extensions: ['binary_tensor_data', 'statistics'] };
  }

  private model(name: string, version?: string): FakeModel {
    const m = this.models.get(name);
    if (!m) throw notFound(`Request for unknown model: '${name}' is not found`);
    if (version !== undefined && version !== '' && version !== '1') {
      throw notFound(`Request for unknown model: '${name}' version ${version} is not found`);
    }
    return m;
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const { config: c } = this.model(name, version);
    const batch = c.max_batch_size > 0 ? [-1] : [];
    const meta = (t: { name: string; data_type: ModelInput['data_type']; dims: number[] }) => ({
      name: t.name, datatype: (t.data_type === 'TYPE_STRING' ? 'BYTES' : t.data_type.slice(5)) as DataType, shape: [...batch, ...t.dims],
    });
    return { name, versions: ['1'], platform: c.platform, inputs: c.input.map(meta), outputs: c.output.map(meta) };
  }

  modelConfig(name: string, version?: string): ModelConfig { return this.model(name, version).config; }
  modelReady(name: string, version?: string): boolean {
    try { this.model(name, version); return true; } catch { return false; }
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    this.lastRequest = request;
    const m = this.model(request.model, request.version);
    if (this.gate) await this.gate;
    const inputs = new Map(request.inputs.map((t) => [t.name, t]));
    for (const i of m.config.input) {
      if (!inputs.has(i.name)) throw invalidArg(`expected ${m.config.input.length} inputs but got ${inputs.size} inputs for model '${request.model}'`);
    }
    let outputs = m.run(inputs);
    if (request.outputs) {
      const wanted = new Set(request.outputs.map((o) => o.name));
      for (const w of wanted) {
        if (!m.config.output.some((o) => o.name === w)) throw invalidArg(`unexpected inference output '${w}' for model '${request.model}'`);
      }
      outputs = outputs.filter((o) => wanted.has(o.name));
    }
    const response: InferenceResponse = { model_name: request.model, model_version: '1', outputs };
    if (request.id !== undefined) response.id = request.id;
    return response;
  }

  statistics(name?: string, version?: string): ModelStatistics[] {
    const names = name === undefined ? [...this.models.keys()] : [this.model(name, version) && name];
    const d = { count: 0, ns: 0 };
    return names.map((n) => ({
      name: n, version: '1', last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: { success: d, fail: d, queue: d, compute_input: d, compute_infer: d, compute_output: d, cache_hit: d, cache_miss: d },
      response_stats: {}, batch_stats: [], memory_usage: [],
    }));
  }

  async repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    const all: RepositoryIndexEntry[] = [...this.models.keys()].map((name) => ({ name, version: '1', state: 'READY' }));
    all.push({ name: 'broken', state: 'UNAVAILABLE', reason: 'failed to load' });
    return readyOnly ? all.filter((e) => e.state === 'READY') : all;
  }

  async loadModel(name: string, params: LoadParameters): Promise<void> {
    if (name === 'missing') throw new InferenceServerError('INTERNAL', `failed to load '${name}', failed to poll from model repository`);
    this.loads.push({ name, params });
  }

  async unloadModel(name: string, params: { unloadDependents: boolean }): Promise<void> {
    this.unloads.push({ name, ...params });
  }
}
