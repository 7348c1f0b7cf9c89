// Model metadata, readiness and configuration (protocol §1.3).
import { modelPaths, route, replyEmpty, replyJson, type RouteModule } from './reply.js';

export const modelRoutes: RouteModule = (router, { runtime }) => {
  route(router, 'GET', modelPaths(''), (ctx) => {
    replyJson(ctx, runtime.modelMetadata(ctx.params.model as string, ctx.params.version));
  });
  route(router, 'GET', modelPaths('/ready'), (ctx) => {
    replyEmpty(ctx, runtime.modelReady(ctx.params.model as string, ctx.params.version) ? 200 : 400);
  });
  route(router, 'GET', modelPaths('/config'), (ctx) => {
    replyJson(ctx, runtime.modelConfig(ctx.params.model as string, ctx.params.version));
  });
};
