import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { waitFor } from './wait.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import type { Source, TickSink } from '../../src/sources/source.js';

/** A source the test drives by hand: exact control over which tick arrives when. */
export class ManualSource implements Source {
  readonly name = 'manual';
  live = false;
  private sink: TickSink | undefined;
  constructor(private readonly goLive = true) {}
  async start(sink: TickSink): Promise<void> {
    this.sink = sink;
    this.live = this.goLive;
  }
  async stop(): Promise<void> {
    this.sink = undefined;
    this.live = false;
  }
  publish(topic: string, tick: Payload): void {
    if (!this.sink) throw new Error('source not started');
    this.sink.publish(topic, tick);
  }
}

/**
 * A real gateway (uWS, real sockets) on an ephemeral loopback port, in this process. One worker
 * (everything on this thread, `gateway.hub` is the serving hub) unless `overrides.workers` says
 * otherwise.
 */
export function startTestGateway(overrides: Partial<Config> = {}, source?: Source): Promise<Gateway> {
  const logLevel = (process.env.TICKWIRE_TEST_LOG_LEVEL ?? 'silent') as Config['logLevel'];
  const cfg = loadConfig({ overrides: { host: '127.0.0.1', port: 0, logLevel, workers: 1, ...overrides } });
  return startGateway(cfg, createLogger(cfg.logLevel), source);
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The value of one sample in Prometheus text (`name` may carry labels: `x_total{code="a"}`). */
export function metricValue(text: string, name: string): number {
  const escaped = name.replace(/[{}"]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} (\\d+(?:\\.\\d+)?)`, 'm').exec(text)?.[1] ?? NaN);
}

/** Polls /metrics until `name` reaches `min`; throws `what` on timeout. */
export async function waitForMetric(port: number, name: string, min: number, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => metricValue((await httpGet(port, '/metrics')).body, name) >= min, { what, timeoutMs, intervalMs: 100 });
}
