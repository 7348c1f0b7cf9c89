// TF.js graph and layers models (platform "tensorflowjs": model.json + weight shards).
// Every load and execution runs inside withBackend, so weights and activations live on the
// model's backend; every tensor an execution creates is disposed before it returns.
import type * as tfType from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import path from 'node:path';
import type { HostTensor } from '../types.js';
import { toProtocolDataType } from '../types.js';
import type { ModelConfig } from '../model-config.js';
import type { DerivedConfig, ExecuteRequest, Executor, ExecutorContext, ExecutorFactory } from '../executor.js';
import { getDefaultBackend, withBackend, type BackendName, type Tf } from '../backends.js';
import { hostToTensor, tensorToHost } from '../tensor-convert.js';
import { internal, invalidArg } from '../errors.js';
import { fileSystemLoadHandler, readModelJson } from './tfjs-io.js';
import { graphSignature, layersSignature, modelKind, signatureToConfig, type ModelSignature } from './tfjs-signature.js';

export { DEFAULT_MAX_BATCH_SIZE } from './tfjs-signature.js';

function modelFile(versionDir: string, filename: string): string {
  return path.join(versionDir, filename || 'model.json');
}

interface TensorNames { inputs: string[]; outputs: string[] }

function checkNames(config: ModelConfig, sig: TensorNames, model: string): void {
  const check = (kind: 'input' | 'output', names: string[], available: string[]) => {
    for (const n of names) {
      if (!available.includes(n)) throw invalidArg(`model '${model}': config ${kind} '${n}' is not an ${kind} of the TF.js model (${kind}s: ${available.join(', ')})`);
    }
  };
  check('input', config.input.map((i) => i.name), sig.inputs);
  check('output', config.output.map((o) => o.name), sig.outputs);
}

/** Runs the model itself; returns one tensor per requested output, in that order. */
interface Runner {
  run(feeds: tfType.NamedTensorMap, outputs: string[]): Promise<tfType.Tensor[]>;
  dispose(): void;
}

class GraphRunner implements Runner {
  /** Set once `execute` reported control flow or dynamic shapes: use executeAsync from then on. */
  private needsAsync = false;

  constructor(private readonly model: GraphModel) {}

  async run(feeds: tfType.NamedTensorMap, outputs: string[]): Promise<tfType.Tensor[]> {
    if (!this.needsAsync) {
      try {
        return toArray(this.model.execute(feeds, outputs));
      } catch (e) {
        if (!(e instanceof Error && /executeAsync/.test(e.message))) throw e;
        this.needsAsync = true;
      }
    }
    return toArray(await this.model.executeAsync(feeds, outputs));
  }

  dispose(): void {
    this.model.dispose();
  }
}

class LayersRunner implements Runner {
  constructor(private readonly model: LayersModel) {}

  async run(feeds: tfType.NamedTensorMap, outputs: string[]): Promise<tfType.Tensor[]> {
    const xs = this.model.inputNames.map((n) => {
      const t = feeds[n];
      if (!t) throw invalidArg(`missing input '${n}': a layers model needs all of its inputs`);
      return t;
    });
    const all = toArray(this.model.predict(xs.length === 1 ? xs[0]! : xs));
    const picked = outputs.map((n) => all[this.model.outputNames.indexOf(n)]!);
    // Outputs that were not asked for are disposed now; the caller disposes the rest.
    for (const t of all) if (!picked.includes(t)) t.dispose();
    return picked;
  }

  dispose(): void {
    this.model.dispose();
  }
}

function toArray(r: tfType.Tensor | tfType.Tensor[] | tfType.NamedTensorMap): tfType.Tensor[] {
  if (Array.isArray(r)) return r;
  if ('dataId' in r) return [r as tfType.Tensor];
  throw new Error('TF.js model returned a map of outputs where a list was expected');
}

class TfjsExecutor implements Executor {
  private readonly batched: boolean;

  constructor(private readonly runner: Runner, private readonly ctx: ExecutorContext) {
    this.batched = ctx.config.max_batch_size > 0;
  }

  execute(request: ExecuteRequest): Promise<HostTensor[]> {
    return withBackend(this.ctx.backend, (tf) => this.executeOn(tf, request));
  }

  private async executeOn(tf: Tf, request: ExecuteRequest): Promise<HostTensor[]> {
    const { config, modelName } = this.ctx;
    const created: tfType.Tensor[] = [];
    let outputs: tfType.Tensor[] = [];
    try {
      const feeds: tfType.NamedTensorMap = {};
      for (const spec of config.input) {
        const host = request.inputs.get(spec.name);
        if (!host) continue;
        let t = hostToTensor(tf, host);
        created.push(t);
        if (spec.reshape) {
          // Triton's reshape: clients send `dims`, the model expects `reshape.shape`.
          t = tf.reshape(t, this.batched ? [host.shape[0]!, ...spec.reshape.shape] : spec.reshape.shape);
          created.push(t);
        }
        feeds[spec.name] = t;
      }
      outputs = await this.runner.run(feeds, request.outputs);
      const result: HostTensor[] = [];
      for (const [i, name] of request.outputs.entries()) {
        const spec = config.output.find((o) => o.name === name);
        if (!spec) throw invalidArg(`unexpected inference output '${name}' for model '${modelName}'`);
        const datatype = toProtocolDataType(spec.data_type);
        if (!datatype) throw internal(`model '${modelName}': output '${name}' has data_type ${spec.data_type}`);
        const host = await tensorToHost(outputs[i]!, name, datatype);
        if (spec.reshape) host.shape = this.batched ? [host.shape[0]!, ...spec.dims] : spec.dims.slice();
        result.push(host);
      }
      return result;
    } finally {
      tf.dispose(created);
      tf.dispose(outputs);
    }
  }

  async unload(): Promise<void> {
    await withBackend(this.ctx.backend, () => this.runner.dispose());
  }
}

/** Loads a TF.js model on `backend`; returns the runner and the model's tensor names. */
async function loadModel(file: string, backend: BackendName): Promise<{ runner: Runner; names: TensorNames; layers?: ModelSignature }> {
  const json = await readModelJson(file);
  const kind = modelKind(json);
  return withBackend(backend, async () => {
    if (kind === 'graph') {
      // GraphModel names its inputs/outputs by signature key when there is a signature, else by node.
      const model = await loadGraphModel(fileSystemLoadHandler(file));
      return { runner: new GraphRunner(model), names: { inputs: model.inputs.map((t) => t.name), outputs: model.outputs.map((t) => t.name) } };
    }
    const model = await loadLayersModel(fileSystemLoadHandler(file));
    const sig = layersSignature(model);
    return { runner: new LayersRunner(model), names: { inputs: model.inputNames, outputs: model.outputNames }, layers: sig };
  });
}

export const tfjsExecutorFactory: ExecutorFactory = {
  platforms: ['tensorflowjs'],
  defaultFilename: 'model.json',

  async deriveConfig(versionDir: string, filename: string): Promise<DerivedConfig> {
    const file = modelFile(versionDir, filename);
    const json = await readModelJson(file);
    if (modelKind(json) === 'graph') return signatureToConfig(graphSignature(json));
    // A layers model's output shapes come from building it; load it once on the default backend.
    const { runner, layers } = await loadModel(file, getDefaultBackend() ?? 'cpu');
    await withBackend(getDefaultBackend() ?? 'cpu', () => runner.dispose());
    return signatureToConfig(layers!);
  },

  async load(ctx: ExecutorContext): Promise<Executor> {
    const { runner, names } = await loadModel(modelFile(ctx.versionDir, ctx.config.default_model_filename), ctx.backend);
    try {
      checkNames(ctx.config, names, ctx.modelName);
    } catch (e) {
      await withBackend(ctx.backend, () => runner.dispose());
      throw e;
    }
    return new TfjsExecutor(runner, ctx);
  },
};
