import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS, jsonCodec, msgpackCodec, type WireCodec } from '../src/protocol/codec.js';
import type { QuoteTick, TradeTick } from '../src/protocol/ticks.js';

type Sub = HubSubscriber & { name: string; got: any[]; raw: Uint8Array[] };
const sub = (name: string, codec = 0): Sub => ({ name, codec, got: [], raw: [] });
const dec = (codec: WireCodec, f: Uint8Array) => (codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f)));
const deliver = (s: Sub, f: Uint8Array) => {
  s.raw.push(f);
  s.got.push(dec(CODECS[s.codec] as WireCodec, f));
};
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
const quote = (i: number): QuoteTick => ({ ts: 1_700_000_000_000 + i, bid: 10 + i, bsz: 2, ask: 11 + i, asz: 3 });
const newHub = (maxTicksPerFrame = 1000) => new Hub<Sub>({ epoch: 'E1', codecs: CODECS, maxTicksPerFrame });

describe('Hub', () => {
  it('assigns consecutive sequence numbers per topic, independently across topics', () => {
    const hub = newHub();
    for (let i = 0; i < 5; i++) hub.publish('trade.A', trade(i));
    for (let i = 0; i < 3; i++) hub.publish('quote.A', quote(i));
    hub.flush(() => {});
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
    expect(r.kind).toBe('snap');
    if (r.kind !== 'snap') return;
    deliver(s, r.frame);
    hub.publish('trade.A', trade(3));
    hub.publish('trade.A', trade(4));
    hub.flush(deliver);
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
    if (r.kind !== 'snap') throw new Error('expected snap');
    deliver(late, r.frame);
    hub.flush(deliver);
    expect(late.got.map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
    ]);
  });

  it('a subscriber to a topic with no data gets a snap of the newest tick of the first flush, never an upd first', () => {
    const hub = newHub();
    const s = sub('s');
    expect(hub.subscribe(s, 'quote.NEW').kind).toBe('pending');
    hub.publish('quote.NEW', quote(1));
    hub.publish('quote.NEW', quote(2));
    hub.flush(deliver);
    hub.publish('quote.NEW', quote(3));
    hub.flush(deliver);
    expect(s.got).toEqual([
      { op: 'snap', topic: 'quote.NEW', seq: 2, epoch: 'E1', data: quote(2) },
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
    hub.flush(deliver);
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
    if (r1.kind !== 'snap' || r2.kind !== 'snap') throw new Error('expected snaps');
    expect(r2.frame).toBe(r1.frame);
    hub.publish('trade.A', trade(1));
    hub.flush(() => {});
    const r3 = hub.subscribe(sub('c'), 'trade.A');
    if (r3.kind !== 'snap') throw new Error('expected snap');
    expect(r3.frame).not.toBe(r1.frame);
    expect(decode(r3.frame)).toMatchObject({ seq: 2 });
  });

  it('splits a busy topic into consecutive frames of at most maxTicksPerFrame', () => {
    const hub = newHub(4);
    hub.publish('trade.A', trade(0));
    const s = sub('s');
    hub.subscribe(s, 'trade.A');
    for (let i = 1; i <= 10; i++) hub.publish('trade.A', trade(i));
    hub.flush(deliver);
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
    expect(hub.flush(deliver)).toBe(0);
    expect(hub.stats.framesEncoded).toBe(0);
    expect(hub.topicInfo()[0]).toMatchObject({ seq: 100 });
  });

  it('unsubscribe stops delivery; re-subscribe starts again with a snap; duplicates are no-ops', () => {
    const hub = newHub();
    const s = sub('s');
    hub.publish('trade.A', trade(0));
    expect(hub.subscribe(s, 'trade.A').kind).toBe('snap');
    expect(hub.subscribe(s, 'trade.A').kind).toBe('duplicate');
    expect(hub.subscriptions).toBe(1);
    expect(hub.unsubscribe(s, 'trade.A')).toBe(true);
    expect(hub.unsubscribe(s, 'trade.A')).toBe(false);
    hub.publish('trade.A', trade(1));
    hub.flush(deliver);
    expect(s.got).toEqual([]);
    expect(hub.subscribe(s, 'trade.A').kind).toBe('snap');
  });

  it('forgets topics that never had data once their last subscriber leaves', () => {
    const hub = newHub();
    const s = sub('s');
    hub.subscribe(s, 'trade.NOPE');
    expect(hub.topicCount).toBe(1);
    hub.unsubscribe(s, 'trade.NOPE');
    expect(hub.topicCount).toBe(0);
  });

  it('keeps every subscriber gap-free over many random publish/flush/subscribe interleavings', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const hub = newHub(3);
    const topics = ['trade.A', 'trade.B', 'quote.C'];
    const subs: Sub[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = rand();
      const topic = topics[Math.floor(rand() * topics.length)] as string;
      if (r < 0.7) hub.publish(topic, topic.startsWith('trade') ? trade(step) : quote(step));
      else if (r < 0.9) hub.flush(deliver);
      else if (subs.length < 20) {
        const s = sub(`s${subs.length}`, rand() < 0.5 ? msgpackCodec.id : jsonCodec.id);
        subs.push(s);
        for (const t of topics) {
          const res = hub.subscribe(s, t);
          if (res.kind === 'snap') deliver(s, res.frame);
        }
      }
    }
    hub.flush(deliver);
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
});
