// The metrics port: `GET /metrics` in Prometheus text format from the registry the runtime fills.
import Koa from 'koa';
import type { Registry } from 'prom-client';
import { errorJson } from './http-error.js';

export function createMetricsApp(registry: Registry): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx) => {
    if (ctx.path !== '/metrics') {
      ctx.status = 404;
      ctx.type = 'application/json';
      ctx.body = errorJson('Not Found');
      return;
    }
    if (ctx.method !== 'GET') {
      ctx.status = 405;
      ctx.type = 'application/json';
      ctx.body = errorJson('Method Not Allowed');
      return;
    }
    const text = await registry.metrics();
    ctx.status = 200;
    ctx.set('Content-Type', registry.contentType);
    ctx.body = text;
  });
  return app;
}
