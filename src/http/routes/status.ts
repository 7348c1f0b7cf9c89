// The status page at `GET /`: models with state and versions, backend and adapter, live request
// rate and latency, and a form to send a test inference. Server-rendered HTML with one small inline
// script that polls the Triton endpoints themselves, so no build step and no extra API.
import type Koa from 'koa';
import type { ModelStatistics, RepositoryIndexEntry } from '../../runtime/api.js';
import type { HttpDeps, ServerInfo } from '../deps.js';
import { route, type RouteModule } from './reply.js';

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Mean latency per successful request, in ms, from cumulative statistics. */
export function meanLatencyMs(stats: ModelStatistics): number | undefined {
  const s = stats.inference_stats.success;
  return s.count > 0 ? s.ns / s.count / 1e6 : undefined;
}

function modelRows(index: RepositoryIndexEntry[], stats: ModelStatistics[]): string {
  if (index.length === 0) return '<tr><td colspan="6">no models in the repository</td></tr>';
  return index.map((e) => {
    const st = stats.find((s) => s.name === e.name && s.version === e.version);
    const latency = st ? meanLatencyMs(st) : undefined;
    return `<tr data-model="${escapeHtml(e.name)}" data-version="${escapeHtml(e.version ?? '')}">`
      + `<td>${escapeHtml(e.name)}</td><td>${escapeHtml(e.version ?? '')}</td>`
      + `<td class="state state-${escapeHtml(e.state)}">${escapeHtml(e.state)}</td>`
      + `<td class="count">${st ? st.inference_stats.success.count : 0}</td>`
      + `<td class="latency">${latency === undefined ? '–' : latency.toFixed(3)}</td>`
      + `<td class="reason">${escapeHtml(e.reason ?? '')}</td></tr>`;
  }).join('\n');
}

function backendBlock(info: ServerInfo | undefined): string {
  if (!info) return '<p>backend: unknown</p>';
  const a = info.adapter;
  const adapter = a
    ? `${escapeHtml(a.vendor)} ${escapeHtml(a.architecture)} ${escapeHtml(a.device)} <small>${escapeHtml(a.description)}</small>`
    : '–';
  const kernels = info.wgslKernels && info.wgslKernels.length > 0 ? escapeHtml(info.wgslKernels.join(', ')) : '–';
  return `<dl><dt>backend</dt><dd id="backend">${escapeHtml(info.backend)}</dd>`
    + `<dt>adapter</dt><dd id="adapter">${adapter}</dd>`
    + `<dt>WGSL kernels</dt><dd>${kernels}</dd>`
    + `<dt>up since</dt><dd>${new Date(info.startedAt).toISOString()}</dd></dl>`;
}

// Runs in the browser: refreshes counts/latency/rate every 2 s and drives the test-inference form.
const CLIENT_SCRIPT = `
const last = new Map();
async function refresh() {
  const [idx, st] = await Promise.all([
    fetch('/v2/repository/index', { method: 'POST' }).then((r) => r.json()),
    fetch('/v2/models/stats').then((r) => r.json()),
  ]);
  const now = performance.now();
  let total = 0;
  for (const row of document.querySelectorAll('#models tbody tr[data-model]')) {
    const e = idx.find((x) => x.name === row.dataset.model && (x.version || '') === row.dataset.version);
    if (e) { const c = row.querySelector('.state'); c.textContent = e.state; c.className = 'state state-' + e.state; row.querySelector('.reason').textContent = e.reason || ''; }
    const s = st.model_stats.find((x) => x.name === row.dataset.model && x.version === row.dataset.version);
    if (!s) continue;
    const ok = s.inference_stats.success;
    row.querySelector('.count').textContent = ok.count;
    row.querySelector('.latency').textContent = ok.count ? (ok.ns / ok.count / 1e6).toFixed(3) : '–';
    const key = s.name + '/' + s.version, prev = last.get(key);
    if (prev) total += (ok.count - prev.count) / ((now - prev.t) / 1000);
    last.set(key, { count: ok.count, t: now });
  }
  document.getElementById('rate').textContent = total.toFixed(1);
}
function zeros(shape, datatype) {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, () => datatype === 'BYTES' ? '0' : datatype === 'BOOL' ? false : 0);
}
async function prefill() {
  const model = document.getElementById('model').value;
  const meta = await fetch('/v2/models/' + encodeURIComponent(model)).then((r) => r.json());
  if (meta.error) { document.getElementById('request').value = ''; document.getElementById('response').textContent = meta.error; return; }
  const inputs = meta.inputs.map((i) => {
    const shape = i.shape.map((d) => (d < 0 ? 1 : d));
    return { name: i.name, shape, datatype: i.datatype, data: zeros(shape, i.datatype) };
  });
  document.getElementById('request').value = JSON.stringify({ inputs }, null, 1);
}
async function send(ev) {
  ev.preventDefault();
  const model = document.getElementById('model').value;
  const out = document.getElementById('response');
  out.textContent = '…';
  const res = await fetch('/v2/models/' + encodeURIComponent(model) + '/infer', { method: 'POST', body: document.getElementById('request').value });
  out.textContent = res.status + ' ' + JSON.stringify(await res.json());
  out.dataset.status = String(res.status);
  refresh();
}
document.getElementById('model').addEventListener('change', prefill);
document.getElementById('infer-form').addEventListener('submit', send);
prefill();
refresh();
setInterval(refresh, 2000);
`;

const STYLE = `body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}.state-READY{color:#0a0}.state-UNAVAILABLE{color:#c00}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}textarea{width:100%;height:12em;font:12px monospace}
pre{background:#f4f4f4;padding:8px;max-height:20em;overflow:auto}`;

export async function renderStatusPage(deps: HttpDeps): Promise<string> {
  const { runtime } = deps;
  const index = await runtime.repositoryIndex(false);
  const stats = runtime.statistics();
  const meta = runtime.serverMetadata();
  const ready = index.filter((e) => e.state === 'READY').map((e) => e.name);
  const options = [...new Set(ready)].map((n) => `<option>${escapeHtml(n)}</option>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dawnserve</title><style>${STYLE}</style></head>
<body><h1>dawnserve <small>${escapeHtml(meta.version)}</small></h1>
<p>server ${runtime.isReady() ? '<b id="ready">ready</b>' : '<b id="ready">not ready</b>'} · model control: ${escapeHtml(runtime.modelControlMode)} ·
requests/s (all models): <span id="rate">0.0</span></p>
${backendBlock(deps.serverInfo?.())}
<h2>Models</h2>
<table id="models"><thead><tr><th>model</th><th>version</th><th>state</th><th>successes</th><th>mean latency ms</th><th>reason</th></tr></thead>
<tbody>${modelRows(index, stats)}</tbody></table>
<h2>Test inference</h2>
<form id="infer-form"><label>model <select id="model">${options}</select></label>
<p><textarea id="request" spellcheck="false"></textarea></p><button type="submit" id="send">Send</button></form>
<pre id="response"></pre>
<script>${CLIENT_SCRIPT}</script></body></html>`;
}

export const statusRoutes: RouteModule = (router, deps) => {
  route(router, 'GET', ['/'], async (ctx: Koa.Context) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await renderStatusPage(deps);
  });
};
