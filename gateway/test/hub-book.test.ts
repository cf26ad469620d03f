import { decode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Book, bookChecksum, type BookChange, type BookSnapshot, type BookUnits, type Level } from '../../protocol/src/book.js';
import { semanticsOf } from '../../protocol/src/kinds.js';
import { parseTopic } from '../../protocol/src/topics.js';
import { CODECS, inflateFrame, type WireCodec } from '../src/codecs.js';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';

/**
 * Order books in the pure hub (snapshot `fold`, throttle `merge`): random change-set streams, with
 * stale empties and refills, published to `book.X` and flushed at random; clients that apply a
 * snap and then every upd must hold, at every seq, what a client joining at that seq gets.
 */

const UNITS: BookUnits = { tick: 0.5, lot: 0.01 };
const EPOCH = 'E1';
const TOPIC = 'book.X';
const VIEW = 'book.X@100ms';

type Frame = { op: string; topic: string; seq: number; resync?: boolean; data: any };
type Sub = HubSubscriber & { name: string; got: Frame[] };
const sub = (name: string, codec: number): Sub => ({ name, codec, got: [] });
const dec = (codec: WireCodec, f: Uint8Array): Frame =>
  (codec.derive ? decode(inflateFrame(f)) : codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f))) as Frame;
const deliver = (s: Sub, f: Uint8Array): void => void s.got.push(dec(CODECS[s.codec] as WireCodec, f));

const newHub = (historyBudgetBytes = 1 << 30) =>
  new Hub<Sub>({
    epoch: EPOCH,
    codecs: CODECS,
    maxTicksPerFrame: 7,
    historyMinWindowMs: 60_000,
    historyBudgetBytes,
    historyMaxAgeMs: 600_000,
    semantics: (t) => semanticsOf(parseTopic(t)!.kind),
    unitsOf: (symbol) => (symbol === 'X' ? UNITS : { tick: 1, lot: 1 }),
  });

/** A client's copy of the book: what it applied, and the seq of the last frame it applied. */
class Client {
  book = new Book();
  stale = false;
  seq = 0;
  /** Snaps and upd elements whose `cs` did not match the book they lead to. */
  badCs = 0;

  constructor(readonly s: Sub) {}

  /** Applies every frame received since the last call. */
  take(): void {
    for (const f of this.s.got.splice(0)) {
      if (f.op === 'snap') {
        const d = f.data as BookSnapshot;
        expect(d.tick).toBe(UNITS.tick);
        expect(d.lot).toBe(UNITS.lot);
        this.book = new Book();
        this.book.apply(d.bids, d.asks, d.ts);
        this.stale = d.stale === true;
        this.check(d.cs);
        this.seq = f.seq;
      } else {
        expect(f.op).toBe('upd');
        if (this.seq !== 0 || f.seq !== 1) expect(f.seq).toBeGreaterThan(this.seq);
        const plain = !this.s.name.includes('@');
        if (plain) expect(f.seq, `${this.s.name}: consecutive`).toBe(this.seq + 1);
        const cs = f.data as BookChange[];
        if (!plain) expect(cs).toHaveLength(1);
        for (const c of cs) {
          this.book.apply(c.b, c.a, c.ts);
          this.stale = c.stale === true;
          this.check(c.cs);
        }
        this.seq = f.seq + (plain ? cs.length - 1 : 0);
      }
    }
  }

  private check(cs: number): void {
    if (this.book.checksum(UNITS) !== cs) this.badCs++;
  }

  levels(): { bids: Level[]; asks: Level[]; stale: boolean } {
    const s = this.book.snapshot(Infinity, UNITS);
    return { bids: s.bids, asks: s.asks, stale: this.stale };
  }
}

/** The state a snap carries, in the same shape as Client.levels. */
const levelsOf = (d: BookSnapshot) => ({ bids: d.bids, asks: d.asks, stale: d.stale === true });

/** Reference model: the book after each seq, and the change sets the source publishes. */
class Source {
  book = new Book();
  /** states[seq]: the book after change set `seq` (states[0]: empty). */
  readonly states: { bids: Level[]; asks: Level[]; stale: boolean }[] = [{ bids: [], asks: [], stale: false }];
  ts = 1_700_000_000_000;

  /** A change set from levels `[bid?, index, qty]`, or a stale one emptying the book. */
  next(stale: boolean, edits: readonly [boolean, number, number][]): BookChange {
    const b = new Map<number, number>();
    const a = new Map<number, number>();
    if (stale) {
      for (const px of this.book.bids.px) b.set(px, 0);
      for (const px of this.book.asks.px) a.set(px, 0);
    } else {
      for (const [bid, i, q] of edits) (bid ? b : a).set(bid ? 100 - 0.5 * (i + 1) : 100 + 0.5 * i, q * UNITS.lot);
    }
    const bl = [...b].sort((x, y) => y[0] - x[0]);
    const al = [...a].sort((x, y) => x[0] - y[0]);
    this.book.apply(bl, al, ++this.ts);
    const c: BookChange = { ts: this.ts, b: bl, a: al, cs: this.book.checksum(UNITS) };
    if (stale) c.stale = true;
    const s = this.book.snapshot(Infinity, UNITS);
    this.states.push({ bids: s.bids, asks: s.asks, stale });
    return c;
  }
}

const edit = fc.tuple(fc.boolean(), fc.nat(14), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500 })));
const op = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('change' as const), edits: fc.array(edit, { maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const), dt: fc.integer({ min: 0, max: 160 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('join' as const), codec: fc.nat(2), view: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('slow' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('resume' as const), back: fc.nat(40), codec: fc.nat(2) }) },
);

describe('hub: order books (snapshot fold, throttle merge)', () => {
  it('every client applying snap then upd holds, at every seq, what a client joining then gets; views and resyncs too', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
        const hub = newHub();
        const src = new Source();
        // Subscribed before the first change set: the snap comes with the first flush.
        const first = new Client(sub(TOPIC, 0));
        const view = new Client(sub(VIEW, 1));
        const slow = new Client(sub(TOPIC, 2));
        expect(hub.subscribe(first.s, TOPIC).kind).toBe('pending');
        expect(hub.subscribe(view.s, VIEW).kind).toBe('pending');
        let slowJoined = false;
        let conflated = false;
        let now = 0;
        const flushed = () => hub.position(TOPIC).seq;
        /** A client joining now; undefined when its snap is still to come (a view that has sent nothing yet). */
        const joinAt = (name: string, codec: number): Client | undefined => {
          const c = new Client(sub(name, codec));
          const r = hub.subscribe(c.s, name);
          if (r.kind === 'pending' && name === VIEW) return void hub.unsubscribe(c.s, name);
          expect(r.kind).toBe('frames');
          if (r.kind === 'frames') for (const f of r.frames) deliver(c.s, f);
          return c;
        };
        for (const o of ops) {
          switch (o.t) {
            case 'change':
            case 'stale':
              hub.publish(TOPIC, src.next(o.t === 'stale', o.t === 'change' ? o.edits : []));
              if (!slowJoined) {
                // Joins after data exists: its snap comes from subscribe or the first flush.
                slowJoined = true;
                const r = hub.subscribe(slow.s, TOPIC);
                if (r.kind === 'frames') for (const f of r.frames) deliver(slow.s, f);
              }
              break;
            case 'flush':
              now += o.dt;
              hub.flush(deliver, now);
              break;
            case 'join': {
              // A client joining now gets the state at the flushed seq (the view's: at its last seq).
              if (flushed() === 0) break;
              const c = joinAt(o.view ? VIEW : TOPIC, o.codec);
              if (c === undefined) break;
              c.take();
              expect(c.badCs).toBe(0);
              expect(c.levels()).toEqual(src.states[c.seq]);
              if (!o.view) expect(c.seq).toBe(flushed());
              expect(hub.unsubscribe(c.s, o.view ? VIEW : TOPIC)).toBe(true);
              break;
            }
            case 'slow':
              if (!slowJoined || hub.stateOf(slow.s, TOPIC) === undefined) break;
              if (!conflated) conflated = hub.conflate(slow.s, TOPIC);
              else {
                const f = hub.recover(slow.s, TOPIC);
                conflated = false;
                if (f !== undefined) {
                  slow.s.got.length = 0; // what the transport dropped while it was conflated
                  deliver(slow.s, f);
                  expect(slow.s.got[0]?.resync).toBe(true);
                  expect(slow.s.got[0]?.seq).toBe(flushed());
                }
              }
              break;
            case 'resume': {
              // A client that had seq k resumes: the replay applied to the state at k is the state now.
              const k = Math.max(0, flushed() - o.back);
              if (flushed() === 0) break;
              const c = new Client(sub(TOPIC, o.codec));
              const st = src.states[k]!;
              c.book.apply(st.bids, st.asks);
              c.stale = st.stale;
              c.seq = k;
              const r = hub.subscribe(c.s, TOPIC, { epoch: EPOCH, seq: k });
              expect(r).toMatchObject({ kind: 'frames', resync: false });
              if (r.kind === 'frames') for (const f of r.frames) deliver(c.s, f);
              expect(c.s.got.every((f) => f.op === 'upd')).toBe(true);
              c.take();
              expect(c.badCs).toBe(0);
              expect(c.seq).toBe(flushed());
              expect(c.levels()).toEqual(src.states[flushed()]);
              hub.unsubscribe(c.s, TOPIC);
              break;
            }
          }
          // After every step each client holds the state at the seq it reached.
          for (const c of conflated ? [first, view] : [first, view, slow]) {
            c.take();
            expect(c.badCs, c.s.name).toBe(0);
            expect(c.levels(), `${c.s.name} at seq ${c.seq}`).toEqual(src.states[c.seq]);
          }
          if (flushed() > 0) {
            expect(first.seq).toBe(flushed());
            const snap = hub.snapshot(TOPIC);
            expect(snap?.seq).toBe(flushed());
            const d = snap?.data as BookSnapshot;
            expect(levelsOf(d)).toEqual(src.states[flushed()]);
            expect(d.cs).toBe(bookChecksum(d.bids, d.asks, UNITS));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a throttled view sends one merged change set per interval (seq of the last one merged), nothing when nothing changed', () => {
    const hub = newHub();
    const src = new Source();
    hub.publish(TOPIC, src.next(false, [[true, 0, 5]]));
    hub.flush(deliver, 0);
    const v = new Client(sub(VIEW, 1));
    const r = hub.subscribe(v.s, VIEW);
    if (r.kind === 'frames') r.frames.forEach((f) => deliver(v.s, f));
    v.take();
    expect(v.seq).toBe(1);
    // Within one interval: a level added and removed again, another resized twice.
    hub.publish(TOPIC, src.next(false, [[false, 0, 7]]));
    hub.flush(deliver, 10);
    hub.publish(
      TOPIC,
      src.next(false, [
        [true, 0, 9],
        [false, 3, 2],
      ]),
    );
    hub.publish(TOPIC, src.next(false, [[false, 3, 0]]));
    hub.flush(deliver, 50);
    expect(v.s.got).toEqual([]);
    hub.flush(deliver, 100);
    expect(v.s.got).toHaveLength(1);
    expect(v.s.got[0]).toMatchObject({ op: 'upd', seq: 4 });
    expect(v.s.got[0]!.data).toEqual([
      {
        ts: src.ts,
        b: [[99.5, 0.09]],
        a: [
          [100, 0.07],
          [101.5, 0],
        ],
        cs: src.book.checksum(UNITS),
      },
    ]);
    v.take();
    expect(v.levels()).toEqual(src.states[4]);
    // Due again, but nothing flushed since: nothing goes out.
    hub.flush(deliver, 1000);
    expect(v.s.got).toEqual([]);
    // A stale change set last in an interval: the merged one empties the book and says so.
    hub.publish(TOPIC, src.next(false, [[true, 2, 3]]));
    hub.publish(TOPIC, src.next(true, []));
    hub.flush(deliver, 1100);
    expect(v.s.got[0]?.data[0]).toMatchObject({ stale: true, cs: 0 });
    v.take();
    expect(v.levels()).toEqual({ bids: [], asks: [], stale: true });
    expect(hub.snapshot(VIEW)?.data).toMatchObject({ bids: [], asks: [], stale: true, cs: 0 });
  });

  it('a resume outside the history window gets a resync snap of the folded book', () => {
    const hub = newHub(0);
    const src = new Source();
    for (let i = 0; i < 200; i++) hub.publish(TOPIC, src.next(false, [[i % 2 === 0, i % 15, (i % 7) + 1]]));
    hub.flush(deliver, 0);
    const c = new Client(sub(TOPIC, 0));
    const r = hub.subscribe(c.s, TOPIC, { epoch: EPOCH, seq: 1 });
    expect(r).toMatchObject({ kind: 'frames', resync: true });
    if (r.kind === 'frames') r.frames.forEach((f) => deliver(c.s, f));
    c.take();
    expect(c.seq).toBe(200);
    expect(c.levels()).toEqual(src.states[200]);
    expect(c.badCs).toBe(0);
  });

  it('a replica seeded with exportState (pending change sets included) and fed the rest holds the same book', () => {
    const primary = newHub();
    const src = new Source();
    const batch: [number, BookChange][] = [];
    const pub = (c: BookChange) => batch.push([primary.publish(TOPIC, c), c]);
    for (let i = 0; i < 30; i++) pub(src.next(i === 10, [[i % 3 === 0, i % 9, i % 4]]));
    primary.flush(deliver, 0);
    for (let i = 0; i < 5; i++) pub(src.next(false, [[true, i, 1]]));
    const replica = newHub();
    replica.importState(structuredClone(primary.exportState()));
    for (let i = 0; i < 5; i++) pub(src.next(false, [[false, i, 2]]));
    // The replica gets every batch, the ones it imported too (ignored as old).
    for (const [seq, c] of batch) replica.publishSequenced(TOPIC, seq, c);
    replica.flush(deliver, 0);
    const c = new Client(sub(TOPIC, 1));
    const r = replica.subscribe(c.s, TOPIC);
    if (r.kind === 'frames') r.frames.forEach((f) => deliver(c.s, f));
    c.take();
    expect(c.seq).toBe(40);
    expect(c.levels()).toEqual(src.states[40]);
    expect(c.badCs).toBe(0);
  });

  it('a resume from another instance (by upstream position) gets a snap of the book at the newest seq, with its position', () => {
    const SRC = 'c1/books/0';
    const hub = newHub();
    const src = new Source();
    for (let i = 1; i <= 30; i++) hub.publish(TOPIC, src.next(i === 12, [[i % 2 === 0, i % 11, i % 5]]), SRC, 1000 + i);
    hub.flush(deliver, 0);
    const c = new Client(sub(TOPIC, 0));
    const r = hub.subscribe(c.s, TOPIC, { epoch: 'ANOTHER', seq: 77, src: SRC, off: 1020 });
    expect(r).toMatchObject({ kind: 'frames', resync: false });
    if (r.kind === 'frames') r.frames.forEach((f) => deliver(c.s, f));
    expect(c.s.got).toHaveLength(1);
    expect(c.s.got[0]).toMatchObject({ op: 'snap', seq: 30, src: SRC, off: 1030 });
    c.take();
    expect(c.levels()).toEqual(src.states[30]);
    expect(c.badCs).toBe(0);
  });

  it('a replica that missed change sets (a gap) shows the book stale and empty until a stale change set restarts it', () => {
    const hub = newHub();
    const src = new Source();
    hub.publishSequenced(TOPIC, 1, src.next(false, [[true, 0, 1]]));
    src.next(false, [[true, 1, 1]]); // seq 2 never arrives
    hub.publishSequenced(TOPIC, 3, src.next(false, [[false, 1, 1]]));
    hub.flush(deliver, 0);
    expect(hub.snapshot(TOPIC)?.data).toMatchObject({ bids: [], asks: [], cs: 0, stale: true });
    hub.publishSequenced(TOPIC, 4, src.next(false, [[false, 2, 1]]));
    hub.flush(deliver, 1);
    expect(hub.snapshot(TOPIC)?.data).toMatchObject({ bids: [], asks: [], stale: true });
    hub.publishSequenced(TOPIC, 5, src.next(true, []));
    hub.publishSequenced(
      TOPIC,
      6,
      src.next(false, [
        [true, 3, 4],
        [false, 0, 2],
      ]),
    );
    hub.flush(deliver, 2);
    expect(levelsOf(hub.snapshot(TOPIC)?.data as BookSnapshot)).toEqual(src.states[6]);
  });
});
