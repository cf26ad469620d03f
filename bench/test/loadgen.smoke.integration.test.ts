import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/src/gateway.js';
import { startTestGateway } from '../../gateway/test/support/gateway.js';
import { runLoad } from '../src/loadgen/index.js';

// The load generator's workers run the compiled dist/bench/src/loadgen/worker.js: `npm test`
// builds first; when running vitest alone, run `npm run build` before.

const TOPICS = ['trade.BTC-USD', 'quote.BTC-USD', 'trade.ETH-USD', 'quote.ETH-USD', 'quote.EUR-USD'];

describe('load generator against a real gateway', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 2000, flushIntervalMs: 2 });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('connects every client, counts delivered ticks, sees no gap and measures latency', async () => {
    const progress: number[] = [];
    const r = await runLoad({
      url: `ws://127.0.0.1:${gw.port}/v1`,
      clients: 10,
      workers: 2,
      topics: (i) => (i % 2 === 0 ? TOPICS : TOPICS.slice(0, 2)),
      warmupMs: 200,
      durationMs: 1000,
      progressIntervalMs: 250,
      onProgress: (p) => progress.push(p.subscribed),
    });
    expect(r.errors).toEqual([]);
    expect(r.clientsConnected).toBe(10);
    expect(r.clientsSubscribed).toBe(10);
    expect(r.clientsOpenAtEnd).toBe(10);
    expect(r.workers).toBe(2);
    expect(r.ticks).toBeGreaterThan(0);
    expect(r.ticksPerSec).toBeGreaterThan(0);
    expect(r.frames).toBeGreaterThanOrEqual(r.window.upds);
    // Every client got one snap per topic: 5 × 5 + 5 × 2.
    expect(r.total.snaps).toBe(35);
    expect(r.total.gaps).toBe(0);
    expect(r.total.missedTicks).toBe(0);
    expect(r.total.outOfOrder).toBe(0);
    expect(r.total.updBeforeSnap).toBe(0);
    expect(r.total.repeatedSnaps).toBe(0);
    expect(r.total.resyncs).toBe(0);
    expect(r.total.badFrames).toBe(0);
    expect(r.gapSamples).toEqual([]);
    expect(r.closeCodes).toEqual({});
    expect(r.latencyMs.count).toBe(r.ticks);
    expect(Number.isFinite(r.latencyMs.p50)).toBe(true);
    expect(r.latencyMs.max).toBeGreaterThanOrEqual(r.latencyMs.p50);
    expect(progress.length).toBeGreaterThan(0);
    // The gateway saw the clients go.
    const deadline = Date.now() + 15_000;
    while (gw.hub.subscriptions > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(gw.hub.subscriptions).toBe(0);
  });

  it('records the close codes of connections the server closes', async () => {
    const gw2 = await startTestGateway({ feedRate: 2000, flushIntervalMs: 2, shutdownGraceMs: 500, shutdownNoticeMs: 0 });
    let stopped: Promise<void> | undefined;
    try {
      const r = await runLoad({
        url: `ws://127.0.0.1:${gw2.port}/v1`,
        clients: 4,
        workers: 1,
        topics: TOPICS,
        warmupMs: 0,
        durationMs: 600,
        onMeasureStart: () =>
          void setTimeout(() => {
            stopped = gw2.stop();
          }, 150),
      });
      await stopped;
      expect(r.clientsConnected).toBe(4);
      expect(r.closeCodes).toEqual({ '1001': 4 });
      expect(r.clientsOpenAtEnd).toBe(0);
      expect(r.total.gaps).toBe(0);
    } finally {
      await gw2.stop();
    }
  });

  it('runs misbehaving clients apart: periodic stalls, reconnects that resume with since, TCP bytes read', async () => {
    const r = await runLoad({
      url: `ws://127.0.0.1:${gw.port}/v1`,
      clients: 4,
      workers: 1,
      topics: TOPICS,
      // Client 2 stops reading for 150 ms every 300 ms; client 3 reconnects every 400 ms.
      behaviour: (i) => {
        if (i === 2) return { stall: { everyMs: 150, forMs: 150, firstAfterMs: 100 } };
        return i === 3 ? { reconnectEveryMs: 400 } : undefined;
      },
      warmupMs: 200,
      durationMs: 1500,
    });
    expect(r.errors).toEqual([]);
    expect(r.workers).toBe(1);
    expect(r.workerElu).toHaveLength(1);
    expect(r.clientsSubscribed).toBe(4);
    const m = r.misbehaving!;
    expect(m.clients).toBe(2);
    expect(m.total.stalls).toBeGreaterThanOrEqual(1);
    expect(m.total.reconnects).toBeGreaterThanOrEqual(1);
    // A reconnect resumes every topic it had a snap of (all five, unless it came before the first snaps).
    expect(m.total.resumedTopics).toBeGreaterThanOrEqual(TOPICS.length);
    expect(m.total.resumedTopics).toBeLessThanOrEqual(m.total.reconnects * TOPICS.length);
    expect(m.window.ticks).toBeGreaterThan(0);
    expect(m.latencyMs.count).toBe(m.window.ticks);
    // Resumes are served from history: no gap, no duplicate, no second snap.
    for (const t of [r.total, m.total]) {
      expect(t.gaps).toBe(0);
      expect(t.outOfOrder).toBe(0);
      expect(t.repeatedSnaps).toBe(0);
      expect(t.updBeforeSnap).toBe(0);
      expect(t.badFrames).toBe(0);
    }
    // The healthy clients' figures are theirs alone.
    expect(r.total.snaps).toBe(2 * TOPICS.length);
    expect(r.total.reconnects + r.total.stalls).toBe(0);
    expect(r.latencyMs.count).toBe(r.ticks);
    // TCP bytes include the handshake and WebSocket framing.
    expect(r.total.wireBytes).toBeGreaterThan(r.total.bytes);
    expect(m.total.wireBytes).toBeGreaterThan(m.total.bytes);
  });

  it('fails fast when nothing listens', async () => {
    await expect(
      runLoad({ url: 'ws://127.0.0.1:1/v1', clients: 2, workers: 1, topics: TOPICS, durationMs: 100, connectTimeoutMs: 2000 }),
    ).rejects.toThrow(/no client could connect/);
  });
});
