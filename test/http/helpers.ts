// Test helpers: an app on 127.0.0.1:0 over the fake runtime, and a raw HTTP client that shows
// bytes as sent (fetch would add Accept-Encoding and inflate responses behind our back).
import * as http from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createHttpApp, startHttpServer, type HttpServerHandle } from '../../src/http/app.js';
import type { RestrictedApi } from '../../src/http/deps.js';
import { FakeRuntime } from './fake-runtime.js';

export interface TestServer {
  runtime: FakeRuntime;
  handle: HttpServerHandle;
  port: number;
  close(): Promise<void>;
}

export async function startTestServer(opts: { maxInputSize?: number; restrictedApis?: RestrictedApi[]; runtime?: FakeRuntime } = {}): Promise<TestServer> {
  const runtime = opts.runtime ?? new FakeRuntime();
  const app = createHttpApp({
    // The logging route may raise the level; keep test output clean either way.
    runtime, log: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })), maxInputSize: opts.maxInputSize ?? 64 * 1024 * 1024, restrictedApis: opts.restrictedApis,
  });
  const handle = await startHttpServer(app, { address: '127.0.0.1', port: 0 });
  return { runtime, handle, port: handle.port, close: () => handle.close() };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Sent as separate chunks with Transfer-Encoding: chunked. */
  chunks?: Buffer[];
}

export function request(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = Buffer.byteLength(req.body);
    const r = http.request({ host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    if (req.chunks) {
      for (const c of req.chunks) r.write(c);
      r.end();
    } else r.end(req.body);
  });
}

export const postJson = (port: number, path: string, value: unknown, headers: Record<string, string> = {}) =>
  request(port, { method: 'POST', path, body: JSON.stringify(value), headers: { 'Content-Type': 'application/json', ...headers } });

/** The body and header of a binary-extension request: JSON header followed by raw tensors. */
export function binaryBody(header: unknown, tensors: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

export const int32Bytes = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
export const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
