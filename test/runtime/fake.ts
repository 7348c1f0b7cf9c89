// Test doubles for the runtime core: a fake executor factory (platform "fake", file model.fake
// holding a JSON spec) and a temp-repository builder. The real executors live elsewhere.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { DerivedConfig, ExecuteRequest, Executor, ExecutorContext, ExecutorFactory } from '../../src/runtime/executor.js';
import type { HostTensor } from '../../src/runtime/types.js';
import { TritonRuntime } from '../../src/runtime/runtime.js';

export const silentLog = pino({ level: 'silent' });

export interface FakeSpec {
  /** add_sub: OUTPUT0 = INPUT0 + INPUT1 + bias, OUTPUT1 = INPUT0 - INPUT1; identity: OUTPUT0 = INPUT0. */
  op?: 'add_sub' | 'identity' | 'wrong_dtype' | 'missing_output' | 'throw';
  bias?: number;
  failLoad?: string;
  derive?: DerivedConfig;
}

export interface Execution { model: string; version: number; batch: number; inputs: Map<string, HostTensor>; outputs: string[] }

type Numeric = Int32Array | Float32Array;

export class FakeFactory implements ExecutorFactory {
  readonly platforms: readonly string[] = ['fake'];
  readonly defaultFilename: string = 'model.fake';
  readonly executions: Execution[] = [];
  readonly loads: ExecutorContext[] = [];
  readonly unloads: string[] = [];
  private gate: Promise<void> | undefined;
  private releaseGate: (() => void) | undefined;
  /** Resolves each time an execution starts (tests await it instead of sleeping). */
  private startWaiters: (() => void)[] = [];

  constructor(opts: { platforms?: string[]; defaultFilename?: string } = {}) {
    if (opts.platforms) this.platforms = opts.platforms;
    if (opts.defaultFilename) this.defaultFilename = opts.defaultFilename;
  }

  /** Holds every execution until the returned function is called. */
  block(): () => void {
    this.gate = new Promise((r) => { this.releaseGate = r; });
    return () => { this.gate = undefined; this.releaseGate?.(); };
  }

  nextExecutionStart(): Promise<void> {
    return new Promise((r) => this.startWaiters.push(r));
  }

  /** Resolves once `n` executions have started in total. */
  async untilExecutions(n: number): Promise<void> {
    while (this.executions.length < n) await this.nextExecutionStart();
  }

  private async spec(dir: string, file: string): Promise<FakeSpec> {
    return JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as FakeSpec;
  }

  async deriveConfig(versionDir: string, filename: string): Promise<DerivedConfig> {
    return (await this.spec(versionDir, filename)).derive ?? {};
  }

  async load(ctx: ExecutorContext): Promise<Executor> {
    const spec = ctx.versionDir ? await this.spec(ctx.versionDir, ctx.config.default_model_filename || this.defaultFilename) : {};
    if (spec.failLoad) throw new Error(spec.failLoad);
    this.loads.push(ctx);
    return this.executor(ctx.modelName, ctx.version, spec);
  }

  executor(model: string, version: number, spec: FakeSpec): Executor {
    return {
      execute: async (req: ExecuteRequest) => {
        const first = req.inputs.values().next().value as HostTensor | undefined;
        this.executions.push({ model, version, batch: first?.shape[0] ?? 0, inputs: req.inputs, outputs: req.outputs });
        for (const w of this.startWaiters.splice(0)) w();
        if (this.gate) await this.gate;
        return run(spec, req);
      },
      unload: async () => { this.unloads.push(`${model}:${version}`); },
    };
  }
}

function run(spec: FakeSpec, req: ExecuteRequest): HostTensor[] {
  const a = req.inputs.get('INPUT0')!;
  switch (spec.op ?? 'add_sub') {
    case 'throw': throw new Error('kaboom');
    case 'identity': return [{ ...a, name: 'OUTPUT0' }];
    case 'wrong_dtype': return [{ name: 'OUTPUT0', datatype: 'FP32', shape: a.shape, data: new Float32Array(a.data.length) }];
    case 'missing_output': return [];
    case 'add_sub': {
      const b = req.inputs.get('INPUT1')!;
      const x = a.data as Numeric;
      const y = b.data as Numeric;
      const make = () => (x instanceof Int32Array ? new Int32Array(x.length) : new Float32Array(x.length));
      const sum = make();
      const diff = make();
      for (let i = 0; i < x.length; i++) { sum[i] = x[i]! + y[i]! + (spec.bias ?? 0); diff[i] = x[i]! - y[i]!; }
      const all = [
        { name: 'OUTPUT0', datatype: a.datatype, shape: a.shape, data: sum },
        { name: 'OUTPUT1', datatype: a.datatype, shape: a.shape, data: diff },
      ];
      return all.filter((t) => req.outputs.includes(t.name));
    }
  }
}

export interface FakeModelDef {
  config?: string;
  /** version → spec (written as model.fake) or raw file map. */
  versions?: Record<number, FakeSpec | { files: Record<string, string> }>;
  files?: Record<string, string>;
}

export async function makeRepo(models: Record<string, FakeModelDef>): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'dawnserve-repo-'));
  for (const [name, def] of Object.entries(models)) await writeModel(root, name, def);
  return root;
}

export async function writeModel(root: string, name: string, def: FakeModelDef): Promise<void> {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  if (def.config !== undefined) await fs.writeFile(path.join(dir, 'config.pbtxt'), def.config);
  for (const [f, text] of Object.entries(def.files ?? {})) await fs.writeFile(path.join(dir, f), text);
  for (const [v, spec] of Object.entries(def.versions ?? {})) {
    const vdir = path.join(dir, v);
    await fs.mkdir(vdir, { recursive: true });
    if ('files' in spec) {
      for (const [f, text] of Object.entries(spec.files)) await fs.writeFile(path.join(vdir, f), text);
    } else {
      await fs.writeFile(path.join(vdir, 'model.fake'), JSON.stringify(spec));
    }
  }
}

export const removeRepo = (root: string): Promise<void> => fs.rm(root, { recursive: true, force: true });

export const SIMPLE_CONFIG = `
name: "simple"
platform: "fake"
max_batch_size: 8
input [
  { name: "INPUT0", data_type: TYPE_INT32, dims: [ 16 ] },
  { name: "INPUT1", data_type: TYPE_INT32, dims: [ 16 ] }
]
output [
  { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 16 ] },
  { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 16 ] }
]
`;

export function int32(name: string, shape: number[], values: number[] | ((i: number) => number)): HostTensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = typeof values === 'function' ? values(i) : values[i]!;
  return { name, datatype: 'INT32', shape, data };
}

/**
 * A runtime (control mode none, fake executors, cpu) over a temporary repository holding one
 * version of each `name → config.pbtxt text` model; removed afterwards.
 */
export async function withFakeRuntime(models: Record<string, string>, fn: (rt: TritonRuntime, f: FakeFactory) => Promise<void>): Promise<void> {
  const defs = Object.fromEntries(Object.entries(models).map(([n, c]) => [n, { config: c, versions: { 1: {} } }]));
  const root = await makeRepo(defs);
  const f = new FakeFactory();
  const rt = new TritonRuntime({ repositoryPath: root, controlMode: 'none', factories: [f], backend: 'cpu', log: silentLog });
  try {
    await rt.start();
    await fn(rt, f);
  } finally {
    await rt.close();
    await removeRepo(root);
  }
}
