// Logging and trace settings (protocol §1.10), kept per app instance. Log settings also steer the
// server's pino logger so `log_verbose_level`/`log_info` have an effect.
import type { Logger } from 'pino';
import { invalidArg } from '../../runtime/errors.js';
import { LogSettingsRequest, TraceSettingsRequest } from '../codecs.js';
import { accessorText, decodeOrThrow, type DecodeOptions } from '../decode-error.js';
import { readJsonBody, route, replyJson, type RouteModule } from './reply.js';

interface LogSettings {
  log_file: string; log_info: boolean; log_warning: boolean; log_error: boolean;
  log_verbose_level: number; log_format: string;
}

interface TraceSettings {
  trace_file: string; trace_level: string[]; trace_rate: string; trace_count: string;
  log_frequency: string; trace_mode: string;
}
type TraceKey = keyof TraceSettings;

const TRACE_LEVELS = new Set(['OFF', 'TIMESTAMPS', 'TENSORS']);

function applyLogLevel(log: Logger, s: LogSettings): void {
  const level = s.log_verbose_level > 0 ? 'debug' : s.log_info ? 'info' : s.log_warning ? 'warn' : s.log_error ? 'error' : 'silent';
  log.level = level;
}

/** TritonJson accessor errors for settings are reported without a member prefix. */
const settingsError = (): DecodeOptions => ({ code: 'INVALID_ARG', message: (site) => accessorText(site.kind) });

export const loggingRoutes: RouteModule = (router, deps) => {
  const logSettings: LogSettings = {
    log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default',
  };
  route(router, 'GET', ['/v2/logging'], (ctx) => replyJson(ctx, logSettings));
  route(router, 'POST', ['/v2/logging'], async (ctx) => {
    const body = decodeOrThrow(LogSettingsRequest, (await readJsonBody(ctx, deps)) ?? {}, settingsError());
    if (body.log_file != null) throw invalidArg('log file location can not be updated through network protocol');
    if (body.log_format != null && body.log_format !== 'default' && body.log_format !== 'ISO8601') {
      throw invalidArg(`invalid argument for --log_format, got: ${body.log_format}`);
    }
    const next = { ...logSettings };
    if (body.log_info != null) next.log_info = body.log_info;
    if (body.log_warning != null) next.log_warning = body.log_warning;
    if (body.log_error != null) next.log_error = body.log_error;
    if (body.log_verbose_level != null) next.log_verbose_level = body.log_verbose_level;
    if (body.log_format != null) next.log_format = body.log_format;
    Object.assign(logSettings, next);
    applyLogLevel(deps.log, logSettings);
    replyJson(ctx, logSettings);
  });

  const globalTrace: TraceSettings = {
    trace_file: '', trace_level: ['OFF'], trace_rate: '1000', trace_count: '-1', log_frequency: '0', trace_mode: 'triton',
  };
  // Per-model overrides: only the keys set for that model; the rest follow the global settings.
  const modelTrace = new Map<string, Partial<TraceSettings>>();
  const effective = (model?: string): TraceSettings => ({ ...globalTrace, ...(model ? modelTrace.get(model) : {}) });

  route(router, 'GET', ['/v2/trace/setting', '/v2/models/:model/trace/setting'], (ctx) => {
    if (ctx.params.model !== undefined) deps.runtime.modelMetadata(ctx.params.model);
    replyJson(ctx, effective(ctx.params.model));
  });
  route(router, 'POST', ['/v2/trace/setting', '/v2/models/:model/trace/setting'], async (ctx) => {
    const model = ctx.params.model;
    if (model !== undefined) deps.runtime.modelMetadata(model);
    const body = decodeOrThrow(TraceSettingsRequest, (await readJsonBody(ctx, deps)) ?? {}, settingsError());
    if (body.trace_file != null) throw invalidArg('trace file location can not be updated through network protocol');
    const update: Partial<TraceSettings> = {};
    const resets: TraceKey[] = [];
    for (const key of ['trace_level', 'trace_rate', 'trace_count', 'log_frequency', 'trace_mode'] as const) {
      const value = body[key];
      if (value === undefined) continue;
      if (value === null) {
        resets.push(key);
        continue;
      }
      if (key === 'trace_level') {
        const levels = value as string[];
        const bad = levels.find((l) => !TRACE_LEVELS.has(l));
        if (bad !== undefined) throw invalidArg(`Unable to parse 'trace_level', got: ${bad}`);
        update.trace_level = levels;
      } else if (key === 'trace_mode') {
        update.trace_mode = value as string;
      } else {
        const text = value as string;
        if (!/^-?\d+$/.test(text) || (key !== 'trace_count' && text.startsWith('-'))) {
          throw invalidArg(`Unable to parse '${key}', got: ${text}`);
        }
        update[key] = text;
      }
    }
    if (model === undefined) {
      // `null` on the global settings restores the defaults Triton started with.
      for (const key of resets) resetGlobal(globalTrace, key);
      Object.assign(globalTrace, update);
    } else {
      const own = { ...modelTrace.get(model), ...update };
      for (const key of resets) delete own[key];
      modelTrace.set(model, own);
    }
    replyJson(ctx, effective(model));
  });
};

function resetGlobal(s: TraceSettings, key: TraceKey): void {
  const defaults: TraceSettings = {
    trace_file: '', trace_level: ['OFF'], trace_rate: '1000', trace_count: '-1', log_frequency: '0', trace_mode: 'triton',
  };
  (s as unknown as Record<string, unknown>)[key] = defaults[key];
}
