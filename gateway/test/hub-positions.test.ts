import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber, type ResumePoint } from '../src/hub/hub.js';
import { CODECS, inflateCompactFrame, inflateFrame, type WireCodec } from '../src/codecs.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { referenceExpand } from '../../protocol/test/support/compact-reference.js';

/**
 * Upstream positions (src/off) and resume on another instance: two hubs with different epochs
 * fed the same Kafka-like stream stand for two gateway instances.
 */
type Sub = HubSubscriber & { got: any[] };
const sub = (codec = 0): Sub => ({ codec, got: [] });
const dec = (codec: WireCodec, f: Uint8Array): unknown => {
  if (codec.name === 'msgpack-compact') return referenceExpand(decode(f));
  if (codec.name === 'msgpack-compact+deflate') return referenceExpand(decode(inflateCompactFrame(f)));
  return codec.derive ? decode(inflateFrame(f)) : codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f));
};
const deliver = (s: Sub, f: Uint8Array) => s.got.push(dec(CODECS[s.codec] as WireCodec, f));
const take = (s: Sub, r: ReturnType<Hub<Sub>['subscribe']>) => {
  if (r.kind === 'frames') for (const f of r.frames) deliver(s, f);
  return r.kind;
};
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
const SRC = 'cluster-1/ticks/0';
const T = 'trade.A';
// historyBudgetBytes 0 keeps only each topic's chunk being written (the newest 16 ticks at most).
const newHub = (epoch: string, historyBudgetBytes = 1 << 30, positionWaitMs = 1000, maxTicksPerFrame = 1000) =>
  new Hub<Sub>({
    epoch,
    codecs: CODECS,
    maxTicksPerFrame,
    historyMinWindowMs: 30_000,
    historyBudgetBytes,
    historyMaxAgeMs: 60_000,
    positionWaitMs,
  });

/** The partition: this topic's record i sits at offset 3*i+7 (other topics' records in between). */
const offsetOf = (i: number) => 3 * i + 7;
const feed = (hub: Hub<Sub>, from: number, to: number, src = SRC) => {
  for (let i = from; i <= to; i++) hub.publish(T, trade(i), src, offsetOf(i));
};
/** The ticks a subscriber got, in order, from a continuation or plain snap and upd frames. */
const ticksOf = (msgs: any[]) => msgs.flatMap((m) => (m.op === 'snap' ? [m.data] : m.data));

describe('Hub upstream positions', () => {
  it('snap and upd frames carry the upstream position of their last tick, in every codec', () => {
    for (const codec of CODECS) {
      const hub = newHub('E1', undefined, 1000, 2);
      feed(hub, 1, 3);
      hub.flush(() => {}, 0);
      const s = sub(codec.id);
      take(s, hub.subscribe(s, T));
      feed(hub, 4, 8);
      hub.flush(deliver, 1);
      expect(s.got[0]).toEqual({ op: 'snap', topic: T, seq: 3, epoch: 'E1', data: trade(3), src: SRC, off: offsetOf(3) });
      // maxTicksPerFrame 2: three frames, each with the offset of its own last tick.
      expect(s.got.slice(1).map((m) => [m.seq, m.data.length, m.off])).toEqual([
        [4, 2, offsetOf(5)],
        [6, 2, offsetOf(7)],
        [8, 1, offsetOf(8)],
      ]);
    }
  });

  it('a same-epoch resume is unchanged: upd frames only, positions included', () => {
    const hub = newHub('E1');
    feed(hub, 1, 10);
    hub.flush(() => {}, 0);
    const s = sub();
    take(s, hub.subscribe(s, T, { epoch: 'E1', seq: 6, src: SRC, off: offsetOf(6) }));
    expect(s.got).toEqual([{ op: 'upd', topic: T, seq: 7, data: [7, 8, 9, 10].map(trade), off: offsetOf(10) }]);
    expect(hub.stats).toMatchObject({ resumes: 1, crossResumes: 0, resyncs: 0 });
  });

  it(
    'resumes a position of another instance from every point of its history: its own tick renumbered, then exactly the ticks after ' + 'it',
    () => {
      // A read the partition from tick 1; B started later (warm start from tick 20) and is ahead.
      const a = newHub('EA');
      const b = newHub('EB');
      feed(a, 1, 60);
      a.flush(() => {}, 0);
      feed(b, 20, 90);
      b.flush(() => {}, 0);
      for (let last = 20; last <= 60; last++) {
        const c = sub(last % 3);
        const since: ResumePoint = { epoch: 'EA', seq: last, src: SRC, off: offsetOf(last) };
        take(c, b.subscribe(c, T, since));
        const [snap, ...upds] = c.got;
        // B's numbering: tick 20 is its seq 1.
        expect(snap).toEqual({ op: 'snap', topic: T, seq: last - 19, epoch: 'EB', data: trade(last), src: SRC, off: offsetOf(last) });
        expect(snap.resync).toBeUndefined();
        let next = snap.seq + 1;
        for (const u of upds) {
          expect(u.seq).toBe(next);
          next += u.data.length;
        }
        expect(ticksOf(c.got)).toEqual(Array.from({ length: 90 - last + 1 }, (_, k) => trade(last + k)));
      }
      expect(b.stats).toMatchObject({ resumes: 41, crossResumes: 41, resyncs: 0 });
    },
  );

  it('falls back to a flagged resync when the position cannot be found or trusted', () => {
    const b = newHub('EB', 0);
    feed(b, 1, 100);
    b.flush(() => {}, 0);
    const cases: ResumePoint[] = [
      { epoch: 'EA', seq: 5, src: SRC, off: offsetOf(50) }, // older than B's history (the newest 16 ticks at most)
      { epoch: 'EA', seq: 5, src: SRC, off: offsetOf(90) + 1 }, // an offset that is not this topic's
      { epoch: 'EA', seq: 5, src: 'cluster-2/ticks/0', off: offsetOf(90) }, // another upstream
      { epoch: 'EA', seq: 90 }, // no position
    ];
    for (const since of cases) {
      const c = sub();
      take(c, b.subscribe(c, T, since));
      expect(c.got).toEqual([
        { op: 'snap', topic: T, seq: 100, epoch: 'EB', data: trade(100), resync: true, src: SRC, off: offsetOf(100) },
      ]);
    }
    expect(b.stats).toMatchObject({ crossResumes: 0, resyncs: 4 });
  });

  it('offers no positions for a topic fed from two upstream streams or without positions, and never resumes it elsewhere', () => {
    for (const mix of [(h: Hub<Sub>) => h.publish(T, trade(11)), (h: Hub<Sub>) => h.publish(T, trade(11), 'cluster-1/ticks/1', 5)]) {
      const b = newHub('EB');
      feed(b, 1, 10);
      mix(b);
      feed(b, 12, 14);
      b.flush(() => {}, 0);
      const live = sub();
      take(live, b.subscribe(live, T));
      feed(b, 15, 15);
      b.flush(deliver, 1);
      expect(live.got.map((m) => [m.op, m.src, m.off])).toEqual([
        ['snap', undefined, undefined],
        ['upd', undefined, undefined],
      ]);
      const c = sub();
      take(c, b.subscribe(c, T, { epoch: 'EA', seq: 3, src: SRC, off: offsetOf(12) }));
      expect(c.got).toEqual([{ op: 'snap', topic: T, seq: 15, epoch: 'EB', data: trade(15), resync: true }]);
    }
  });

  it('waits for a position it has not reached yet, then continues from it without a gap', () => {
    const b = newHub('EB');
    feed(b, 1, 10);
    b.flush(() => {}, 0);
    const c = sub();
    expect(take(c, b.subscribe(c, T, { epoch: 'EA', seq: 40, src: SRC, off: offsetOf(13) }))).toBe('pending');
    feed(b, 11, 12);
    b.flush(deliver, 10);
    expect(c.got).toEqual([]); // still behind the client: nothing, not even the live upd
    feed(b, 13, 15);
    b.flush(deliver, 20);
    expect(c.got[0]).toEqual({ op: 'snap', topic: T, seq: 13, epoch: 'EB', data: trade(13), src: SRC, off: offsetOf(13) });
    feed(b, 16, 16);
    b.flush(deliver, 30);
    expect(ticksOf(c.got)).toEqual([13, 14, 15, 16].map(trade));
    expect(c.got.slice(1).map((m) => m.seq)).toEqual([14, 16]);
    expect(b.stats).toMatchObject({ crossResumes: 1, resyncs: 0 });
  });

  it('waits on a topic that has no tick yet, and continues once the position arrives', () => {
    const b = newHub('EB');
    const c = sub();
    expect(take(c, b.subscribe(c, T, { epoch: 'EA', seq: 2, src: SRC, off: offsetOf(2) }))).toBe('pending');
    feed(b, 1, 4);
    b.flush(deliver, 5);
    expect(c.got).toEqual([
      { op: 'snap', topic: T, seq: 2, epoch: 'EB', data: trade(2), src: SRC, off: offsetOf(2) },
      { op: 'upd', topic: T, seq: 3, data: [trade(3), trade(4)], off: offsetOf(4) },
    ]);
  });

  it('gives up waiting after positionWaitMs with a flagged resync (or a flagged first snap when the topic has no data)', () => {
    const b = newHub('EB', undefined, 1000);
    feed(b, 1, 10);
    b.flush(() => {}, 0);
    const c = sub();
    take(c, b.subscribe(c, T, { epoch: 'EA', seq: 1, src: SRC, off: offsetOf(50) }));
    b.flush(deliver, 999);
    expect(c.got).toEqual([]);
    b.flush(deliver, 1000); // no new tick needed: deadlines are checked on every flush
    expect(c.got).toEqual([{ op: 'snap', topic: T, seq: 10, epoch: 'EB', data: trade(10), resync: true, src: SRC, off: offsetOf(10) }]);

    const empty = newHub('EC', undefined, 1000);
    const d = sub();
    take(d, empty.subscribe(d, 'trade.B', { epoch: 'EA', seq: 1, src: SRC, off: 5 }));
    empty.flush(deliver, 2000);
    expect(d.got).toEqual([]);
    empty.publish('trade.B', trade(1), SRC, 3);
    empty.flush(deliver, 2001);
    expect(d.got).toEqual([{ op: 'snap', topic: 'trade.B', seq: 1, epoch: 'EC', data: trade(1), resync: true, src: SRC, off: 3 }]);
  });

  it('an unsubscribe while waiting delivers nothing later', () => {
    const b = newHub('EB');
    feed(b, 1, 3);
    b.flush(() => {}, 0);
    const c = sub();
    take(c, b.subscribe(c, T, { epoch: 'EA', seq: 1, src: SRC, off: offsetOf(5) }));
    expect(b.unsubscribe(c, T)).toBe(true);
    feed(b, 4, 6);
    b.flush(deliver, 10);
    b.flush(deliver, 5000);
    expect(c.got).toEqual([]);
    expect(b.subscriptions).toBe(0);
  });
});

describe('Hub upstream positions on worker replicas', () => {
  it('a replica started from exportState serves a cross-instance resume exactly as its primary would', () => {
    const primary = newHub('E1');
    const replica = newHub('E1');
    feed(primary, 1, 10);
    primary.flush(() => {}, 0);
    replica.importState(primary.exportState());
    // Later ticks reach the replica already sequenced, with their positions.
    for (let i = 11; i <= 12; i++) replica.publishSequenced(T, primary.publish(T, trade(i), SRC, offsetOf(i)), trade(i), SRC, offsetOf(i));
    replica.flush(() => {}, 1);
    const s = sub();
    // A client of another instance (epoch X) that last saw tick 8.
    take(s, replica.subscribe(s, T, { epoch: 'X', seq: 40, src: SRC, off: offsetOf(8) }));
    expect(s.got[0]).toMatchObject({ op: 'snap', seq: 8, epoch: 'E1', src: SRC, off: offsetOf(8) });
    expect(s.got[0].resync).toBeUndefined();
    expect(ticksOf(s.got)).toEqual([8, 9, 10, 11, 12].map(trade));
    expect(replica.stats).toMatchObject({ crossResumes: 1, resyncs: 0 });
  });

  it('a replica cannot resume by position across a gap in what it received', () => {
    const replica = newHub('E1');
    for (let i = 1; i <= 5; i++) replica.publishSequenced(T, i, trade(i), SRC, offsetOf(i));
    // seqs 6 and 7 never arrived.
    for (let i = 8; i <= 10; i++) replica.publishSequenced(T, i, trade(i), SRC, offsetOf(i));
    replica.flush(() => {}, 1);
    const s = sub();
    take(s, replica.subscribe(s, T, { epoch: 'X', seq: 3, src: SRC, off: offsetOf(4) }));
    expect(s.got).toHaveLength(1);
    expect(s.got[0]).toMatchObject({ op: 'snap', resync: true, seq: 10 });
  });
});
