// Statistics extension (protocol §1.9). Registered before the model routes: `/v2/models/stats`
// is matched first in Triton, ahead of a model called "stats".
import { modelPaths, route, replyJson, type RouteModule } from './reply.js';

export const statsRoutes: RouteModule = (router, { runtime }) => {
  route(router, 'GET', ['/v2/models/stats'], (ctx) => replyJson(ctx, { model_stats: runtime.statistics() }));
  route(router, 'GET', modelPaths('/stats'), (ctx) => {
    replyJson(ctx, { model_stats: runtime.statistics(ctx.params.model, ctx.params.version) });
  });
};
