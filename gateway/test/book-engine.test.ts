import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  Book,
  bookChecksum,
  DEFAULT_BOOK_UNITS,
  windowDiff,
  type BookChange,
  type BookUnits,
  type Level,
} from '../../protocol/src/book.js';
import type { BookRecord } from '../../protocol/src/book-record.js';
import { REJECT_REASONS, type RejectReason } from '../../protocol/src/validate.js';
import type { Payload } from '../../protocol/src/ticks.js';
import { BookEngine } from '../src/books/engine.js';
import { sidesChecksum, TopChecksum } from '../src/books/checksum.js';
import { SideChanges, sizeAt, Touched, windowChanges, windowEdge } from '../src/books/window.js';
import type { TickSink } from '../src/sources/source.js';

const UNITS: BookUnits = { tick: 0.5, lot: 1 };
const VIEWS = [10, 25, 100];

interface Published {
  topic: string;
  tick: Payload;
  src?: string;
  off?: number;
}

function setup(maxDepth: number) {
  const out: Published[] = [];
  const resets: string[][] = [];
  const sink: TickSink = {
    publish: (topic, tick, src, off) => void out.push({ topic, tick, src, off }),
    upstreamReset: (topics) => void resets.push([...topics]),
  };
  const stats = { rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number> };
  const engine = new BookEngine(sink, {
    maxDepth,
    units: (s) => (s === 'X' ? UNITS : undefined),
    stats,
    log: pino({ level: 'silent' }),
    now: () => 1_700_000_000_000,
  });
  return { engine, out, resets, stats };
}

const TS = 1_700_000_000_000;
const snap = (bids: Level[], asks: Level[], u?: number): BookRecord =>
  u === undefined ? { type: 'snapshot', ts: TS, bids, asks } : { type: 'snapshot', ts: TS, bids, asks, u };
const delta = (changes: ['b' | 'a', number, number][], u?: number, pu?: number): BookRecord => {
  const d: BookRecord = { type: 'delta', ts: TS, changes };
  if (u !== undefined) d.u = u;
  if (pu !== undefined) d.pu = pu;
  return d;
};
/** n levels per side around 100, one tick (0.5) apart, sizes 1..n. */
const ladder = (n: number): [Level[], Level[]] => [
  Array.from({ length: n }, (_, i) => [99.5 - i / 2, i + 1] as Level),
  Array.from({ length: n }, (_, i) => [100 + i / 2, i + 1] as Level),
];
const changeOf = (p: Published) => p.tick as BookChange;
const topicsOf = (out: Published[]) => out.map((p) => p.topic);

describe('book engine: the simple definition (property)', () => {
  /** Random streams on a small price grid so levels collide, cross, enter and leave windows. */
  const change = fc.record({
    side: fc.constantFrom<'b' | 'a'>('b', 'a'),
    ticks: fc.integer({ min: -3, max: 130 }), // distance from 100 in ticks; negative crosses
    qty: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 })),
  });
  const op = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('snap' as const), nb: fc.nat(140), na: fc.nat(140), gap: fc.integer({ min: 1, max: 4 }) }),
    },
    {
      weight: 12,
      arbitrary: fc.record({
        k: fc.constant('delta' as const),
        changes: fc.array(change, { minLength: 1, maxLength: 8 }),
        seq: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'none', 'bad'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('rejected' as const) }) },
  );

  it('each topic gets exactly the window diff of before/after; clients applying it hold the top N; cs verifies', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(30, 120, 1000),
        fc.constantFrom('X', 'Y'),
        fc.array(op, { minLength: 1, maxLength: 60 }),
        (maxDepth, sym, ops) => {
          const { engine, out } = setup(maxDepth);
          const units = sym === 'X' ? UNITS : DEFAULT_BOOK_UNITS;
          const topics = [`book.${sym}`, ...VIEWS.map((d) => `book.${sym}:${d}`)];
          const depths = [maxDepth, ...VIEWS.map((d) => Math.min(d, maxDepth))];
          const clients = topics.map(() => new Book());
          let u = 0;
          for (const o of ops) {
            const before = engine.book(sym)?.clone() ?? new Book();
            out.length = 0;
            if (o.k === 'snap') {
              // Levels `gap` ticks apart, so they differ from the deltas' grid some of the time.
              const bids = Array.from({ length: o.nb }, (_, i) => [99.5 - (i * o.gap) / 2, (i % 9) + 1] as Level);
              const asks = Array.from({ length: o.na }, (_, i) => [100 + (i * o.gap) / 2, (i % 7) + 1] as Level);
              engine.publish(`book.${sym}`, snap(bids, asks, ++u), 's', u);
            } else if (o.k === 'delta') {
              const cs = o.changes.map(
                (c) => [c.side, c.side === 'b' ? 99.5 - c.ticks / 2 : 100 + c.ticks / 2, c.qty] as ['b' | 'a', number, number],
              );
              const pu = o.seq === 'ok' ? u : o.seq === 'bad' ? u + 7 : undefined;
              engine.publish(`book.${sym}`, delta(cs, o.seq === 'none' ? undefined : u + 1, pu), 's', ++u);
            } else engine.rejected(`book.${sym}`, 'book_negative_size');
            const after = engine.book(sym) ?? new Book();
            for (let i = 0; i < topics.length; i++) {
              const d = depths[i] as number;
              const got = out.filter((p) => p.topic === topics[i]);
              expect(got.length).toBeLessThanOrEqual(1);
              const expB = windowDiff(before.bids.levels(d), after.bids.levels(d), true);
              const expA = windowDiff(before.asks.levels(d), after.asks.levels(d), false);
              if (got.length === 0) {
                expect([expB, expA]).toEqual([[], []]);
                continue;
              }
              const c = changeOf(got[0] as Published);
              expect(c.b).toEqual(expB);
              expect(c.a).toEqual(expA);
              const client = clients[i] as Book;
              client.apply(c.b, c.a, c.ts);
              expect(client.bids.levels(Infinity)).toEqual(after.bids.levels(d));
              expect(client.asks.levels(Infinity)).toEqual(after.asks.levels(d));
              expect(c.cs).toBe(bookChecksum(client.bids.levels(10), client.asks.levels(10), units));
              if (c.stale) expect([engine.book(sym), client.depth]).toEqual([undefined, 0]);
            }
            expect(after.bids.px.length).toBeLessThanOrEqual(maxDepth);
            expect(after.crossed()).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('windowChanges equals windowDiff of the top N for random books and change sets', () => {
    const level = fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 5 }));
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(level, { maxLength: 60 }),
        fc.array(level, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 40 }),
        (bid, init, changes, depth) => {
          const book = new Book();
          const side = bid ? book.bids : book.asks;
          for (const [p, q] of init) side.set(p, q);
          const beforeTop = side.levels(depth);
          const bound = windowEdge(side, depth);
          const t = new Touched();
          for (const [p, q] of changes) {
            t.add(p, sizeAt(side, p), q);
            side.set(p, q);
          }
          expect(windowChanges(side, depth, bound, new SideChanges().build(t, bid))).toEqual(
            windowDiff(beforeTop, side.levels(depth), bid),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("windowChanges (every window derived from the side's whole diff)", () => {
  it('equals windowDiff of the top N, window by window, over random sequences of change sets', () => {
    // Few prices, so change sets insert above, remove at and move across the boundaries often.
    const level = fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 4 }));
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(level, { maxLength: 50 }),
        // Up to 40 changes per change set, so they insert and remove across several boundaries at once.
        fc.array(fc.array(level, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 12 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 45 }), { minLength: 1, maxLength: 4 }),
        (bid, init, changeSets, depths) => {
          const side = bid ? new Book().bids : new Book().asks;
          for (const [p, q] of init) side.set(p, q);
          const deepestFirst = [...depths].sort((x, y) => y - x);
          const t = new Touched();
          const f = new SideChanges();
          for (const changes of changeSets) {
            const before = deepestFirst.map((d) => ({ top: side.levels(d), bound: windowEdge(side, d) }));
            t.clear();
            for (const [p, q] of changes) {
              t.add(p, sizeAt(side, p), q);
              side.set(p, q);
            }
            f.build(t, bid);
            deepestFirst.forEach((d, i) => {
              const { top, bound } = before[i] as { top: Level[]; bound: number };
              const derived = windowChanges(side, d, bound, f);
              expect(derived).toEqual(windowDiff(top, side.levels(d), bid));
            });
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('sorts a long change set (more than 24 prices) as a short one', () => {
    const changes = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 3 })), {
      minLength: 25,
      maxLength: 60,
      selector: (l) => l[0],
    });
    fc.assert(
      fc.property(fc.boolean(), changes, (bid, cs) => {
        const side = bid ? new Book().bids : new Book().asks;
        const t = new Touched();
        for (const [p, q] of cs) t.add(p, 0, q);
        const f = new SideChanges().build(t, bid);
        const want = cs.filter(([, q]) => q !== 0).map(([p]) => p);
        want.sort((x, y) => (bid ? y - x : x - y));
        expect(Array.from(f.px.subarray(0, f.size))).toEqual(want);
        for (const [p, q] of cs) side.set(p, q);
        expect(windowChanges(side, 10, bid ? -Infinity : Infinity, f)).toEqual(side.levels(10));
      }),
      { numRuns: 200 },
    );
  });

  it('lists only real changes: a price set to the size it had is none', () => {
    const side = new Book().bids;
    side.set(10, 1);
    side.set(9, 2);
    const t = new Touched();
    t.add(10, 1, 3);
    t.add(10, 1, 1);
    t.add(8, 0, 0);
    side.set(8, 0);
    expect(new SideChanges().build(t, true).size).toBe(0);
    expect(windowChanges(side, 1, 10, new SideChanges().build(t, true))).toEqual([]);
  });
});

describe('sidesChecksum', () => {
  it('equals bookChecksum (the definition) for random books and units, huge integers included', () => {
    const side = fc.array(fc.tuple(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 1e6 })), { maxLength: 14 });
    const units = fc.constantFrom(UNITS, DEFAULT_BOOK_UNITS, { tick: 0.01, lot: 0.00001 }, { tick: 1e-12, lot: 1e-12 });
    fc.assert(
      fc.property(side, side, units, (bl, al, u) => {
        const book = new Book();
        for (const [p, q] of bl) book.bids.set(p / 100, q / 1000);
        for (const [p, q] of al) book.asks.set(p / 100, q / 1000);
        expect(sidesChecksum(book.bids, book.asks, u)).toBe(bookChecksum(book.bids.levels(10), book.asks.levels(10), u));
      }),
      { numRuns: 500 },
    );
  });
});

describe('TopChecksum', () => {
  it('equals sidesChecksum after every change set, with and without the caller vouching for an unchanged side', () => {
    const change = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 }), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 })));
    const units = fc.constantFrom(UNITS, DEFAULT_BOOK_UNITS, { tick: 0.01, lot: 0.00001 }, { tick: 1e-12, lot: 1e-12 });
    fc.assert(
      fc.property(fc.array(fc.array(change, { maxLength: 6 }), { minLength: 1, maxLength: 40 }), units, (sets, u) => {
        const book = new Book();
        const cs = new TopChecksum();
        for (const set of sets) {
          const top = (bid: boolean) => (bid ? book.bids : book.asks).levels(10);
          const [b0, a0] = [top(true), top(false)];
          // Prices on either side of 1000 (never crossed), huge sizes now and then.
          for (const [bid, k, q] of set) (bid ? book.bids : book.asks).set(bid ? 999 - k : 1001 + k, q === 4 ? 1e9 + k : q);
          const bSame = JSON.stringify(top(true)) === JSON.stringify(b0);
          const aSame = JSON.stringify(top(false)) === JSON.stringify(a0);
          expect(cs.update(book.bids, book.asks, u, bSame, aSame)).toBe(bookChecksum(top(true), top(false), u));
        }
        cs.reset();
        expect(cs.update(book.bids, book.asks, u)).toBe(sidesChecksum(book.bids, book.asks, u));
      }),
      { numRuns: 500 },
    );
  });
});

describe('book engine', () => {
  it('passes other kinds through untouched, with their position', () => {
    const { engine, out } = setup(1000);
    const tick = { ts: TS, px: 1, qty: 1, side: 'b' };
    engine.publish('trade.BTC-USD', tick, 'c/t/0', 5);
    expect(out).toEqual([{ topic: 'trade.BTC-USD', tick, src: 'c/t/0', off: 5 }]);
    expect(out[0]?.tick).toBe(tick);
  });

  it('passes change sets a source publishes itself (no record type) through untouched, on any book topic', () => {
    const { engine, out, stats } = setup(1000);
    const change: BookChange = { ts: TS, b: [[1, 1]], a: [], cs: 5 };
    engine.publish('book.X:10', change, 's', 1);
    engine.publish('book.X', change, 's', 2);
    expect(out).toEqual([
      { topic: 'book.X:10', tick: change, src: 's', off: 1 },
      { topic: 'book.X', tick: change, src: 's', off: 2 },
    ]);
    expect(Object.values(stats.rejected).every((n) => n === 0)).toBe(true);
  });

  it('a first snapshot fills all four topics at their depths, best first, with its position and cs in the symbol units', () => {
    const { engine, out } = setup(1000);
    const [bids, asks] = ladder(30);
    engine.publish('book.X', snap([...bids].reverse(), asks), 'c/t/0', 7);
    expect(topicsOf(out)).toEqual(['book.X', 'book.X:10', 'book.X:25', 'book.X:100']);
    for (const p of out) expect([p.src, p.off]).toEqual(['c/t/0', 7]);
    expect(changeOf(out[1] as Published).b).toEqual(bids.slice(0, 10));
    expect(changeOf(out[2] as Published).a).toEqual(asks.slice(0, 25));
    expect(changeOf(out[0] as Published).b).toEqual(bids);
    const cs = bookChecksum(bids.slice(0, 10), asks.slice(0, 10), UNITS);
    expect(out.map((p) => changeOf(p).cs)).toEqual([cs, cs, cs, cs]);
    expect(cs).not.toBe(bookChecksum(bids.slice(0, 10), asks.slice(0, 10), DEFAULT_BOOK_UNITS));
  });

  it('a delta deep in the book goes to the full topic and the windows it falls in only', () => {
    const { engine, out } = setup(1000);
    engine.publish('book.X', snap(...ladder(200)));
    out.length = 0;
    engine.publish('book.X', delta([['b', 99.5 - 50 / 2, 42]]));
    expect(topicsOf(out)).toEqual(['book.X', 'book.X:100']);
    expect(changeOf(out[0] as Published).b).toEqual([[74.5, 42]]);
    out.length = 0;
    // Removing the best bid shifts every window: level 11, 26 and 101 enter theirs.
    engine.publish('book.X', delta([['b', 99.5, 0]]));
    expect(out.map((p) => [p.topic, changeOf(p).b])).toEqual([
      ['book.X', [[99.5, 0]]],
      [
        'book.X:10',
        [
          [99.5, 0],
          [94.5, 11],
        ],
      ],
      [
        'book.X:25',
        [
          [99.5, 0],
          [87, 26],
        ],
      ],
      [
        'book.X:100',
        [
          [99.5, 0],
          [49.5, 101],
        ],
      ],
    ]);
  });

  it('a level pushed beyond bookMaxDepth is removed explicitly on the full topic', () => {
    const { engine, out } = setup(12);
    engine.publish('book.X', snap(...ladder(12)));
    out.length = 0;
    engine.publish('book.X', delta([['a', 99.75, 3]]));
    const full = changeOf(out[0] as Published);
    expect(full.a).toEqual([
      [99.75, 3],
      [105.5, 0],
    ]);
    expect(engine.book('X')?.asks.px.length).toBe(12);
  });

  it('a delta before any snapshot is ignored and counted as book_no_snapshot', () => {
    const { engine, out, stats } = setup(1000);
    engine.publish('book.X', delta([['b', 99, 1]], 1));
    expect(out).toEqual([]);
    expect(stats.rejected.book_no_snapshot).toBe(1);
  });

  it('pu not following u: book_sequence, a stale change set empties all four topics, deltas wait for a refilling snapshot', () => {
    const { engine, out, stats } = setup(1000);
    const [bids, asks] = ladder(30);
    engine.publish('book.X', snap(bids, asks, 10), 's', 1);
    engine.publish('book.X', delta([['b', 99.5, 5]], 11, 10), 's', 2);
    out.length = 0;
    engine.publish('book.X', delta([['b', 99.5, 6]], 13, 12), 's', 3);
    expect(stats.rejected.book_sequence).toBe(1);
    expect(topicsOf(out)).toEqual(['book.X', 'book.X:10', 'book.X:25', 'book.X:100']);
    for (const p of out) {
      const c = changeOf(p);
      expect(c.stale).toBe(true);
      expect(c.cs).toBe(0);
      expect([p.src, p.off]).toEqual(['s', 3]);
    }
    const top10 = changeOf(out[1] as Published);
    expect(top10.b).toEqual([[99.5, 0], ...bids.slice(1, 10).map(([p]) => [p, 0])]);
    expect(top10.a).toEqual(asks.slice(0, 10).map(([p]) => [p, 0]));
    expect(changeOf(out[0] as Published).b).toHaveLength(30);
    expect(engine.book('X')).toBeUndefined();
    out.length = 0;
    engine.publish('book.X', delta([['b', 99.5, 7]], 14, 13), 's', 4);
    expect(out).toEqual([]);
    expect(stats.rejected.book_no_snapshot).toBe(1);
    engine.publish('book.X', snap(bids.slice(0, 3), asks.slice(0, 3), 20), 's', 5);
    expect(topicsOf(out)).toEqual(['book.X', 'book.X:10', 'book.X:25', 'book.X:100']);
    for (const p of out) {
      expect(changeOf(p).stale).toBeUndefined();
      expect(changeOf(p).b).toEqual(bids.slice(0, 3));
    }
    out.length = 0;
    engine.publish('book.X', delta([['a', 100, 9]], 21, 20), 's', 6);
    expect(changeOf(out[0] as Published).a).toEqual([[100, 9]]);
  });

  it('a crossing delta is not applied: book_crossed, and the stale change set removes the levels held before it', () => {
    const { engine, out, stats } = setup(1000);
    const [bids, asks] = ladder(3);
    engine.publish('book.X', snap(bids, asks));
    out.length = 0;
    engine.publish('book.X', delta([['b', 100, 1]]));
    expect(stats.rejected.book_crossed).toBe(1);
    expect(changeOf(out[0] as Published)).toEqual({
      ts: TS,
      b: bids.map(([p]) => [p, 0]),
      a: asks.map(([p]) => [p, 0]),
      cs: 0,
      stale: true,
    });
  });

  it('a crossed snapshot is rejected as book_crossed', () => {
    const { engine, out, stats } = setup(1000);
    engine.publish('book.X', snap([[101, 1]], [[100, 1]]));
    expect(stats.rejected.book_crossed).toBe(1);
    expect(out.every((p) => changeOf(p).stale === true)).toBe(true);
    expect(engine.book('X')).toBeUndefined();
  });

  it('a record the source rejected makes its book stale once; keys of views do not', () => {
    const { engine, out } = setup(1000);
    engine.publish('book.X', snap(...ladder(2)));
    out.length = 0;
    engine.rejected('book.X:10', 'bad_key');
    expect(out).toEqual([]);
    engine.rejected('book.X', 'book_unknown_side', 's', 9);
    engine.rejected('book.X', 'book_negative_size', 's', 10);
    expect(out).toHaveLength(4);
    expect(out.every((p) => changeOf(p).stale === true && p.off === 9)).toBe(true);
  });

  it('an upstream reset of book.X makes it stale and resets all four topics', () => {
    const { engine, out, resets } = setup(1000);
    engine.publish('book.X', snap(...ladder(2)));
    out.length = 0;
    engine.upstreamReset?.(['trade.X', 'book.X']);
    expect(out.every((p) => changeOf(p).stale === true)).toBe(true);
    expect(out).toHaveLength(4);
    expect(resets).toEqual([['trade.X', 'book.X', 'book.X:10', 'book.X:25', 'book.X:100']]);
  });
});
