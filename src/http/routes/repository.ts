// Model repository extension (protocol §1.8): index, load (config override and uploaded files),
// unload. Model-control-mode rules are the runtime's.
import type { LoadParameters } from '../../runtime/api.js';
import { invalidArg, unsupported } from '../../runtime/errors.js';
import { LoadRequest, RepositoryIndexRequest, UnloadRequest } from '../codecs.js';
import { decodeOrThrow } from '../decode-error.js';
import { readJsonBody, route, replyEmpty, replyJson, type RouteModule } from './reply.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function loadParameters(body: LoadRequest, model: string): LoadParameters {
  const params: LoadParameters = {};
  for (const [key, value] of Object.entries(body.parameters ?? {})) {
    if (key === 'config') params.config = value;
    else if (key.startsWith('file:')) {
      if (!BASE64.test(value)) throw invalidArg(`failed to load '${model}', failed to decode base64 content of '${key}'`);
      (params.files ??= {})[key.slice('file:'.length)] = new Uint8Array(Buffer.from(value, 'base64'));
    }
  }
  if (params.files && params.config === undefined) {
    throw invalidArg(`failed to load '${model}', failed to load model: model configuration must be provided when overriding model files`);
  }
  return params;
}

export const repositoryRoutes: RouteModule = (router, deps) => {
  const { runtime } = deps;
  route(router, 'POST', ['/v2/repository/index'], async (ctx) => {
    const body = decodeOrThrow(RepositoryIndexRequest, (await readJsonBody(ctx, deps)) ?? {}, {
      code: 'INVALID_ARG',
      message: (site) => `Invalid value for '${site.field || 'ready'}': expected a boolean`,
    });
    replyJson(ctx, await runtime.repositoryIndex(body.ready === true));
  });
  route(router, 'POST', ['/v2/repository/models/:model/load'], async (ctx) => {
    const model = ctx.params.model as string;
    const body = decodeOrThrow(LoadRequest, (await readJsonBody(ctx, deps)) ?? {}, { code: 'INVALID_ARG' });
    await runtime.loadModel(model, loadParameters(body, model));
    replyEmpty(ctx, 200);
  });
  route(router, 'POST', ['/v2/repository/models/:model/unload'], async (ctx) => {
    const body = decodeOrThrow(UnloadRequest, (await readJsonBody(ctx, deps)) ?? {}, { code: 'INVALID_ARG' });
    await runtime.unloadModel(ctx.params.model as string, { unloadDependents: body.parameters?.unload_dependents === true });
    replyEmpty(ctx, 200);
  });
  // Named repositories are not supported (Triton: `repository/<name>/...`).
  route(router, 'POST', ['/v2/repository/:repo/index', '/v2/repository/:repo/models/:model/load', '/v2/repository/:repo/models/:model/unload'], () => {
    throw unsupported("'repository_name' specification is not supported");
  });
};
