// The executor factories this folder provides; the model repository picks one by the config's
// `platform` or `backend` (ONNX lives in src/runtime/onnx).
import type { ExecutorFactory } from '../executor.js';
import { jsExecutorFactory } from './js.js';
import { tfjsExecutorFactory } from './tfjs.js';

export { jsExecutorFactory, createJsExecutor, definitionToConfig, validateDefinition, importDefinition } from './js.js';
export type { JsModelDefinition, JsTensorSpec, JsInferContext, JsInitContext, JsOutput, JsTensorLike, JsArray } from './js.js';
export { tfjsExecutorFactory, DEFAULT_MAX_BATCH_SIZE } from './tfjs.js';

export const executorFactories: readonly ExecutorFactory[] = [jsExecutorFactory, tfjsExecutorFactory];
