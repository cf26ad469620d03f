import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS, inflateFrame, jsonCodec, msgpackCodec, sharedDeflateCodec, type WireCodec } from '../src/codecs.js';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';

type Sub = HubSubscriber & { name: string; got: any[]; raw: Uint8Array[] };
const sub = (name: string, codec = 0): Sub => ({ name, codec, got: [], raw: [] });
const dec = (codec: WireCodec, f: Uint8Array) =>
  codec.derive ? decode(inflateFrame(f)) : codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f));
const deliver = (s: Sub, f: Uint8Array) => {
  s.raw.push(f);
  s.got.push(dec(CODECS[s.codec] as WireCodec, f));
};
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
const quote = (i: number): QuoteTick => ({ ts: 1_700_000_000_000 + i, bid: 10 + i, bsz: 2, ask: 11 + i, asz: 3 });
// historyBudgetBytes 0 keeps only each topic's chunk being written (16 ticks at first): history that ends.
const newHub = (maxTicksPerFrame = 1000, historyMaxAgeMs = 60_000, historyBudgetBytes = 1 << 30) =>
  new Hub<Sub>({ epoch: 'E1', codecs: CODECS, maxTicksPerFrame, historyMinWindowMs: 30_000, historyBudgetBytes, historyMaxAgeMs });
let clock = 0;
const at = (ms: number) => (clock = ms);

describe('Hub', () => {
  it('assigns consecutive sequence numbers per topic, independently across topics', () => {
    const hub = newHub();
    for (let i = 0; i < 5; i++) hub.publish('trade.A', trade(i));
    for (let i = 0; i < 3; i++) hub.publish('quote.A', quote(i));
    hub.flush(() => {}, clock);
    const info = Object.fromEntries(hub.topicInfo().map((t) => [t.topic, t]));
    expect(info['trade.A']).toMatchObject({ seq: 5, epoch: 'E1', ts: trade(4).ts });
    expect(info['quote.A']).toMatchObject({ seq: 3, ts: quote(2).ts });
  });

  it('sends the last flushed tick as a snap on subscribe, then upd frames continuing from it', () => {
    const hub = newHub();
    hub.publish('trade.A', trade(1));
    hub.publish('trade.A', trade(2));
    const s = sub('s');
    const r = hub.subscribe(s, 'trade.A');
    if (r.kind !== 'frames') throw new Error('expected frames');
    expect(r.frames).toHaveLength(1);
    deliver(s, r.frames[0]!);
    hub.publish('trade.A', trade(3));
    hub.publish('trade.A', trade(4));
    hub.flush(deliver, clock);
    expect(s.got).toEqual([
      { op: 'snap', topic: 'trade.A', seq: 2, epoch: 'E1', data: trade(2) },
      { op: 'upd', topic: 'trade.A', seq: 3, data: [trade(3), trade(4)] },
    ]);
  });

  it('a subscriber joining while ticks are pending gets the last flushed value, not a pending one', () => {
    const hub = newHub();
    const early = sub('early');
    hub.publish('trade.A', trade(1));
    hub.subscribe(early, 'trade.A'); // snap seq 1
    hub.publish('trade.A', trade(2)); // pending
    const late = sub('late');
    const r = hub.subscribe(late, 'trade.A');
    if (r.kind !== 'frames') throw new Error('expected snap');
    deliver(late, r.frames[0]!);
    hub.flush(deliver, clock);
    expect(late.got.map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
    ]);
  });

  it('a subscriber to a topic with no data gets every tick from the first: a snap of the first tick, then upd', () => {
    const hub = newHub();
    const s = sub('s');
    expect(hub.subscribe(s, 'quote.NEW').kind).toBe('pending');
    hub.publish('quote.NEW', quote(1));
    hub.publish('quote.NEW', quote(2));
    hub.flush(deliver, clock);
    hub.publish('quote.NEW', quote(3));
    hub.flush(deliver, clock);
    expect(s.got).toEqual([
      { op: 'snap', topic: 'quote.NEW', seq: 1, epoch: 'E1', data: quote(1) },
      { op: 'upd', topic: 'quote.NEW', seq: 2, data: [quote(2)] },
      { op: 'upd', topic: 'quote.NEW', seq: 3, data: [quote(3)] },
    ]);
  });

  it('encodes once per topic per flush per codec and shares the same bytes among subscribers', () => {
    const hub = newHub();
    hub.publish('trade.A', trade(0));
    const subs = [sub('a'), sub('b'), sub('c'), sub('j1', jsonCodec.id), sub('j2', jsonCodec.id)];
    for (const s of subs) hub.subscribe(s, 'trade.A');
    for (let i = 1; i <= 10; i++) hub.publish('trade.A', trade(i));
    const before = hub.stats.framesEncoded;
    hub.flush(deliver, clock);
    expect(hub.stats.framesEncoded - before).toBe(2); // one msgpack, one json
    const [a, b, c, j1, j2] = subs as [Sub, Sub, Sub, Sub, Sub];
    expect(b.raw[0]).toBe(a.raw[0]);
    expect(c.raw[0]).toBe(a.raw[0]);
    expect(j2.raw[0]).toBe(j1.raw[0]);
    expect(j1.got[0]).toEqual(a.got[0]);
  });

  it('caches the snap frame per codec until the topic changes', () => {
    const hub = newHub();
    hub.publish('trade.A', trade(0));
    const r1 = hub.subscribe(sub('a'), 'trade.A');
    const r2 = hub.subscribe(sub('b'), 'trade.A');
    if (r1.kind !== 'frames' || r2.kind !== 'frames') throw new Error('expected snaps');
    expect(r2.frames[0]).toBe(r1.frames[0]);
    hub.publish('trade.A', trade(1));
    hub.flush(() => {}, clock);
    const r3 = hub.subscribe(sub('c'), 'trade.A');
    if (r3.kind !== 'frames') throw new Error('expected snap');
    expect(r3.frames[0]).not.toBe(r1.frames[0]);
    expect(decode(r3.frames[0]!)).toMatchObject({ seq: 2 });
  });

  it('splits a busy topic into consecutive frames of at most maxTicksPerFrame', () => {
    const hub = newHub(4);
    hub.publish('trade.A', trade(0));
    const s = sub('s');
    hub.subscribe(s, 'trade.A');
    for (let i = 1; i <= 10; i++) hub.publish('trade.A', trade(i));
    hub.flush(deliver, clock);
    expect(s.got.map((m) => [m.seq, m.data.length])).toEqual([
      [2, 4],
      [6, 4],
      [10, 2],
    ]);
    expect(s.got.flatMap((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => trade(i + 1)));
  });

  it('does no batching work for a topic without subscribers', () => {
    const hub = newHub();
    for (let i = 0; i < 100; i++) hub.publish('trade.A', trade(i));
    expect(hub.hasPending).toBe(false);
    expect(hub.flush(deliver, clock)).toBe(0);
    expect(hub.stats.framesEncoded).toBe(0);
    expect(hub.topicInfo()[0]).toMatchObject({ seq: 100 });
  });

  it('unsubscribe stops delivery; re-subscribe starts again with a snap; duplicates are no-ops', () => {
    const hub = newHub();
    const s = sub('s');
    hub.publish('trade.A', trade(0));
    expect(hub.subscribe(s, 'trade.A').kind).toBe('frames');
    expect(hub.subscribe(s, 'trade.A').kind).toBe('duplicate');
    expect(hub.subscriptions).toBe(1);
    expect(hub.unsubscribe(s, 'trade.A')).toBe(true);
    expect(hub.unsubscribe(s, 'trade.A')).toBe(false);
    hub.publish('trade.A', trade(1));
    hub.flush(deliver, clock);
    expect(s.got).toEqual([]);
    expect(hub.subscribe(s, 'trade.A').kind).toBe('frames');
  });

  it('forgets topics that never had data once their last subscriber leaves', () => {
    const hub = newHub();
    const s = sub('s');
    hub.subscribe(s, 'trade.NOPE');
    // A topic with no data has no state at all: the subscription waits (hub/waiting.ts).
    expect([hub.topicCount, hub.waitingCount]).toEqual([0, 1]);
    hub.unsubscribe(s, 'trade.NOPE');
    expect([hub.topicCount, hub.waitingCount]).toEqual([0, 0]);
  });

  it('keeps every subscriber gap-free over many random publish/flush/subscribe interleavings', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const hub = newHub(3);
    const topics = ['trade.A', 'trade.B', 'quote.C'];
    const subs: Sub[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = rand();
      const topic = topics[Math.floor(rand() * topics.length)] as string;
      if (r < 0.7) hub.publish(topic, topic.startsWith('trade') ? trade(step) : quote(step));
      else if (r < 0.9) hub.flush(deliver, clock);
      else if (subs.length < 20) {
        const s = sub(`s${subs.length}`, [msgpackCodec.id, jsonCodec.id, sharedDeflateCodec.id][Math.floor(rand() * 3)]);
        subs.push(s);
        for (const t of topics) {
          const res = hub.subscribe(s, t);
          if (res.kind === 'frames') res.frames.forEach((f) => deliver(s, f));
        }
      }
    }
    hub.flush(deliver, clock);
    let checked = 0;
    for (const s of subs) {
      for (const t of topics) {
        const msgs = s.got.filter((m) => m.topic === t);
        if (!msgs.length) continue;
        expect(msgs[0].op).toBe('snap');
        let next = msgs[0].seq + 1;
        for (const m of msgs.slice(1)) {
          expect(m.op).toBe('upd');
          expect(m.seq).toBe(next);
          next += m.data.length;
          checked++;
        }
        const info = hub.topicInfo().find((i) => i.topic === t);
        expect(next - 1).toBe(info?.seq);
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  describe('resume from history', () => {
    const setup = () => {
      const hub = newHub(1000, 5000, 0);
      at(0);
      // Chunks of 16 ticks; the budget keeps only the newest: seq 33..40.
      for (let i = 1; i <= 40; i++) hub.publish('trade.A', trade(i));
      hub.flush(() => {}, clock);
      return hub;
    };

    it('replays the missed ticks as upd frames and continues live: no snap, no gap, no duplicate', () => {
      const hub = setup();
      const s = sub('s');
      const r = hub.subscribe(s, 'trade.A', { epoch: 'E1', seq: 35 });
      if (r.kind !== 'frames') throw new Error('expected frames');
      expect(r.resync).toBe(false);
      r.frames.forEach((f) => deliver(s, f));
      hub.publish('trade.A', trade(41));
      hub.flush(deliver, clock);
      expect(s.got.map((m) => [m.op, m.seq, m.data.length])).toEqual([
        ['upd', 36, 5],
        ['upd', 41, 1],
      ]);
      expect(s.got[0].data).toEqual([36, 37, 38, 39, 40].map(trade));
      expect(hub.stats.resumes).toBe(1);
    });

    it('an up-to-date client gets nothing until the next tick', () => {
      const hub = setup();
      const r = hub.subscribe(sub('s'), 'trade.A', { epoch: 'E1', seq: 40 });
      expect(r).toEqual({ kind: 'frames', frames: [], resync: false });
    });

    it.each([
      ['another epoch', { epoch: 'E0', seq: 35 }],
      ['a seq older than the history', { epoch: 'E1', seq: 31 }],
      ['a seq in the future', { epoch: 'E1', seq: 45 }],
    ])('answers %s with a snap flagged resync', (_name, since) => {
      const hub = setup();
      const s = sub('s');
      const r = hub.subscribe(s, 'trade.A', since);
      if (r.kind !== 'frames') throw new Error('expected frames');
      expect(r.resync).toBe(true);
      expect(r.frames.map((f) => decode(f))).toEqual([
        { op: 'snap', topic: 'trade.A', seq: 40, epoch: 'E1', data: trade(40), resync: true },
      ]);
    });

    it('does not replay ticks older than historyMaxAge', () => {
      const hub = setup();
      at(6000);
      hub.flush(() => {}, clock);
      const r = hub.subscribe(sub('s'), 'trade.A', { epoch: 'E1', seq: 35 });
      expect(r.kind === 'frames' && r.resync).toBe(true);
    });

    it('resuming from seq 0 of this epoch on a topic without data gets every tick as upd from seq 1', () => {
      const hub = newHub();
      const s = sub('s');
      expect(hub.subscribe(s, 'trade.NEW', { epoch: 'E1', seq: 0 })).toEqual({ kind: 'frames', frames: [], resync: false });
      hub.publish('trade.NEW', trade(1));
      hub.publish('trade.NEW', trade(2));
      hub.flush(deliver, clock);
      expect(s.got).toEqual([{ op: 'upd', topic: 'trade.NEW', seq: 1, data: [trade(1), trade(2)] }]);
    });

    it('a resuming subscriber to a topic without data gets a resync snap with the first tick', () => {
      const hub = newHub();
      const s = sub('s');
      expect(hub.subscribe(s, 'trade.NEW', { epoch: 'E0', seq: 7 }).kind).toBe('pending');
      hub.publish('trade.NEW', trade(1));
      hub.flush(deliver, clock);
      expect(s.got).toEqual([{ op: 'snap', topic: 'trade.NEW', seq: 1, epoch: 'E1', data: trade(1), resync: true }]);
    });
  });

  it('resyncFrame is a flagged snap of the newest flushed tick', () => {
    const hub = newHub();
    hub.publish('quote.A', quote(1));
    hub.publish('quote.A', quote(2));
    expect(hub.resyncFrame('quote.B', 0)).toBeUndefined();
    expect(decode(hub.resyncFrame('quote.A', 0)!)).toEqual({
      op: 'snap',
      topic: 'quote.A',
      seq: 2,
      epoch: 'E1',
      data: quote(2),
      resync: true,
    });
  });

  describe('throttled views', () => {
    it('sends at most one upd per interval, the latest tick with its real seq', () => {
      const hub = newHub();
      at(0);
      hub.publish('quote.A', quote(1));
      hub.flush(() => {}, clock);
      const s = sub('s');
      const r = hub.subscribe(s, 'quote.A@100ms');
      if (r.kind !== 'frames') throw new Error('expected snap');
      deliver(s, r.frames[0]!);
      for (let ms = 1; ms <= 450; ms++) {
        hub.publish('quote.A', quote(ms + 1)); // seq = ms + 1
        at(ms);
        hub.flush(deliver, clock);
      }
      const upds = s.got.filter((m) => m.op === 'upd');
      expect(s.got[0]).toEqual({ op: 'snap', topic: 'quote.A@100ms', seq: 1, epoch: 'E1', data: quote(1) });
      expect(upds.map((m) => m.seq)).toEqual([101, 201, 301, 401]);
      for (const m of upds) {
        expect(m.topic).toBe('quote.A@100ms');
        expect(m.data).toEqual([quote(m.seq)]);
      }
    });

    it('sends nothing in an interval without ticks, then the next tick at once', () => {
      const hub = newHub();
      at(0);
      hub.publish('quote.A', quote(1));
      const s = sub('s');
      hub.subscribe(s, 'quote.A@250ms');
      at(1000);
      hub.flush(deliver, clock);
      expect(s.got).toEqual([]);
      hub.publish('quote.A', quote(2));
      at(1001);
      hub.flush(deliver, clock);
      expect(s.got.map((m) => [m.op, m.seq])).toEqual([['upd', 2]]);
    });

    it('encodes a throttled frame once per codec for all its subscribers, beside raw subscribers', () => {
      const hub = newHub();
      at(0);
      hub.publish('quote.A', quote(1));
      const t1 = sub('t1');
      const t2 = sub('t2');
      const raw = sub('raw');
      hub.subscribe(t1, 'quote.A@100ms');
      hub.subscribe(t2, 'quote.A@100ms');
      hub.subscribe(raw, 'quote.A');
      hub.publish('quote.A', quote(2));
      at(100);
      hub.flush(deliver, clock);
      expect(t1.raw[0]).toBe(t2.raw[0]);
      expect(raw.got[0]).toMatchObject({ op: 'upd', topic: 'quote.A', seq: 2 });
      expect(t1.got[0]).toMatchObject({ op: 'upd', topic: 'quote.A@100ms', seq: 2 });
      expect(hub.unsubscribe(t1, 'quote.A@100ms')).toBe(true);
      expect(hub.unsubscribe(t1, 'quote.A@100ms')).toBe(false);
      expect(hub.subscribe(t1, 'quote.A@99ms')).toEqual({ kind: 'invalid' });
    });
  });

  it('derived codec (shared deflate) transforms the msgpack frame once, shared by its subscribers', () => {
    const hub = newHub();
    hub.publish('trade.A', trade(0));
    const m = sub('m', msgpackCodec.id);
    const d1 = sub('d1', sharedDeflateCodec.id);
    const d2 = sub('d2', sharedDeflateCodec.id);
    for (const s of [m, d1, d2]) hub.subscribe(s, 'trade.A');
    for (let i = 1; i <= 50; i++) hub.publish('trade.A', trade(i));
    const before = hub.stats.framesEncoded;
    hub.flush(deliver, clock);
    expect(hub.stats.framesEncoded - before).toBe(2);
    expect(d1.raw[0]).toBe(d2.raw[0]);
    expect(d1.raw[0]![0]).toBe(0x01);
    expect(d1.raw[0]!.length).toBeLessThan(m.raw[0]!.length);
    expect(d1.got[0]).toEqual(m.got[0]);
  });
});
