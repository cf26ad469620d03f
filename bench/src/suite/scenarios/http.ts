/**
 * HTTP endpoints under load (informational): autocannon against a running gateway (embedded feed
 * at 1 000 ticks/s, 14 topics) for `GET /v1/topics`, `GET /metrics` and, as a floor, `GET /healthz`.
 * Reports requests/s, latency percentiles and the gateway's CPU during each run.
 */
import { createRequire } from 'node:module';
import { CpuSampler } from '../../cpu.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../types.js';
import { machineLoad } from '../machine.js';
import { startGateway } from '../proc.js';
import { round, sleep } from '../stats.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: Record<string, number>;
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  duration: number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  timeout?: number;
}) => Promise<AutocannonResult>;
// autocannon ships no type declarations; its callable export is typed here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface HttpRow {
  path: string;
  connections: number;
  durationSec: number;
  requestsPerSec: number;
  requests: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  bytesPerSec: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  gatewayCpuPercent: number;
  loadavg1: number;
}

async function runHttp(ctx: ScenarioContext, o: { durationSec?: number }): Promise<ScenarioResult> {
  const durationSec = o.durationSec ?? ctx.opts.durationSec ?? (ctx.opts.quick ? 1 : 10);
  const connections = 10;
  const gw = await startGateway(['--feed-rate', '1000'], { maxLifeMs: 120_000 + durationSec * 4000 });
  const rows: HttpRow[] = [];
  try {
    // Let every topic get its first tick, so /v1/topics lists all 14.
    await sleep(ctx.opts.quick ? 300 : 1000);
    for (const path of ['/healthz', '/v1/topics', '/metrics']) {
      ctx.progress(`http: autocannon GET ${path}, ${connections} connections, ${durationSec} s`);
      const load = machineLoad();
      const cpu = new CpuSampler(gw.pid);
      cpu.start();
      const r = await autocannon({ url: `http://127.0.0.1:${gw.port}${path}`, connections, duration: durationSec, timeout: 10 });
      const c = cpu.stop();
      const L = r.latency;
      const row: HttpRow = {
        path,
        connections,
        durationSec,
        requestsPerSec: round(r.requests.average, 0),
        requests: r.requests.total,
        latencyMs: {
          p50: L.p50 ?? NaN,
          p90: L.p90 ?? NaN,
          p99: L.p99 ?? NaN,
          p999: L.p99_9 ?? NaN,
          max: L.max ?? NaN,
          mean: round(L.average ?? NaN, 3),
        },
        bytesPerSec: round(r.throughput.average, 0),
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx,
        gatewayCpuPercent: round(c.percent, 1),
        loadavg1: load.loadavg1,
      };
      rows.push(row);
      ctx.log(
        `http: GET ${path}: ${row.requestsPerSec} req/s, latency p50 ${row.latencyMs.p50} p99 ${row.latencyMs.p99} ` +
          `max ${row.latencyMs.max} ms, gateway cpu ${row.gatewayCpuPercent}%, errors ${row.errors}, non-2xx ${row.non2xx}`,
      );
    }
  } finally {
    await gw.stop();
  }
  return {
    goals: [],
    data: { rows, machine: machineLoad() },
    charts: [
      {
        name: 'http-endpoints',
        title: `HTTP endpoints: requests/s (autocannon, ${connections} connections, ${durationSec} s each)`,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
          data: { values: rows.map((r) => ({ path: r.path, requestsPerSec: r.requestsPerSec, p99ms: r.latencyMs.p99 })) },
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x: { field: 'path', type: 'nominal', title: null },
            y: { field: 'requestsPerSec', type: 'quantitative', title: 'requests/s' },
          },
        },
      },
    ],
    notes: [
      `**HTTP endpoints** (autocannon in the suite process, ${connections} connections, ${durationSec} s each, gateway with the ` +
        `embedded feed at 1 000 ticks/s): ` +
        rows.map((r) => `GET ${r.path} ${r.requestsPerSec} req/s, p50/p99 ${r.latencyMs.p50}/${r.latencyMs.p99} ms`).join('; ') +
        '. autocannon and the gateway share the 2-core machine, so these are lower bounds; /metrics renders the whole Prometheus ' +
        'registry per request (prom-client, asynchronous).',
    ],
  };
}

/** The HTTP scenario; `o.durationSec` overrides the autocannon run per path (e.g. for the smoke test). */
export function httpScenario(o: { durationSec?: number } = {}): Scenario {
  return {
    id: 'http',
    group: 'http',
    title: 'HTTP endpoints under autocannon: /v1/topics, /metrics',
    quick: true,
    run: (ctx) => runHttp(ctx, o),
  };
}

export const scenarios: Scenario[] = [httpScenario()];
