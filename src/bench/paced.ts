// An open-loop load generator for the overload benchmark: requests leave at evenly spaced times,
// whatever the server answers. autocannon's `overallRate` cannot do this: it gives each connection a
// quota per 1-second window, which the connections spend as fast as answers come back (503s come
// back in a millisecond), so the offered load arrives as one burst at the start of every second and
// the server then idles; measured that way, a 2× overload looked like a 75% goodput collapse.
import http from 'node:http';
import { percentile, round } from './common.js';
import type { LoadMeasurement } from './load.js';
import type { RequestPayload } from './payloads.js';

export interface PacedOptions {
  url: string;
  payload: RequestPayload;
  /** Requests per second, evenly spaced. */
  rate: number;
  /** Most requests in flight at once (sockets); a request due while all are busy is not sent. */
  connections: number;
  durationS: number;
  /** Per-request timeout, seconds. */
  timeoutS: number;
}

export interface PacedMeasurement extends LoadMeasurement {
  /** Requests due while `connections` requests were already in flight (the client was the limit). */
  notSent: number;
  /** Client-side failures by error code (ECONNRESET, …; `timeout`). */
  errorCodes: Record<string, number>;
  /** p99 of 2xx latencies for requests sent in the first and in the second half of the window. */
  p99FirstHalf_ms: number;
  p99SecondHalf_ms: number;
}

const p99 = (xs: number[]): number => round(percentile(Float64Array.from(xs).sort(), 0.99), 3);

/** How often the pacer wakes; requests due since the last wake leave together. */
const TICK_MS = 2;

export async function runPaced(o: PacedOptions): Promise<PacedMeasurement> {
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const headers = { ...o.payload.headers, 'content-length': String(o.payload.body.length) };
  const latencies: number[] = [];
  /** Latencies again, by the half of the window their request was sent in. */
  const halves: [number[], number[]] = [[], []];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let notSent = 0;
  let inFlight = 0;
  let errors = 0;
  let timeouts = 0;
  const errorCodes: Record<string, number> = {};
  const failed = (code: string) => { errors++; errorCodes[code] = (errorCodes[code] ?? 0) + 1; };
  let allAnswered: (() => void) | undefined;

  const done = () => {
    inFlight--;
    if (inFlight === 0) allAnswered?.();
  };
  const send = (half: 0 | 1) => {
    const t0 = process.hrtime.bigint();
    inFlight++;
    sent++;
    let finished = false;
    const finish = (fn: () => void) => { if (!finished) { finished = true; fn(); done(); } };
    const req = http.request({
      agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers,
    }, (res) => {
      res.resume();
      res.on('end', () => finish(() => {
        const status = res.statusCode ?? 0;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          latencies.push(ms);
          halves[half].push(ms);
        }
      }));
      res.on('error', (e: NodeJS.ErrnoException) => finish(() => failed(e.code ?? 'response error')));
    });
    req.setTimeout(o.timeoutS * 1000, () => { finish(() => { timeouts++; failed('timeout'); }); req.destroy(); });
    req.on('error', (e: NodeJS.ErrnoException) => finish(() => failed(e.code ?? 'request error')));
    req.end(o.payload.body);
  };

  const start = performance.now();
  const endMs = o.durationS * 1000;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - start, endMs);
      const due = Math.floor((elapsed / 1000) * o.rate) - sent - notSent;
      for (let i = 0; i < due; i++) {
        if (inFlight >= o.connections) notSent++;
        else send(elapsed < endMs / 2 ? 0 : 1);
      }
      if (elapsed >= endMs) { clearInterval(timer); resolve(); }
    }, TICK_MS);
  });
  // Requests sent inside the window count, so wait for their answers (each has its own timeout).
  if (inFlight > 0) await new Promise<void>((resolve) => { allAnswered = resolve; });
  agent.destroy();

  const sorted = Float64Array.from(latencies).sort();
  const non2xx = Object.entries(statuses).filter(([s]) => !s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
  return {
    requests: sorted.length,
    reqPerSec: round(sorted.length / o.durationS, 1),
    p50_ms: round(percentile(sorted, 0.5), 3),
    p90_ms: round(percentile(sorted, 0.9), 3),
    p99_ms: round(percentile(sorted, 0.99), 3),
    mean_ms: round(sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN, 3),
    errors: errors + non2xx,
    non2xx,
    timeouts,
    durationS: o.durationS,
    statuses,
    sent,
    notSent,
    errorCodes,
    p99FirstHalf_ms: p99(halves[0]),
    p99SecondHalf_ms: p99(halves[1]),
  };
}
