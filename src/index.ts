// Library entry point: `import { Server } from 'dawnserve'`.
export { Server, startDawnserve, type ServerOptions, type RunningServer, type StartOptions } from './server.js';
export type { JsModelDefinition, JsTensorSpec, JsOutput } from './runtime/executors/index.js';
export type { HostTensor, DataType, TensorData } from './runtime/types.js';
export type { ModelConfig } from './runtime/model-config.js';
export { InferenceServerError } from './runtime/errors.js';
