// Triton's `--http-restricted-api`: an endpoint group answers 403 unless the request carries the
// configured header with the configured value. Checked before the method, as Triton does.
import type Koa from 'koa';
import type { RestrictedApi, RestrictedGroup } from './deps.js';
import { HttpError } from './http-error.js';

const MODEL = '/v2/models/[^/]+(?:/versions/[^/]+)?';
const GROUP_OF_PATH: [RegExp, RestrictedGroup][] = [
  [/^\/v2\/health\/(?:live|ready)$/, 'health'],
  [new RegExp(`^${MODEL}/ready$`), 'health'],
  [/^\/v2\/models\/stats$/, 'statistics'],
  [new RegExp(`^${MODEL}/stats$`), 'statistics'],
  [new RegExp(`^${MODEL}/(?:infer|generate|generate_stream)$`), 'inference'],
  [new RegExp(`^${MODEL}/config$`), 'model-config'],
  [new RegExp(`^(?:${MODEL})?/trace/setting$`), 'trace'],
  [/^\/v2\/trace\/setting$/, 'trace'],
  [/^\/v2\/logging$/, 'logging'],
  [/^\/v2\/repository\//, 'model-repository'],
  [/^\/v2\/(?:system|cuda)sharedmemory\//, 'shared-memory'],
  [new RegExp(`^(?:${MODEL}|/v2)$`), 'metadata'],
];

export function groupOfPath(path: string): RestrictedGroup | undefined {
  for (const [re, group] of GROUP_OF_PATH) if (re.test(path)) return group;
  return undefined;
}

export function restrictedApis(apis: RestrictedApi[] | undefined): Koa.Middleware {
  const rules = new Map<string, { header: string; value: string }>();
  for (const api of apis ?? []) {
    for (const g of api.groups) rules.set(g, { header: api.header, value: api.value });
  }
  if (rules.size === 0) return (_ctx, next) => next();
  return (ctx, next) => {
    const group = groupOfPath(ctx.path);
    const rule = group && rules.get(group);
    if (rule && ctx.get(rule.header) !== rule.value) {
      throw new HttpError(403, `This API is restricted, expecting header '${rule.header}'`);
    }
    return next();
  };
}
