import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { httpGet, metricValue, startTestGateway } from './support/gateway.js';

// Issue 13 point 3: history sized by time. At 20 000 ticks/s over 14 topics a client away 5 s
// missed ~7 000 ticks per topic, far beyond the old 1 024-tick ring: resume must still replay them.
const TOPICS = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.ETH-USD', 'trade.AAPL', 'quote.EUR-USD'];
const AWAY_MS = 5_000;

const lastSeq = (c: TestClient, topic: string) => {
  const m = c.topicMessages(topic).at(-1)!;
  return m.op === 'upd' ? m.seq + m.data.length - 1 : m.seq;
};
const seqsOf = (msgs: Msg[]) => msgs.flatMap((m) => (m.op === 'upd' ? m.data.map((_: unknown, i: number) => m.seq + i) : [m.seq]));
const hubSeq = (gw: Gateway, topic: string) => gw.hub.topicInfo().find((t) => t.topic === topic)?.seq ?? 0;

describe('resume history by time (embedded feed at 20 000 ticks/s)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 20_000, flushIntervalMs: 2, maxTicksPerFrame: 256 });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('a client away 5 s resumes with since and gets every tick exactly once, consecutive, no resync', async () => {
    const a = await TestClient.connect(gw.port);
    a.send({ op: 'sub', id: 1, topics: TOPICS });
    await a.waitUntil(() => TOPICS.every((t) => a.topicMessages(t).length > 5), 10_000);
    a.close();
    await a.waitClosed();
    const leftAt = Date.now();
    const since = Object.fromEntries(TOPICS.map((t) => [t, { epoch: gw.epoch, seq: lastSeq(a, t) }]));
    // Away until 5 s passed and every topic moved on by more than the old ring held.
    await a.waitUntil(
      () => Date.now() - leftAt >= AWAY_MS && TOPICS.every((t) => hubSeq(gw, t) - since[t]!.seq > 2 * 1024),
      AWAY_MS + 20_000,
    );
    const target = Object.fromEntries(TOPICS.map((t) => [t, hubSeq(gw, t)]));

    const b = await TestClient.connect(gw.port);
    b.send({ op: 'sub', id: 2, topics: TOPICS, since });
    await b.waitFor((m) => m.op === 'ack');
    await b.waitUntil(() => TOPICS.every((t) => b.topicMessages(t).length > 0 && lastSeq(b, t) >= target[t]!), 15_000);
    b.close();
    for (const t of TOPICS) {
      const resumed = b.topicMessages(t);
      expect(resumed.some((m) => m.op === 'snap' || m.resync)).toBe(false);
      expect(resumed[0]).toMatchObject({ op: 'upd', seq: since[t]!.seq + 1 });
      // a's ticks then b's ticks: one stream, each seq exactly once.
      const all = [...seqsOf(a.topicMessages(t)), ...seqsOf(resumed)];
      expect(new Set(all).size).toBe(all.length);
      checkTopicStream([...a.topicMessages(t), ...resumed]);
      expect(lastSeq(b, t) - since[t]!.seq).toBeGreaterThan(2 * 1024);
    }
    const m = (await httpGet(gw.port, '/metrics')).body;
    expect(metricValue(m, 'tickwire_resyncs_total')).toBe(0);
    // The window actually held is reported per topic, and it covers the absence.
    expect(metricValue(m, 'tickwire_history_window_seconds{topic="trade.BTC-USD"}')).toBeGreaterThanOrEqual(AWAY_MS / 1000);
    expect(metricValue(m, 'tickwire_history_window_ticks{topic="trade.BTC-USD"}')).toBeGreaterThan(2 * 1024);
    expect(metricValue(m, 'tickwire_history_bytes')).toBeGreaterThan(0);
  }, 60_000);
});
