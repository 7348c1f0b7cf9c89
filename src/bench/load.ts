// One load run with autocannon. autocannon's own latency histogram has 1 ms resolution (integer
// HDR buckets), useless for sub-millisecond loopback latencies, so latencies are taken from its
// per-response event (hrtime, fractional ms) and summarised here.
import type Autocannon from 'autocannon';
import { percentile, round } from './common.js';
import type { RequestPayload } from './payloads.js';

type AutocannonFn = typeof Autocannon;

export interface LoadMeasurement {
  /** 2xx responses counted during the run. */
  requests: number;
  reqPerSec: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
  /** Connection errors + timeouts + non-2xx responses. */
  errors: number;
  non2xx: number;
  timeouts: number;
  durationS: number;
  /** Responses per HTTP status ("200", "503", …). */
  statuses: Record<string, number>;
  /** Requests autocannon sent (answered or not). */
  sent: number;
}

let cached: AutocannonFn | undefined;

async function loadAutocannon(): Promise<AutocannonFn> {
  if (cached) return cached;
  try {
    cached = (await import('autocannon')).default;
    return cached;
  } catch (e) {
    throw new Error(`autocannon is not installed (it is a devDependency: npm install --include=dev): ${(e as Error).message}`);
  }
}

export interface LoadOptions {
  url: string;
  payload: RequestPayload;
  connections: number;
  durationS: number;
  /** Per-request timeout, seconds. */
  timeoutS: number;
  /**
   * Run until this many requests completed instead of for `durationS` (slow requests: a fixed
   * duration would end with most of them in flight and uncounted).
   */
  amount?: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadMeasurement> {
  const autocannon = await loadAutocannon();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const result = await new Promise<Autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: o.url, method: 'POST', body: o.payload.body, headers: o.payload.headers,
      connections: o.connections, timeout: o.timeoutS,
      ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS }),
    }, (err: unknown, res: Autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
  const sorted = Float64Array.from(latencies).sort();
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN;
  const durationS = result.duration;
  return {
    requests: sorted.length,
    reqPerSec: round(sorted.length / durationS, sorted.length / durationS < 10 ? 3 : 1),
    p50_ms: round(percentile(sorted, 0.5), 3),
    p90_ms: round(percentile(sorted, 0.9), 3),
    p99_ms: round(percentile(sorted, 0.99), 3),
    mean_ms: round(mean, 3),
    errors: result.errors + result.non2xx,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    durationS: round(durationS, 2),
    statuses,
    sent: result.requests.sent,
  };
}
