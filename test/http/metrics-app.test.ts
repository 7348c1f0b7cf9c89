import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { createMetricsApp } from '../../src/http/metrics-app.js';
import { startHttpServer } from '../../src/http/server.js';
import { request } from './helpers.js';

test('GET /metrics serves the registry as Prometheus text', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 'nv_inference_request_success', help: 'Number of successful inference requests, all batch sizes', labelNames: ['model', 'version'], registers: [registry] });
  c.inc({ model: 'simple', version: '1' }, 10);
  const h = await startHttpServer(createMetricsApp(registry), { address: '127.0.0.1', port: 0 });
  try {
    const r = await request(h.port, { path: '/metrics' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], registry.contentType);
    assert.ok(r.text.includes('# TYPE nv_inference_request_success counter'));
    assert.ok(r.text.includes('nv_inference_request_success{model="simple",version="1"} 10'));
    assert.equal((await request(h.port, { path: '/metrics/' })).status, 404);
    assert.equal((await request(h.port, { method: 'POST', path: '/metrics' })).status, 405);
  } finally {
    await h.close();
  }
});
