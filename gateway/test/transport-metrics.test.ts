import { describe, expect, it } from 'vitest';
import { Hub } from '../src/hub/hub.js';
import { Metrics } from '../src/metrics.js';
import { newTransportStats } from '../src/transport/stats.js';
import { CODECS } from '../src/codecs.js';
import { metricValue } from './support/gateway.js';

describe('Metrics: each transport owns its counters; /metrics reports their sum', () => {
  it('sums every added transport at scrape time, under the same names as before', async () => {
    const hist = { historyMinWindowMs: 1_000, historyBudgetBytes: 1 << 20, historyMaxAgeMs: 1_000 };
    const hub = new Hub({ epoch: 'E1', codecs: CODECS, maxTicksPerFrame: 100, ...hist });
    const counts = { connections: () => 3, sseConnections: () => 1, subscriptions: () => 0, topics: () => 0 };
    const src = { hub: hub.stats, ...counts, ready: () => true, uwsNative: true };
    const metrics = new Metrics(src);
    const ws = { stats: newTransportStats() };
    const sse = { stats: newTransportStats() };
    metrics.addTransport(ws);
    metrics.addTransport(sse);
    ws.stats.framesOut = 5;
    sse.stats.framesOut = 2;
    ws.stats.slowConsumers = 1;
    sse.stats.slowConsumers = 2;
    sse.stats.conflatedFrames = 7;
    const first = await metrics.registry.metrics();
    expect(metricValue(first, 'tickwire_frames_out_total')).toBe(7);
    expect(metricValue(first, 'tickwire_slow_consumers')).toBe(3);
    expect(metricValue(first, 'tickwire_conflated_frames_total')).toBe(7);
    // Gauges follow the transports down; counters keep counting from where they were.
    sse.stats.slowConsumers = 0;
    ws.stats.framesOut = 6;
    const second = await metrics.registry.metrics();
    expect(metricValue(second, 'tickwire_slow_consumers')).toBe(1);
    expect(metricValue(second, 'tickwire_frames_out_total')).toBe(8);
    expect(metrics.transport.framesOut).toBe(8);
  });
});
