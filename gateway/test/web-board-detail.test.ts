import { describe, expect, it } from 'vitest';
import { Book, bookChecksum, windowDiff, type BookChange, type BookUnits, type Level } from '../../protocol/src/book.js';
import { LocalBook } from '../../web/book-feed.js';
import type { Candle, Stats } from '../../client/ts/src/index.js';
import { changeCells, isStats } from '../../web/board-rows.js';
import { CandleSeries, isCandle } from '../../web/candles.js';
import { depthGeometry } from '../../web/depth-chart.js';
import { ladderModel } from '../../web/ladder.js';

/** The board's detail panel, its pure parts: the verified local book, the ladder, the depth chart, candles, 24 h change. */

const UNITS: BookUnits = { tick: 0.01, lot: 0.001 };
const DEPTH = 25;

/** A deterministic pseudo-random sequence (LCG), so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** What a gateway sends for a depth-limited view: change sets computed from a full book, each with the checksum of the view after it. */
function gatewayView(seed: number) {
  const r = rng(seed);
  const full = new Book();
  const px = (x: number) => Math.round(x * 100) / 100;
  const qty = () => Math.round(r() * 5000 + 1) / 1000;
  for (let i = 1; i <= 60; i++) full.apply([[px(100 - i * 0.05), qty()]], [[px(100 + i * 0.05), qty()]]);
  const view = () => ({ b: full.bids.levels(DEPTH), a: full.asks.levels(DEPTH) });
  const cs = (v: { b: Level[]; a: Level[] }) => bookChecksum(v.b, v.a, UNITS);
  const v0 = view();
  return {
    snapshot: { ts: 1, bids: v0.b, asks: v0.a, cs: cs(v0), ...UNITS },
    view,
    next(ts: number): BookChange {
      const before = view();
      const bid = r() < 0.5;
      const level: Level = [px(bid ? 100 - Math.ceil(r() * 40) * 0.05 : 100 + Math.ceil(r() * 40) * 0.05), r() < 0.3 ? 0 : qty()];
      full.apply(bid ? [level] : [], bid ? [] : [level], ts);
      const after = view();
      return { ts, b: windowDiff(before.b, after.b, true), a: windowDiff(before.a, after.a, false), cs: cs(after) };
    },
  };
}

describe('board detail: the local book', () => {
  it('holds exactly the view the gateway holds after every change set, every checksum verified', () => {
    const gw = gatewayView(7);
    const local = new LocalBook();
    expect(local.apply(gw.snapshot)).toEqual({ ok: true });
    expect(local.units).toEqual(UNITS);
    for (let i = 0; i < 2000; i++) {
      const r = local.apply(gw.next(i + 2));
      expect(r, `change ${i}`).toEqual({ ok: true });
      const { bids, asks } = local.levels(DEPTH);
      const v = gw.view();
      if (i % 97 === 0) expect({ bids, asks }).toEqual({ bids: v.b, asks: v.a });
    }
    const v = gw.view();
    expect(local.levels(DEPTH)).toEqual({ bids: v.b, asks: v.a });
    expect(local.checksumFailures).toBe(0);
    expect(local.applied).toBe(2001);
    expect(local.ts).toBe(2001);
  });

  it('a checksum mismatch drops the copy (counted) until a fresh snapshot; a change set before any snapshot is refused', () => {
    const gw = gatewayView(11);
    const local = new LocalBook();
    expect(local.apply(gw.next(2))).toEqual({ ok: false, reason: 'shape' });
    expect(local.apply(gw.snapshot)).toEqual({ ok: true });
    const c = gw.next(3);
    expect(local.apply({ ...c, cs: (c.cs + 1) >>> 0 })).toEqual({ ok: false, reason: 'checksum' });
    expect(local.checksumFailures).toBe(1);
    expect(local.synced).toBe(false);
    expect(local.levels(DEPTH)).toEqual({ bids: [], asks: [] });
    // Further change sets are not applied on top of nothing.
    expect(local.apply(gw.next(4))).toEqual({ ok: false, reason: 'shape' });
    const v = gw.view();
    expect(local.apply({ ts: 5, bids: v.b, asks: v.a, cs: bookChecksum(v.b, v.a, UNITS), ...UNITS })).toEqual({ ok: true });
    expect(local.synced).toBe(true);
    expect(local.levels(DEPTH)).toEqual({ bids: v.b, asks: v.a });
    expect(local.apply(null)).toEqual({ ok: false, reason: 'shape' });
  });

  it('a stale flag empties the book and shows as stale until the refill', () => {
    const gw = gatewayView(3);
    const local = new LocalBook();
    local.apply(gw.snapshot);
    const v = gw.view();
    const empty: BookChange = { ts: 2, b: v.b.map(([p]) => [p, 0]), a: v.a.map(([p]) => [p, 0]), cs: 0, stale: true };
    expect(local.apply(empty)).toEqual({ ok: true });
    expect(local.stale).toBe(true);
    expect(local.levels(DEPTH)).toEqual({ bids: [], asks: [] });
    expect(local.apply({ ts: 3, b: v.b, a: v.a, cs: gw.snapshot.cs })).toEqual({ ok: true });
    expect(local.stale).toBe(false);
    expect(local.levels(DEPTH)).toEqual({ bids: v.b, asks: v.a });
  });
});

describe('board detail: ladder and depth chart', () => {
  const bids: Level[] = [
    [99, 1],
    [98, 2],
    [97, 3],
  ];
  const asks: Level[] = [
    [101, 4],
    [102, 0.5],
  ];

  it('ladder: asks worst first down to the best, bids best first, cumulative sizes on one scale, the spread', () => {
    const m = ladderModel(bids, asks, 25);
    expect(m.asks.map((l) => [l.px, l.qty, l.cum])).toEqual([
      [102, 0.5, 4.5],
      [101, 4, 4],
    ]);
    expect(m.bids.map((l) => [l.px, l.qty, l.cum])).toEqual([
      [99, 1, 1],
      [98, 2, 3],
      [97, 3, 6],
    ]);
    // The larger side's total is the full bar.
    expect(m.bids.at(-1)!.frac).toBe(1);
    expect(m.asks[0]!.frac).toBeCloseTo(4.5 / 6);
    expect(m.spread).toBe(2);
    expect(m.spreadBps).toBeCloseTo((2 / 100) * 10_000);
    const two = ladderModel(bids, asks, 2);
    expect(two.bids.map((l) => l.px)).toEqual([99, 98]);
    expect([two.asks[0]!.frac, two.bids.at(-1)!.frac]).toEqual([1, 3 / 4.5]);
    const oneSided = ladderModel(bids, [], 25);
    expect(oneSided.asks).toEqual([]);
    expect(oneSided.spread).toBeUndefined();
  });

  it('depth chart: stepped areas from the touch outwards, on the baseline at both ends, scaled to the box', () => {
    expect(depthGeometry([], [], 400, 160)).toBeUndefined();
    const g = depthGeometry(bids, asks, 500, 100)!;
    expect([g.minPx, g.maxPx, g.maxCum]).toEqual([97, 102, 6]);
    // Bids: x of 99 = (99 − 97) / 5 × 500 = 200; cumulative 1, 3, 6 of 6 → y 83.3, 50, 0.
    expect(g.bid).toBe('M200,100L200,100L200,83.3L100,83.3L100,50L0,50L0,0L0,100Z');
    expect(g.ask).toBe('M400,100L400,100L400,33.3L500,33.3L500,25L500,100Z');
    const single = depthGeometry([[5, 1]], [], 10, 10)!;
    expect([single.minPx, single.maxPx]).toEqual([4, 6]);
    expect(single.ask).toBe('');
  });
});

describe('board detail: candles', () => {
  const candle = (t: number, c: number, x = false): Candle => ({ t, o: c, h: c, l: c, c, v: 1, q: c, n: 1, x });

  it('merges history and live in either order; live candles of the newest bucket are incremental updates', () => {
    const s = new CandleSeries();
    // The stream's snapshot arrives before the history.
    s.upsert(candle(180_000, 12));
    s.addHistory([candle(120_000, 11, true), candle(60_000, 10, true), candle(180_000, 99, true)]);
    let ch = s.take();
    expect(ch.reset).toBe(true);
    expect(ch.candles.map((c) => [c.t, c.c])).toEqual([
      [60_000, 10],
      [120_000, 11],
      [180_000, 12], // the live one is kept: as new or newer than the history
    ]);
    expect(s.take()).toMatchObject({ reset: false, updates: [] });
    s.upsert(candle(180_000, 13, true));
    s.upsert(candle(240_000, 14));
    ch = s.take();
    expect(ch.reset).toBe(false);
    expect(ch.updates.map((c) => [c.t, c.c])).toEqual([
      [180_000, 13],
      [240_000, 14],
    ]);
    expect(s.length).toBe(4);
    // A correction of an older bucket cannot be an incremental update: the chart redraws.
    s.upsert(candle(120_000, 15));
    s.upsert(candle(90_000, 16));
    ch = s.take();
    expect(ch.reset).toBe(true);
    expect(ch.candles.map((c) => c.t)).toEqual([60_000, 90_000, 120_000, 180_000, 240_000]);
    expect(ch.candles[2]!.c).toBe(15);
  });

  it('keeps at most its bound, dropping the oldest; tells candles from other payloads', () => {
    const s = new CandleSeries(3);
    s.addHistory([1, 2, 3, 4].map((i) => candle(i * 1000, i)));
    s.upsert(candle(5000, 5));
    expect(s.candles.map((c) => c.t)).toEqual([3000, 4000, 5000]);
    expect(isCandle(candle(1, 1))).toBe(true);
    expect(isCandle({ t: 1, o: 1, h: 1, l: 1, c: Number.NaN, v: 1 })).toBe(false);
    expect(isCandle({ ts: 1, px: 1, qty: 1 })).toBe(false);
    expect(isCandle(null)).toBe(false);
  });
});

describe('board: 24 h change', () => {
  const stats: Stats = { ts: 1, last: 105, open: 100, high: 110, low: 95, v: 10, q: 1000, chg: 5, chgPct: 5, n: 3 };

  it('shows the statistics, or says there are none, never a number from another baseline', () => {
    expect(isStats(stats)).toBe(true);
    expect(isStats({ ts: 1, px: 1 })).toBe(false);
    expect(changeCells(stats, 'ok', '', 2)).toMatchObject({ chg: '+5.00', pct: '+5.00%', dir: 'up' });
    expect(changeCells({ ...stats, chg: -1.5, chgPct: -1.5 }, 'ok', '', 1)).toMatchObject({ chg: '-1.5', pct: '-1.50%', dir: 'down' });
    const none = changeCells(undefined, 'unavailable', 'stats.X: bad_topic', 2);
    expect(none).toMatchObject({ chg: 'n/a', pct: 'n/a', dir: 'na' });
    expect(none.title).toContain('stats.X: bad_topic');
    expect(changeCells(undefined, 'waiting', '', 2)).toMatchObject({ chg: 'n/a', title: 'waiting for 24 h statistics' });
  });
});
