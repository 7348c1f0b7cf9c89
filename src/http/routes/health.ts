// Server liveness/readiness and server metadata (protocol §1.1): empty 200/400 bodies for health.
import { route, replyEmpty, replyJson, type RouteModule } from './reply.js';

export const healthRoutes: RouteModule = (router, { runtime }) => {
  route(router, 'GET', ['/v2/health/live'], (ctx) => replyEmpty(ctx, runtime.isLive() ? 200 : 400));
  route(router, 'GET', ['/v2/health/ready'], (ctx) => replyEmpty(ctx, runtime.isReady() ? 200 : 400));
  route(router, 'GET', ['/v2'], (ctx) => replyJson(ctx, runtime.serverMetadata()));
};
