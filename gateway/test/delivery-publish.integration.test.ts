import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { httpGet, ManualSource, metricValue, startTestGateway, waitForMetric } from './support/gateway.js';

/**
 * The per-topic send path (uWS publish per codec and topic or view) on real sockets: mixed codecs,
 * throttled views, unsubscribe/resubscribe, first snaps, and slow consumers that must be conflated
 * and resynced, never skipped silently by publish.
 */
const TOPICS = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.ETH-USD', 'trade.ETH-USD'];
const CODECS = [
  'tickwire.v1.msgpack',
  'tickwire.v1.json',
  'tickwire.v1.msgpack+deflate',
  'tickwire.v1.msgpack-compact',
  'tickwire.v1.msgpack-compact+deflate.d1',
];

/** Every tick a client holds for a topic, by seq. */
const bySeq = (msgs: Msg[]) => {
  const out = new Map<number, unknown>();
  for (const m of msgs) {
    if (m.op === 'snap') out.set(m.seq, m.data);
    if (m.op === 'upd') m.data.forEach((t: unknown, i: number) => out.set(m.seq + i, t));
  }
  return out;
};

/** A throttled view: a snap, then upd frames of one tick each with increasing seq. */
const checkView = (msgs: Msg[]) => {
  expect(msgs[0]!.op).toBe('snap');
  let prev = msgs[0]!.seq;
  for (const m of msgs.slice(1)) {
    if (m.op === 'snap') {
      expect(m.resync).toBe(true);
      expect(m.seq).toBeGreaterThanOrEqual(prev);
    } else {
      expect(m.op).toBe('upd');
      expect(m.data).toHaveLength(1);
      expect(m.seq).toBeGreaterThan(prev);
    }
    prev = m.seq;
  }
};

describe('per-topic delivery (embedded feed)', () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  const connect = async (protocol = CODECS[0] as string) => {
    const c = await TestClient.connect(gw.port, { protocols: [protocol] });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 5_000, flushIntervalMs: 2, maxTicksPerFrame: 64 });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('mixed codecs on the same topics: each a consecutive stream, all with the same ticks', async () => {
    const cs = await Promise.all(CODECS.map((p) => connect(p)));
    for (const c of cs) c.send({ op: 'sub', id: 1, topics: TOPICS });
    await cs[0]!.waitUntil(() => cs.every((c) => TOPICS.every((t) => c.topicMessages(t).length > 30)), 20_000);
    for (const t of TOPICS) {
      const ref = bySeq(cs[0]!.topicMessages(t));
      for (const c of cs) {
        expect(checkTopicStream(c.topicMessages(t))).toBeGreaterThan(20);
        let same = 0;
        for (const [seq, tick] of bySeq(c.topicMessages(t))) {
          if (!ref.has(seq)) continue;
          expect(tick).toEqual(ref.get(seq));
          same++;
        }
        expect(same).toBeGreaterThan(20);
      }
    }
    // The compact client's frames are columns in the embedded directory's units (BTC-USD: tick 0.01, lot 0.00001).
    for (const p of ['tickwire.v1.msgpack-compact', 'tickwire.v1.msgpack-compact+deflate.d1']) {
      const compact = cs[CODECS.indexOf(p)]!.topicMessages('trade.BTC-USD').filter((m) => m.op === 'upd');
      expect(compact.length).toBeGreaterThan(20);
      for (const m of compact) expect(m.__scales).toEqual([100, 100000]);
    }
  });

  it('throttled views through publish: every codec gets the same updates; a late joiner starts with a snap', async () => {
    const view = 'quote.BTC-USD@100ms';
    const a = await connect(CODECS[0]);
    const b = await connect(CODECS[1]);
    for (const c of [a, b]) c.send({ op: 'sub', id: 1, topics: [view, 'quote.BTC-USD'] });
    // The late joiner comes in after a few view updates went out.
    await a.waitUntil(() => [a, b].every((c) => c.topicMessages(view).filter((m) => m.op === 'upd').length >= 3));
    const late = await connect(CODECS[2]);
    late.send({ op: 'sub', id: 1, topics: [view] });
    await a.waitUntil(() => [a, b, late].every((c) => c.topicMessages(view).filter((m) => m.op === 'upd').length >= 4), 20_000);
    // The same update frames (seq and tick) for every codec, from the late joiner's first on.
    const upds = (c: TestClient) => c.topicMessages(view).filter((m) => m.op === 'upd');
    const lateFirst = upds(late)[0]!.seq;
    await a.waitUntil(() => [a, b].every((c) => upds(c).filter((m) => m.seq >= lateFirst).length >= 3), 20_000);
    for (const c of [a, b, late]) checkView(c.topicMessages(view));
    const key = (c: TestClient) =>
      upds(c)
        .filter((m) => m.seq >= lateFirst)
        .map((m) => [m.seq, m.data[0]])
        .slice(0, 3);
    expect(key(b)).toEqual(key(a));
    expect(key(late)).toEqual(key(a));
    // Each view update is the real tick with that seq.
    const raw = bySeq(a.topicMessages('quote.BTC-USD'));
    for (const m of upds(a)) if (raw.has(m.seq)) expect(m.data[0]).toEqual(raw.get(m.seq));
  });

  it('unsubscribe stops a topic at its ack; resubscribing starts again with a snap, then consecutive upd', async () => {
    for (const protocol of CODECS) {
      const c = await connect(protocol);
      c.send({ op: 'sub', id: 1, topics: TOPICS });
      await c.waitUntil(() => TOPICS.every((t) => c.topicMessages(t).length > 5), 15_000);
      c.send({ op: 'unsub', id: 2, topics: ['quote.BTC-USD'] });
      const ack = await c.waitFor((m) => m.op === 'ack' && m.id === 2);
      const lastBefore = c.topicMessages('quote.BTC-USD').at(-1)!;
      // Barrier: the other topics moved on after the ack, so a frame of this one would be here.
      const others = TOPICS.filter((t) => t !== 'quote.BTC-USD');
      const othersAt = others.map((t) => c.topicMessages(t).length);
      await c.waitUntil(() => others.every((t, i) => c.topicMessages(t).length > othersAt[i]! + 3));
      // Nothing for the topic after its unsub ack (frames published before it come before it).
      const afterAck = c.messages.slice(c.messages.indexOf(ack) + 1);
      expect(afterAck.filter((m) => m.topic === 'quote.BTC-USD')).toEqual([]);
      expect(afterAck.filter((m) => m.topic === 'trade.BTC-USD').length).toBeGreaterThan(0);
      c.send({ op: 'sub', id: 3, topics: ['quote.BTC-USD'] });
      const ack3 = await c.waitFor((m) => m.op === 'ack' && m.id === 3);
      await c.waitUntil(() => c.messages.slice(c.messages.indexOf(ack3)).filter((m) => m.topic === 'quote.BTC-USD').length > 5, 15_000);
      const again = c.messages.slice(c.messages.indexOf(ack3)).filter((m) => m.topic === 'quote.BTC-USD');
      expect(again[0]).toMatchObject({ op: 'snap' });
      expect(again[0]!.seq).toBeGreaterThanOrEqual(lastBefore.seq);
      expect(checkTopicStream(again)).toBeGreaterThan(0);
      for (const t of TOPICS.filter((x) => x !== 'quote.BTC-USD')) checkTopicStream(c.topicMessages(t));
    }
  });
});

describe('per-topic delivery (manual source)', () => {
  it('subscribers awaiting a first tick get one snap (of the first tick), then each tick once, whatever their codec', async () => {
    const source = new ManualSource();
    const gw = await startTestGateway({ flushIntervalMs: 2 }, source);
    const cs: TestClient[] = [];
    try {
      for (const p of CODECS) cs.push(await TestClient.connect(gw.port, { protocols: [p] }));
      for (const c of cs) c.send({ op: 'sub', id: 1, topics: ['trade.NEW'] });
      await Promise.all(cs.map((c) => c.waitFor((m) => m.op === 'ack')));
      let n = 0;
      const tick = (): TradeTick => ({ ts: 1_700_000_000_000 + n, px: 100 + n, qty: 1, side: n++ % 2 ? 'b' : 's' });
      source.publish('trade.NEW', tick());
      source.publish('trade.NEW', tick());
      await Promise.all(cs.map((c) => c.waitFor((m) => m.topic === 'trade.NEW')));
      // In bursts of 5, each burst out before the next: the ticks span many flushes.
      for (let i = 0; i < 50; i++) {
        source.publish('trade.NEW', tick());
        if (i % 5 === 4) await cs[0]!.waitUntil(() => bySeq(cs[0]!.topicMessages('trade.NEW')).size === i + 3, 15_000);
      }
      await cs[0]!.waitUntil(() => cs.every((c) => bySeq(c.topicMessages('trade.NEW')).size === 52), 15_000);
      // A duplicate or a second snap would have been sent before the pong.
      await Promise.all(cs.map((c) => c.roundTrip()));
      for (const c of cs) {
        const msgs = c.topicMessages('trade.NEW');
        expect(msgs[0]).toMatchObject({ op: 'snap', seq: 1 });
        expect(msgs.filter((m) => m.op === 'snap')).toHaveLength(1);
        expect(checkTopicStream(msgs)).toBe(51);
      }
    } finally {
      for (const c of cs) c.close();
      await gw.stop();
    }
  });
});

describe('slow consumers under publish', () => {
  // The second setting leaves uWS's own limit (2 × 256 KiB + 64 KiB) close enough that a stalled
  // client would reach it within the test if tickwire did not take it out of publish first: uWS
  // would then skip it silently, a gap the stream check below catches.
  it.each([
    { slowSoftBytes: 64 * 1024, maxBackpressureBytes: 64 * 1024 * 1024, feedRate: 10_000 },
    { slowSoftBytes: 8 * 1024, maxBackpressureBytes: 256 * 1024, feedRate: 5_000 },
  ])(
    'stalled msgpack and JSON clients are conflated, then resynced and live again; no silent gap; healthy clients of every codec ' +
      'undisturbed (%o)',
    async (limits) => {
      // 10 000 ticks/s at most: the healthy readers share this process (and a busy machine's CPUs)
      // with the gateway, whose feed catches up to 1 s at once after a stall; at 40 000/s that burst
      // made them slow consumers too. Under the 256 KiB hard limit, 5 000/s keeps the burst below it.
      const gw = await startTestGateway({ flushIntervalMs: 2, ...limits, slowTimeoutMs: 60_000 });
      const all: TestClient[] = [];
      const view = 'quote.BTC-USD@100ms';
      try {
        const healthy = await Promise.all(CODECS.map((p) => TestClient.connect(gw.port, { protocols: [p] })));
        // Shared-deflate frames are small enough that filling the loopback buffers takes too long for a test.
        const slow = await Promise.all(CODECS.slice(0, 2).map((p) => TestClient.connect(gw.port, { protocols: [p] })));
        all.push(...healthy, ...slow);
        for (const c of all) c.send({ op: 'sub', id: 1, topics: [...TOPICS, view] });
        await slow[0]!.waitUntil(() => slow.every((c) => TOPICS.every((t) => c.topicMessages(t).length > 3)), 20_000);
        for (const c of slow) c.pause();
        await waitForMetric(
          gw.port,
          'tickwire_slow_consumer_events_total',
          slow.length,
          'the stalled clients were never all marked slow',
          60_000,
        );
        // Conflation goes on for a while: the healthy clients see a few hundred more ticks meanwhile.
        const healthyAt = healthy[0]!.messages.length;
        await healthy[0]!.waitUntil(() => healthy[0]!.messages.length > healthyAt + 300, 20_000);
        const marks = slow.map((c) => c.messages.length);
        for (const c of slow) c.resume();
        const resynced = (c: TestClient) => TOPICS.every((t) => c.topicMessages(t).some((m) => m.op === 'snap' && m.resync === true));
        await slow[0]!.waitUntil(() => slow.every(resynced), 20_000);
        // Back in the uWS topics: consecutive upd frames again after each resync snap.
        const liveAgain = (c: TestClient) =>
          TOPICS.every((t) => {
            const msgs = c.topicMessages(t);
            const last = msgs.findLastIndex((m) => m.op === 'snap');
            return msgs.length - last > 5;
          });
        await slow[0]!.waitUntil(() => slow.every(liveAgain), 20_000);
        slow.forEach((c, i) => expect(c.messages.length).toBeGreaterThan(marks[i]!));
        for (const t of TOPICS) {
          for (const c of slow) checkTopicStream(c.topicMessages(t), { allowResync: true }); // consecutive, or a flagged reset
          // With an 8 KiB soft limit, one scheduling hiccup of this shared process is enough for the
          // policy to conflate a healthy reader too: there it must only never have a silent gap.
          const strict = limits.slowSoftBytes >= 64 * 1024;
          for (const c of healthy) expect(checkTopicStream(c.topicMessages(t), { allowResync: !strict })).toBeGreaterThan(100);
        }
        for (const c of [...slow, ...healthy]) checkView(c.topicMessages(view));
        const m = (await httpGet(gw.port, '/metrics')).body;
        expect(metricValue(m, 'tickwire_conflated_frames_total')).toBeGreaterThan(0);
        expect(metricValue(m, 'tickwire_slow_consumer_closes_total')).toBe(0);
      } finally {
        for (const c of all) c.close();
        await gw.stop();
      }
    },
    180_000,
  );
});
