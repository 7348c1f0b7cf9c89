// Small helpers every route module shares: JSON/empty replies and reading an optional JSON body.
import type Koa from 'koa';
import type { Router, RouterContext, RouterMiddleware } from '@koa/router';
import { bodyLimitFor, readBody } from '../body.js';
import type { HttpDeps } from '../deps.js';
import { jsonTooLarge } from '../infer-codec.js';
import { parseRequestJson } from '../json.js';

export type RouteModule = (router: Router, deps: HttpDeps) => void;
export type Handler = (ctx: RouterContext) => unknown;

/** Registers exactly one method (Router#get would also answer HEAD, which Triton does not). */
export function route(router: Router, method: 'GET' | 'POST', paths: string[], handler: Handler): void {
  for (const path of paths) router.register(path, [method], handler as RouterMiddleware);
}

export function replyJson(ctx: Koa.Context, value: unknown, status = 200): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(value);
}

/** Health/ready answers carry no body at all. */
export function replyEmpty(ctx: Koa.Context, status: number): void {
  ctx.status = status;
  ctx.body = '';
}

/** The request body as JSON; undefined when the body is empty (clients may send none). */
export async function readJsonBody(ctx: Koa.Context, deps: HttpDeps): Promise<unknown> {
  const body = await readBody(ctx.req, bodyLimitFor(deps.maxInputSize));
  if (body.length === 0) return undefined;
  if (body.length > deps.maxInputSize) throw jsonTooLarge(body.length, deps.maxInputSize);
  return parseRequestJson(body.toString('utf8'));
}

/** `/a` and `/a/versions/:version`, the two spellings of every model route. */
export function modelPaths(suffix: string): string[] {
  return [`/v2/models/:model${suffix}`, `/v2/models/:model/versions/:version${suffix}`];
}
