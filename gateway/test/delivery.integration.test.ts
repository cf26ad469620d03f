import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { httpGet, metricValue, startTestGateway, waitForMetric } from './support/gateway.js';

const TOPICS = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.ETH-USD', 'trade.ETH-USD'];

const lastSeq = (c: TestClient, topic: string) => {
  const m = c.topicMessages(topic).at(-1)!;
  return m.op === 'upd' ? m.seq + m.data.length - 1 : m.seq;
};
/** Every tick a client holds for a topic, by seq (from snaps and upds). */
const bySeq = (msgs: Msg[]) => {
  const out = new Map<number, unknown>();
  for (const m of msgs) {
    if (m.op === 'snap') out.set(m.seq, m.data);
    if (m.op === 'upd') m.data.forEach((t: unknown, i: number) => out.set(m.seq + i, t));
  }
  return out;
};

describe('delivery under pressure (embedded feed)', () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  const connect = async (opts?: Parameters<typeof TestClient.connect>[1]) => {
    const c = await TestClient.connect(gw.port, opts);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 10_000, flushIntervalMs: 2, compression: 'dedicated', maxTicksPerFrame: 64 });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('resume: a client that drops and comes back with since gets every tick exactly once, consecutive', async () => {
    const witness = await connect();
    witness.send({ op: 'sub', id: 1, topics: TOPICS });
    const a = await connect();
    a.send({ op: 'sub', id: 1, topics: TOPICS });
    await a.waitUntil(() => TOPICS.every((t) => a.topicMessages(t).length > 5), 15_000);
    a.close();
    await a.waitClosed(); // nothing more reaches it
    const since = Object.fromEntries(TOPICS.map((t) => [t, { epoch: gw.epoch, seq: lastSeq(a, t) }]));
    // Ticks flow while it is away: a few frames per topic, as the witness sees them.
    const seen = TOPICS.map((t) => witness.topicMessages(t).length);
    await witness.waitUntil(() => TOPICS.every((t, i) => witness.topicMessages(t).length > seen[i]! + 3));
    const b = await connect();
    b.send({ op: 'sub', id: 2, topics: TOPICS, since });
    await b.waitFor((m) => m.op === 'ack');
    await b.waitUntil(() => TOPICS.every((t) => b.topicMessages(t).length > 3), 15_000);
    await b.roundTrip(); // whatever the gateway sent b so far is in
    for (const t of TOPICS) {
      const resumed = b.topicMessages(t);
      expect(resumed[0]!.op).toBe('upd'); // no snapshot: a resume
      expect(resumed[0]!.seq).toBe(since[t]!.seq + 1);
      // a's stream + b's stream = one consecutive stream: stitch them and check.
      const stitched = [...a.topicMessages(t), ...resumed];
      checkTopicStream(stitched);
      // ...with exactly the ticks a never-disconnected client saw.
      const w = bySeq(witness.topicMessages(t));
      for (const [seq, tick] of bySeq(resumed)) if (w.has(seq)) expect(tick).toEqual(w.get(seq));
    }
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_resumes_total')).toBeGreaterThanOrEqual(TOPICS.length);
  });

  it('resume with another epoch, or beyond the history, gets a snap with resync: true', async () => {
    const c = await connect();
    c.send({
      op: 'sub',
      id: 1,
      topics: ['quote.BTC-USD', 'trade.BTC-USD'],
      since: { 'quote.BTC-USD': { epoch: 'old-epoch', seq: 10 }, 'trade.BTC-USD': { epoch: gw.epoch, seq: 0 } },
    });
    const q = await c.waitFor((m) => m.topic === 'quote.BTC-USD');
    expect(q).toMatchObject({ op: 'snap', resync: true, epoch: gw.epoch });
    // seq 0 asks for everything since the start: served only while the history still holds seq 1
    // (its first 30 s at least), a flagged snap after that.
    const t = await c.waitFor((m) => m.topic === 'trade.BTC-USD');
    if (t.op === 'snap') expect(t).toMatchObject({ op: 'snap', resync: true });
    else expect(t).toMatchObject({ op: 'upd', seq: 1 });
    c.send({ op: 'sub', id: 2, topics: ['quote.ETH-USD'], since: { 'quote.ETH-USD': { epoch: 5 } } });
    expect(await c.waitFor((m) => m.op === 'err' && m.id === 2)).toMatchObject({ code: 'bad_request' });
  });

  it('throttle: at most one update per interval, the latest tick, with its real seq', async () => {
    const c = await connect({ protocols: ['tickwire.v1.json'] });
    c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD@250ms', 'quote.BTC-USD'] });
    await c.waitFor((m) => m.op === 'ack');
    const t0 = Date.now();
    const updates = () => c.topicMessages('quote.BTC-USD@250ms').filter((m) => m.op === 'upd').length;
    await c.waitUntil(() => updates() >= 4);
    const elapsed = Date.now() - t0;
    const throttled = c.topicMessages('quote.BTC-USD@250ms');
    expect(throttled[0]!.op).toBe('snap');
    const upds = throttled.filter((m) => m.op === 'upd');
    expect(upds.length).toBeGreaterThanOrEqual(3);
    expect(upds.length).toBeLessThanOrEqual(Math.floor(elapsed / 250) + 1);
    const raw = bySeq(c.topicMessages('quote.BTC-USD'));
    let prev = throttled[0]!.seq;
    for (const m of upds) {
      expect(m.data).toHaveLength(1);
      expect(m.seq).toBeGreaterThan(prev); // seq jumps over the skipped ticks
      prev = m.seq;
      if (raw.has(m.seq)) expect(m.data[0]).toEqual(raw.get(m.seq)); // the real tick with that seq
    }
    // Ticks stamped at ingest: two throttled updates are at least ~an interval apart in market time.
    for (let i = 1; i < upds.length; i++) expect(upds[i]!.data[0].ts - upds[i - 1]!.data[0].ts).toBeGreaterThanOrEqual(200);
  });

  it('shared deflate and permessage-deflate both decode to exactly the uncompressed stream, in fewer bytes', async () => {
    const plain = await connect();
    const shared = await connect({ protocols: ['tickwire.v1.msgpack+deflate'] });
    const pmd = await connect({ perMessageDeflate: true });
    expect(shared.ws.protocol).toBe('tickwire.v1.msgpack+deflate');
    expect(pmd.ws.extensions).toMatch(/permessage-deflate/);
    for (const c of [plain, shared, pmd]) c.send({ op: 'sub', id: 1, topics: TOPICS });
    await plain.waitUntil(() => TOPICS.every((t) => [plain, shared, pmd].every((c) => c.topicMessages(t).length > 40)), 20_000);
    for (const t of TOPICS) {
      const ref = bySeq(plain.topicMessages(t));
      for (const c of [shared, pmd]) {
        checkTopicStream(c.topicMessages(t));
        let compared = 0;
        for (const [seq, tick] of bySeq(c.topicMessages(t))) {
          if (!ref.has(seq)) continue;
          expect(tick).toEqual(ref.get(seq));
          compared++;
        }
        expect(compared).toBeGreaterThan(20);
      }
    }
    const perTick = (c: TestClient) => c.bytes / TOPICS.reduce((n, t) => n + bySeq(c.topicMessages(t)).size, 0);
    expect(perTick(shared)).toBeLessThan(perTick(plain));
  });
});

// These tests push trades and quotes at 40 000–50 000 ticks/s; the order-book records the embedded
// feed adds by default would roughly triple the gateway's CPU per tick (bench/results/
// 2026-12-06-book-ingest.md) and turn a busy machine's scheduling into the subject. Books have their
// own delivery tests (book-hub, book-e2e).
const TICKS_ONLY = { feedBooks: false } as const;

describe('slow consumers', () => {
  it('a stalled client is conflated and then resynced; a healthy one keeps a consecutive, timely stream', async () => {
    const gw = await startTestGateway({
      ...TICKS_ONLY,
      feedRate: 40_000,
      flushIntervalMs: 2,
      slowSoftBytes: 64 * 1024,
      maxBackpressureBytes: 64 * 1024 * 1024,
      slowTimeoutMs: 60_000,
    });
    try {
      const healthy = await TestClient.connect(gw.port);
      const slow = await TestClient.connect(gw.port);
      for (const c of [healthy, slow]) c.send({ op: 'sub', id: 1, topics: TOPICS });
      await slow.waitUntil(() => TOPICS.every((t) => slow.topicMessages(t).length > 3), 15_000);
      slow.pause();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_events_total', 1, 'the stalled client was never marked slow', 20_000);
      expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_slow_consumers')).toBeGreaterThanOrEqual(0);
      slow.resume();
      await slow.waitUntil(() => TOPICS.every((t) => slow.topicMessages(t).some((m) => m.op === 'snap' && m.resync === true)), 15_000);
      // Live again after the resync: a few frames past each topic's last snap.
      const liveAgain = (t: string) => {
        const msgs = slow.topicMessages(t);
        return msgs.length - msgs.findLastIndex((m) => m.op === 'snap') > 5;
      };
      await slow.waitUntil(() => TOPICS.every(liveAgain), 15_000);
      for (const t of TOPICS) {
        checkTopicStream(slow.topicMessages(t), { allowResync: true }); // consecutive or explicitly flagged
        expect(checkTopicStream(healthy.topicMessages(t))).toBeGreaterThan(100); // never disturbed
      }
      const newest = Math.max(...TOPICS.map((t) => healthy.topicMessages(t).at(-1)!.data.at?.(-1)?.ts ?? 0));
      expect(Date.now() - newest).toBeLessThan(2000);
      const m = (await httpGet(gw.port, '/metrics')).body;
      expect(metricValue(m, 'tickwire_resyncs_total')).toBeGreaterThanOrEqual(TOPICS.length);
      expect(metricValue(m, 'tickwire_conflated_frames_total')).toBeGreaterThan(0);
      healthy.close();
      slow.close();
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('a client stalled past slowTimeoutMs is closed with 4008 slow_consumer', async () => {
    const gw = await startTestGateway({
      ...TICKS_ONLY,
      feedRate: 40_000,
      flushIntervalMs: 2,
      slowSoftBytes: 64 * 1024,
      slowTimeoutMs: 500,
    });
    try {
      const slow = await TestClient.connect(gw.port);
      slow.send({ op: 'sub', id: 1, topics: TOPICS });
      await slow.waitFor((m) => m.op === 'ack');
      slow.pause();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_closes_total', 1, 'the stalled client was never closed', 30_000);
      slow.resume();
      expect(await slow.waitClosed(15_000)).toBe(4008);
      expect(slow.closeReason).toBe('slow consumer');
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('a client whose buffer passes maxBackpressureBytes in one flush gets the 4008 close frame, not 1006', async () => {
    // Big frames (50 ms flushes at a high rate) and a soft limit just under the hard one: one
    // flush takes the buffer past maxBackpressureBytes before conflation can start.
    const gw = await startTestGateway({
      ...TICKS_ONLY,
      feedRate: 50_000,
      flushIntervalMs: 50,
      slowSoftBytes: 16_000,
      maxBackpressureBytes: 16_384,
    });
    try {
      const slow = await TestClient.connect(gw.port);
      slow.send({
        op: 'sub',
        id: 1,
        topics: ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'].flatMap((s) => [`trade.${s}`, `quote.${s}`]),
      });
      await slow.waitFor((m) => m.op === 'ack');
      slow.pause();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_closes_total', 1, 'the stalled client was never closed', 30_000);
      slow.resume();
      expect(await slow.waitClosed(15_000)).toBe(4008);
    } finally {
      await gw.stop();
    }
  }, 60_000);
});
