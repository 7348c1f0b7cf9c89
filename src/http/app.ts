// The Koa app speaking the KServe v2 / Triton HTTP protocol. This file only composes one-job
// middleware and the route modules (one per protocol area).
import Koa from 'koa';
import { Router } from '@koa/router';
import type { HttpDeps } from './deps.js';
import { errorBody, rejectHead, routeFallback, versionGuard } from './middleware.js';
import { InFlightLimiter, inFlightLimit } from './limits.js';
import { registerFastListener } from './listener.js';
import { restrictedApis } from './restricted.js';
import { healthRoutes } from './routes/health.js';
import { inferFastPath, inferListener, inferRoutes } from './routes/infer.js';
import { loggingRoutes } from './routes/logging.js';
import { modelRoutes } from './routes/models.js';
import { repositoryRoutes } from './routes/repository.js';
import { shmRoutes } from './routes/shm.js';
import { statsRoutes } from './routes/stats.js';
import { statusRoutes } from './routes/status.js';

export type { HttpDeps, RestrictedApi } from './deps.js';
export { startHttpServer, type HttpServerHandle } from './server.js';

export function createHttpApp(deps: HttpDeps): Koa {
  const app = new Koa();
  // Errors are answered by errorBody; Koa's default stderr logging would double-report them.
  app.silent = true;
  // Triton matches full paths case-sensitively; a trailing slash is a different (unknown) path.
  const router = new Router({ strict: true, sensitive: true });
  // Order matters where paths overlap: `/v2/models/stats` before model `stats`.
  for (const routes of [statsRoutes, healthRoutes, modelRoutes, inferRoutes, repositoryRoutes, loggingRoutes, shmRoutes, statusRoutes]) {
    routes(router, deps);
  }
  app.use(errorBody(deps.log));
  // Only inference responses are compressed (routes/infer.ts), as Triton does: the Triton aio client
  // always sends Accept-Encoding but decodes compressed bodies on infer only.
  app.use(restrictedApis(deps.restrictedApis));
  const inFlight = new InFlightLimiter(deps.limits?.maxInFlight);
  app.use(inFlightLimit(inFlight));
  app.use(inferFastPath(deps));
  app.use(versionGuard());
  app.use(rejectHead((path) => router.match(path, 'GET').path.length > 0));
  app.use(router.routes());
  app.use(routeFallback());
  // startHttpServer answers POST infer before Koa, with the same handler and the same limits.
  const fast = inferListener(deps, inFlight);
  if (fast) registerFastListener(app, fast);
  return app;
}
