import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber, type TopicDelivery } from '../src/hub/hub.js';
import { CODECS, inflateFrame, jsonCodec, msgpackCodec, sharedDeflateCodec, type WireCodec } from '../src/codecs.js';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';

/**
 * The hub's per-topic delivery (TopicDelivery) against a model transport: `viaTopic` subscribers
 * join a topic's fan-out list only when the hub says they are live, exactly as the uWS transport
 * joins uWS topics; everyone else gets frames one by one.
 */
type Sub = HubSubscriber & { name: string; got: any[] };
const sub = (name: string, codec = 0, viaTopic = true): Sub => ({ name, codec, viaTopic, got: [] });
const dec = (codec: WireCodec, f: Uint8Array) =>
  codec.derive ? decode(inflateFrame(f)) : codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f));
const take = (s: Sub, f: Uint8Array) => s.got.push(dec(CODECS[s.codec] as WireCodec, f));
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
const quote = (i: number): QuoteTick => ({ ts: 1_700_000_000_000 + i, bid: 10 + i, bsz: 2, ask: 11 + i, asz: 3 });
const newHub = (maxTicksPerFrame = 1000) =>
  new Hub<Sub>({
    epoch: 'E1',
    codecs: CODECS,
    maxTicksPerFrame,
    historyMinWindowMs: 30_000,
    historyBudgetBytes: 1 << 30,
    historyMaxAgeMs: 60_000,
  });

/** A transport in miniature: per-(codec, name) member lists, joined on `live`, and a log of publish calls. */
class ModelTransport implements TopicDelivery<Sub> {
  readonly members = new Map<string, Set<Sub>>();
  readonly publishes: { name: string; codec: number; subscribers: number }[] = [];
  readonly direct = (s: Sub, f: Uint8Array) => take(s, f);
  publish(name: string, codec: number, frame: Uint8Array, subscribers: number): void {
    this.publishes.push({ name, codec, subscribers });
    for (const s of this.members.get(`${codec}|${name}`) ?? []) take(s, frame);
  }
  live(s: Sub, name: string): void {
    this.join(s, name);
  }
  join(s: Sub, name: string): void {
    const key = `${s.codec}|${name}`;
    if (!this.members.has(key)) this.members.set(key, new Set());
    this.members.get(key)!.add(s);
  }
  leave(s: Sub, name: string): void {
    this.members.get(`${s.codec}|${name}`)?.delete(s);
  }
  /** What the uWS transport does on `sub`: send the returned frames, then join if they made it live. */
  subscribe(hub: Hub<Sub>, s: Sub, name: string, since?: { epoch: string; seq: number }) {
    const r = hub.subscribe(s, name, since);
    if (r.kind === 'frames') {
      r.frames.forEach((f) => take(s, f));
      if (s.viaTopic) this.join(s, name);
    }
    return r;
  }
}

describe('Hub per-topic delivery', () => {
  it('publishes each frame once per codec in use, with its live subscriber count; others get it one by one', () => {
    const hub = newHub();
    const tr = new ModelTransport();
    hub.publish('trade.A', trade(1));
    hub.flush(tr.direct, 0, tr);
    const subs = [
      sub('m1', msgpackCodec.id),
      sub('m2', msgpackCodec.id),
      sub('j1', jsonCodec.id),
      sub('d1', sharedDeflateCodec.id),
      sub('sse', jsonCodec.id, false),
    ];
    for (const s of subs) tr.subscribe(hub, s, 'trade.A');
    tr.publishes.length = 0;
    hub.publish('trade.A', trade(2));
    hub.publish('trade.A', trade(3));
    const before = hub.stats.deliveries;
    hub.flush(tr.direct, 1, tr);
    expect(tr.publishes).toEqual([
      { name: 'trade.A', codec: msgpackCodec.id, subscribers: 2 },
      { name: 'trade.A', codec: jsonCodec.id, subscribers: 1 },
      { name: 'trade.A', codec: sharedDeflateCodec.id, subscribers: 1 },
    ]);
    expect(hub.stats.deliveries - before).toBe(5);
    for (const s of subs) {
      expect(s.got.map((m) => [m.op, m.seq])).toEqual([
        ['snap', 1],
        ['upd', 2],
      ]);
      expect(s.got[1].data).toEqual([trade(2), trade(3)]);
    }
  });

  it("a subscriber awaiting its first snap gets it one by one, is not reached by that flush's publish, and is live after", () => {
    const hub = newHub();
    const tr = new ModelTransport();
    const early = sub('early');
    expect(tr.subscribe(hub, early, 'quote.B').kind).toBe('pending');
    const lives: string[] = [];
    const spy: TopicDelivery<Sub> = { publish: (...a) => tr.publish(...a), live: (s, n) => (lives.push(`${s.name}:${n}`), tr.live(s, n)) };
    hub.publish('quote.B', quote(1));
    hub.publish('quote.B', quote(2));
    hub.flush(tr.direct, 0, spy);
    expect(tr.publishes).toEqual([]); // nobody was live yet: nothing to publish
    expect(lives).toEqual(['early:quote.B']);
    hub.publish('quote.B', quote(3));
    hub.flush(tr.direct, 1, spy);
    expect(early.got.map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
      ['upd', 3],
    ]);
    expect(tr.publishes).toEqual([{ name: 'quote.B', codec: 0, subscribers: 1 }]);
  });

  it('with live subscribers and an awaiting one in the same flush, each gets every tick exactly once', () => {
    const hub = newHub();
    const tr = new ModelTransport();
    hub.publish('trade.A', trade(1));
    hub.flush(tr.direct, 0, tr);
    const live = sub('live');
    tr.subscribe(hub, live, 'trade.A');
    // A resume from seq 0 of another epoch waits for the next flush and gets a resync snap.
    const waiting = sub('waiting');
    expect(tr.subscribe(hub, waiting, 'trade.B', { epoch: 'old', seq: 5 }).kind).toBe('pending');
    expect(tr.subscribe(hub, live, 'trade.B').kind).toBe('pending');
    hub.publish('trade.A', trade(2));
    hub.publish('trade.B', trade(1));
    hub.publish('trade.B', trade(2));
    hub.flush(tr.direct, 1, tr);
    hub.publish('trade.B', trade(3));
    hub.flush(tr.direct, 2, tr);
    expect(waiting.got.map((m) => [m.op, m.seq, m.resync ?? false])).toEqual([
      ['snap', 2, true],
      ['upd', 3, false],
    ]);
    expect(live.got.filter((m) => m.topic === 'trade.B').map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
      ['upd', 3],
    ]);
    expect(live.got.filter((m) => m.topic === 'trade.A').map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
    ]);
  });

  it('unsubscribing takes a live subscriber out of the count; an awaiting one never was in it', () => {
    const hub = newHub();
    const tr = new ModelTransport();
    const a = sub('a');
    const b = sub('b');
    tr.subscribe(hub, a, 'trade.A'); // pending: no data yet
    hub.publish('trade.A', trade(1));
    hub.flush(tr.direct, 0, tr);
    tr.subscribe(hub, b, 'trade.A');
    expect(hub.unsubscribe(a, 'trade.A')).toBe(true);
    tr.leave(a, 'trade.A');
    hub.publish('trade.A', trade(2));
    hub.flush(tr.direct, 1, tr);
    expect(tr.publishes.at(-1)).toEqual({ name: 'trade.A', codec: 0, subscribers: 1 });
    const c = sub('c');
    tr.subscribe(hub, c, 'trade.B'); // awaiting, then gone before any data
    expect(hub.unsubscribe(c, 'trade.B')).toBe(true);
    expect(hub.unsubscribe(b, 'trade.A')).toBe(true);
    tr.publishes.length = 0;
    hub.publish('trade.A', trade(3));
    hub.publish('trade.B', trade(1));
    hub.flush(tr.direct, 2, tr);
    expect(tr.publishes).toEqual([]);
    expect(hub.subscriptions).toBe(0);
  });

  it("throttled views: one publish per codec per interval; a subscriber awaiting the view's first tick gets a snap and goes live", () => {
    const hub = newHub();
    const tr = new ModelTransport();
    const early = sub('early', jsonCodec.id);
    expect(tr.subscribe(hub, early, 'quote.A@100ms').kind).toBe('pending');
    hub.publish('quote.A', quote(1));
    hub.flush(tr.direct, 0, tr); // flushes the tick; the view is not due before 100 ms
    hub.flush(tr.direct, 100, tr);
    const m = sub('m', msgpackCodec.id);
    const sse = sub('sse', msgpackCodec.id, false);
    tr.subscribe(hub, m, 'quote.A@100ms');
    tr.subscribe(hub, sse, 'quote.A@100ms');
    for (let i = 2; i <= 5; i++) {
      hub.publish('quote.A', quote(i));
      hub.flush(tr.direct, 100 + i * 20, tr);
    }
    hub.flush(tr.direct, 200, tr);
    expect(tr.publishes.filter((p) => p.name === 'quote.A@100ms')).toEqual([
      { name: 'quote.A@100ms', codec: msgpackCodec.id, subscribers: 1 },
      { name: 'quote.A@100ms', codec: jsonCodec.id, subscribers: 1 },
    ]);
    expect(early.got.map((x) => [x.op, x.seq])).toEqual([
      ['snap', 1],
      ['upd', 5],
    ]);
    for (const s of [m, sse])
      expect(s.got.map((x) => [x.op, x.seq, x.data])).toEqual([
        ['snap', 1, quote(1)],
        ['upd', 5, [quote(5)]],
      ]);
  });

  it('without a TopicDelivery, viaTopic subscribers get every frame one by one', () => {
    const hub = newHub();
    const a = sub('a');
    hub.publish('trade.A', trade(1));
    hub.flush(() => {}, 0);
    const r = hub.subscribe(a, 'trade.A');
    if (r.kind !== 'frames') throw new Error('expected a snap');
    r.frames.forEach((f) => take(a, f));
    hub.publish('trade.A', trade(2));
    hub.flush(take, 1);
    expect(a.got.map((m) => [m.op, m.seq])).toEqual([
      ['snap', 1],
      ['upd', 2],
    ]);
  });

  it('random interleavings with stale subscribers (out of the fan-out, then resync snap and back in) never give a silent gap', () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const hub = newHub(3);
    const tr = new ModelTransport();
    const topics = ['trade.A', 'quote.B', 'trade.C@250ms'];
    const subs: { s: Sub; live: Set<string>; stale: boolean }[] = [];
    const deliver = (s: Sub, f: Uint8Array) => {
      if (!subs.find((x) => x.s === s)!.stale) take(s, f);
    };
    const delivery: TopicDelivery<Sub> = {
      publish: (...a) => tr.publish(...a),
      live: (s, name) => {
        const x = subs.find((y) => y.s === s)!;
        x.live.add(name);
        if (!x.stale) tr.join(s, name);
      },
    };
    let now = 0;
    for (let step = 0; step < 6000; step++) {
      const r = rand();
      const topic = ['trade.A', 'quote.B', 'trade.C'][Math.floor(rand() * 3)] as string;
      if (r < 0.6) hub.publish(topic, topic.startsWith('trade') ? trade(step) : quote(step));
      else if (r < 0.85) hub.flush(deliver, (now += 50), delivery);
      else if (r < 0.9 && subs.length < 12) {
        const x = { s: sub(`s${subs.length}`, Math.floor(rand() * 3), rand() < 0.8), live: new Set<string>(), stale: false };
        subs.push(x);
        for (const t of topics) {
          const res = hub.subscribe(x.s, t);
          if (res.kind === 'frames') {
            res.frames.forEach((f) => take(x.s, f));
            x.live.add(t);
            if (x.s.viaTopic) tr.join(x.s, t);
          }
        }
      } else if (subs.length > 0) {
        const x = subs[Math.floor(rand() * subs.length)]!;
        if (!x.s.viaTopic) continue;
        if (!x.stale) {
          x.stale = true;
          for (const t of x.live) tr.leave(x.s, t);
        } else {
          x.stale = false;
          for (const t of topics) {
            const f = hub.resyncFrame(t, x.s.codec);
            if (f) take(x.s, f);
          }
          for (const t of x.live) tr.join(x.s, t);
        }
      }
    }
    let checked = 0;
    for (const { s } of subs) {
      for (const t of topics) {
        const msgs = s.got.filter((m) => m.topic === t);
        if (!msgs.length) continue;
        expect(msgs[0].op).toBe('snap');
        let next = msgs[0].seq + 1;
        for (const m of msgs.slice(1)) {
          if (m.op === 'snap') {
            expect(m.resync).toBe(true);
            expect(m.seq).toBeGreaterThanOrEqual(next - 1);
            next = m.seq + 1;
            continue;
          }
          expect(m.op).toBe('upd');
          if (t.includes('@'))
            expect(m.seq).toBeGreaterThanOrEqual(next); // a view skips ticks, never goes back
          else expect(m.seq).toBe(next);
          next = m.seq + m.data.length;
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

describe('Hub per-topic delivery with replicas and upstream positions', () => {
  it(
    'a gap in a replica (publishSequenced past the next seq) stops publish to live subscribers until their resync snap, then they ' +
      'are live again',
    () => {
      const hub = newHub();
      const tr = new ModelTransport();
      hub.publishSequenced('trade.A', 1, trade(1));
      hub.flush(tr.direct, 0, tr);
      const s = sub('m1');
      tr.subscribe(hub, s, 'trade.A');
      hub.publishSequenced('trade.A', 2, trade(2));
      hub.flush(tr.direct, 1, tr);
      // seqs 3 and 4 never reach this replica.
      tr.publishes.length = 0;
      hub.publishSequenced('trade.A', 5, trade(5));
      hub.publishSequenced('trade.A', 6, trade(6));
      hub.flush(tr.direct, 2, tr);
      expect(tr.publishes).toEqual([]);
      hub.publishSequenced('trade.A', 7, trade(7));
      hub.flush(tr.direct, 3, tr);
      expect(tr.publishes).toEqual([{ name: 'trade.A', codec: 0, subscribers: 1 }]);
      expect(s.got.map((m) => [m.op, m.seq, m.resync ?? false])).toEqual([
        ['snap', 1, false],
        ['upd', 2, false],
        ['snap', 6, true],
        ['upd', 7, false],
      ]);
    },
  );

  it('a subscriber parked for another instance position is not live until it is served, then takes publish', () => {
    const hub = new Hub<Sub>({
      epoch: 'E1',
      codecs: CODECS,
      maxTicksPerFrame: 1000,
      historyMinWindowMs: 30_000,
      historyBudgetBytes: 1 << 30,
      historyMaxAgeMs: 60_000,
      positionWaitMs: 1000,
    });
    const tr = new ModelTransport();
    const SRC = 'c/t/0';
    for (let i = 1; i <= 3; i++) hub.publish('trade.A', trade(i), SRC, 10 + i);
    hub.flush(tr.direct, 0, tr);
    const s = sub('m1');
    // The client stopped at offset 15, which this instance has not read yet: parked.
    expect(tr.subscribe(hub, s, 'trade.A', { epoch: 'X', seq: 99, src: SRC, off: 15 } as never).kind).toBe('pending');
    hub.publish('trade.A', trade(4), SRC, 14);
    tr.publishes.length = 0;
    hub.flush(tr.direct, 1, tr);
    expect(tr.publishes).toEqual([]);
    hub.publish('trade.A', trade(5), SRC, 15);
    hub.publish('trade.A', trade(6), SRC, 16);
    hub.flush(tr.direct, 2, tr);
    // Served by position: a continuation snap of its own last tick (offset 15), then tick 6.
    hub.publish('trade.A', trade(7), SRC, 17);
    hub.flush(tr.direct, 3, tr);
    expect(s.got.flatMap((m) => (m.op === 'snap' ? [m.data.px] : m.data.map((d: TradeTick) => d.px)))).toEqual([105, 106, 107]);
    expect(s.got[0]).toMatchObject({ op: 'snap', seq: 5, off: 15 });
    expect(tr.publishes.at(-1)).toEqual({ name: 'trade.A', codec: 0, subscribers: 1 });
  });
});
