import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CANDLE_INTERVAL_NAMES, CANDLE_INTERVALS, type CandleInterval } from '../../protocol/src/candle.js';
import type { CandleTick, Payload, StatsTick, TradeTick } from '../../protocol/src/ticks.js';
import { CandleEngine, type ClosedCandle } from '../src/candles/engine.js';
import { CandleHistory, DEFAULT_CANDLE_RETENTION, parseRetention } from '../src/candles/history.js';
import { parseCandleRecord, candleKey, candleValue } from '../src/candles/record.js';
import { compilePatterns } from '../src/auth/identity.js';

const T0 = Date.UTC(2026, 11, 6, 5, 0, 0);

/** An engine with everything it publishes and closes recorded. */
function rig(graceMs = 2000, firstBucketComplete = true) {
  const published: { topic: string; tick: Payload }[] = [];
  const closed: ClosedCandle[] = [];
  const engine = new CandleEngine({ graceMs, firstBucketComplete, onClosed: (c) => closed.push(c) });
  const drain = (now: number) => engine.drain(now, (topic, tick) => published.push({ topic, tick }));
  const of = (topic: string) => published.filter((p) => p.topic === topic).map((p) => p.tick as CandleTick);
  return { engine, published, closed, drain, of };
}

const trade = (ts: number, px: number, qty = 1): TradeTick => ({ ts, px, qty, side: 'b' });

/** The candles of `trades` (in the order given, none late) computed the plain way: group by bucket. */
function recompute(trades: readonly TradeTick[], ms: number): Omit<CandleTick, 'x'>[] {
  const out = new Map<number, Omit<CandleTick, 'x'>>();
  for (const t of trades) {
    const b = Math.floor(t.ts / ms) * ms;
    const c = out.get(b);
    if (!c) out.set(b, { t: b, o: t.px, h: t.px, l: t.px, c: t.px, v: t.qty, q: t.px * t.qty, n: 1 });
    else {
      c.h = Math.max(c.h, t.px);
      c.l = Math.min(c.l, t.px);
      c.c = t.px;
      c.v += t.qty;
      c.q += t.px * t.qty;
      c.n++;
    }
  }
  return [...out.values()];
}

describe('the candle engine', () => {
  it('computes every interval exactly as a recomputation from the trades (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 200_000 }),
            px: fc.double({ min: 0.01, max: 1e6, noNaN: true }),
            qty: fc.double({ min: 1e-6, max: 1e3, noNaN: true }),
          }),
          { minLength: 1, maxLength: 300 },
        ),
        (steps) => {
          const r = rig();
          let ts = T0;
          const trades = steps.map((s) => trade((ts += s.dt), s.px, s.qty));
          for (const t of trades) r.engine.trade('trade.X', t);
          // Far past every bucket: all close by the clock.
          r.drain(ts + 2 * 86_400_000);
          for (const name of CANDLE_INTERVAL_NAMES) {
            const want = recompute(trades, CANDLE_INTERVALS[name]);
            const got = r.closed.filter((c) => c.interval === name).map((c) => c.candle);
            expect(got.map(({ x: _x, ...c }) => c)).toEqual(want);
            expect(got.every((c) => c.x)).toBe(true);
            // The stream's final updates are the same candles.
            expect(r.of(`candle.${name}.X`).filter((c) => c.x)).toEqual(got);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('closes a bucket when a trade of a later bucket arrives, final update first', () => {
    const r = rig();
    r.engine.trade('trade.X', trade(T0 + 100, 10));
    r.engine.trade('trade.X', trade(T0 + 500, 12));
    r.drain(T0 + 600);
    expect(r.of('candle.1s.X')).toEqual([{ t: T0, o: 10, h: 12, l: 10, c: 12, v: 2, q: 22, n: 2, x: false }]);
    r.engine.trade('trade.X', trade(T0 + 1200, 11));
    expect(r.closed.map((c) => c.topic)).toEqual(['candle.1s.X']);
    r.drain(T0 + 1300);
    expect(r.of('candle.1s.X').slice(1)).toEqual([
      { t: T0, o: 10, h: 12, l: 10, c: 12, v: 2, q: 22, n: 2, x: true },
      { t: T0 + 1000, o: 11, h: 11, l: 11, c: 11, v: 1, q: 11, n: 1, x: false },
    ]);
  });

  it('publishes a changed candle once per drain, an unchanged one not at all', () => {
    const r = rig();
    for (let i = 0; i < 50; i++) r.engine.trade('trade.X', trade(T0 + i, 10 + i));
    r.drain(T0 + 60);
    expect(r.of('candle.1m.X')).toHaveLength(1);
    r.drain(T0 + 70);
    expect(r.of('candle.1m.X')).toHaveLength(1);
  });

  it('closes by the clock only after end + grace, and counts a trade for a closed bucket as late', () => {
    const r = rig(2000);
    r.engine.trade('trade.X', trade(T0 + 100, 10));
    r.drain(T0 + 2999);
    expect(r.closed).toHaveLength(0);
    // Within the grace: still folded.
    r.engine.trade('trade.X', trade(T0 + 900, 9));
    r.drain(T0 + 3000);
    expect(r.closed.map((c) => [c.interval, c.candle])).toEqual([['1s', { t: T0, o: 10, h: 10, l: 9, c: 9, v: 2, q: 19, n: 2, x: true }]]);
    r.engine.trade('trade.X', trade(T0 + 950, 8));
    expect(r.engine.late).toEqual([1, 0, 0, 0, 0, 0]);
    // Folded into the 1m..1d candles (their buckets are open), never into another 1 s bucket.
    expect(r.engine.openCandle('trade.X', '1m')).toMatchObject({ n: 3, l: 8 });
    expect(r.engine.openCandle('trade.X', '1s')).toBeUndefined();
  });

  it('counts a trade older than the open bucket as late', () => {
    const r = rig();
    r.engine.trade('trade.X', trade(T0 + 1500, 10));
    r.engine.trade('trade.X', trade(T0 + 500, 11));
    expect(r.engine.late[CANDLE_INTERVAL_NAMES.indexOf('1s')]).toBe(1);
    expect(r.engine.openCandle('trade.X', '1s')).toMatchObject({ t: T0 + 1000, n: 1 });
  });

  it('invents no candle for empty buckets: the next one opens at its own first price', () => {
    const r = rig();
    r.engine.trade('trade.X', trade(T0 + 100, 10));
    r.engine.trade('trade.X', trade(T0 + 5100, 20));
    r.drain(T0 + 20_000);
    expect(r.closed.filter((c) => c.interval === '1s').map((c) => [c.candle.t, c.candle.o])).toEqual([
      [T0, 10],
      [T0 + 5000, 20],
    ]);
  });

  it('marks the first bucket of a symbol incomplete when the source may join midway, and after an upstream reset', () => {
    const r = rig(2000, false);
    r.engine.trade('trade.X', trade(T0 + 100, 10));
    r.engine.trade('trade.X', trade(T0 + 1100, 10));
    r.engine.upstreamReset(['trade.X']);
    r.engine.trade('trade.X', trade(T0 + 2100, 10));
    expect(r.closed.filter((c) => c.interval === '1s').map((c) => c.complete)).toEqual([false, false]);
    r.engine.trade('trade.X', trade(T0 + 3100, 10));
    expect(r.closed.filter((c) => c.interval === '1s').map((c) => c.complete)).toEqual([false, false, true]);
  });

  it('keeps symbols apart', () => {
    const r = rig();
    r.engine.trade('trade.A', trade(T0, 1));
    r.engine.trade('trade.B', trade(T0, 2));
    r.drain(T0 + 1);
    expect(r.of('candle.1s.A')[0]?.o).toBe(1);
    expect(r.of('candle.1s.B')[0]?.o).toBe(2);
  });
});

describe('stats.<SYMBOL>', () => {
  const stats = (r: ReturnType<typeof rig>, topic = 'stats.X') =>
    r.published.filter((p) => p.topic === topic).map((p) => p.tick as StatsTick);

  it('sums the 24 h window of 1-minute candles, drops minutes that leave it, and publishes at most once a second when changed', () => {
    const r = rig();
    const MIN = 60_000;
    r.engine.trade('trade.X', trade(T0, 100, 2));
    r.engine.trade('trade.X', trade(T0 + MIN, 110, 1));
    r.drain(T0 + MIN);
    expect(stats(r)).toEqual([{ ts: T0 + MIN, last: 110, open: 100, high: 110, low: 100, v: 3, q: 310, chg: 10, chgPct: 10, n: 2 }]);
    r.engine.trade('trade.X', trade(T0 + MIN + 1, 90, 1));
    r.drain(T0 + MIN + 500);
    expect(stats(r)).toHaveLength(1);
    r.drain(T0 + MIN + 1000);
    expect(stats(r).at(-1)).toMatchObject({ last: 90, low: 90, n: 3 });
    r.drain(T0 + MIN + 2000);
    expect(stats(r)).toHaveLength(2);
    // The window is the open minute and the 1440 before it: a minute later the first one has left it.
    r.engine.trade('trade.X', trade(T0 + 1440 * MIN, 120, 0));
    r.drain(T0 + 1440 * MIN + 3000);
    expect(stats(r).at(-1)).toMatchObject({ open: 100, n: 4 });
    r.engine.trade('trade.X', trade(T0 + 1441 * MIN, 120, 1));
    r.drain(T0 + 1441 * MIN + 3000);
    expect(stats(r).at(-1)).toEqual({
      ts: T0 + 1441 * MIN,
      last: 120,
      open: 110,
      high: 120,
      low: 90,
      v: 3,
      q: 320,
      chg: 10,
      chgPct: (10 / 110) * 100,
      n: 4,
    });
  });
});

describe('candle history', () => {
  const c = (t: number, px = 1): CandleTick => ({ t, o: px, h: px, l: px, c: px, v: 1, q: px, n: 1, x: true });

  it('returns the newest `limit` candles before `before`, oldest first, in any insertion order, one per t', () => {
    const h = new CandleHistory(DEFAULT_CANDLE_RETENTION);
    for (const t of [5, 1, 3, 2, 4, 3]) h.put('candle.1m.X', '1m', c(t * 60_000, t));
    expect(h.query('candle.1m.X', 10).map((x) => x.t / 60_000)).toEqual([1, 2, 3, 4, 5]);
    expect(h.query('candle.1m.X', 2).map((x) => x.t / 60_000)).toEqual([4, 5]);
    expect(h.query('candle.1m.X', 2, 4 * 60_000).map((x) => x.t / 60_000)).toEqual([2, 3]);
    expect(h.query('candle.1m.Y', 2)).toEqual([]);
  });

  it('keeps at most the retention per topic', () => {
    const h = new CandleHistory({ ...DEFAULT_CANDLE_RETENTION, '1s': 100 });
    for (let i = 0; i < 1000; i++) h.put('candle.1s.X', '1s', c(i * 1000));
    const all = h.query('candle.1s.X', 1000);
    expect(all).toHaveLength(100);
    expect(all[0]?.t).toBe(900_000);
    expect(h.size).toBeLessThanOrEqual(100 + 100 / 8 + 1);
  });

  it('parses the retention setting', () => {
    expect(parseRetention('1s:10, 1d:0')).toEqual({ ...DEFAULT_CANDLE_RETENTION, '1s': 10, '1d': 0 });
    expect(parseRetention('2m:10')).toMatch(/interval one of/);
    expect(parseRetention('1s:x')).toMatch(/expected/);
  });
});

describe('the candle record', () => {
  it('round-trips key and value, and refuses what is not a candle', () => {
    const candle: CandleTick = { t: T0, o: 1.5, h: 2, l: 1, c: 1.75, v: 3, q: 4.5, n: 2, x: true };
    const key = candleKey('candle.1m.BTC-USD', T0);
    expect(key).toBe(`candle.1m.BTC-USD:${T0}`);
    expect(parseCandleRecord(key, Buffer.from(candleValue(candle)))).toEqual({
      topic: 'candle.1m.BTC-USD',
      interval: '1m' satisfies CandleInterval,
      candle,
    });
    expect(parseCandleRecord('candle.2m.X:1', Buffer.from('{}'))).toMatch(/not candle/);
    expect(parseCandleRecord(`candle.1m.X:${T0 + 1}`, Buffer.from(candleValue(candle)))).toMatch(/differs/);
    expect(parseCandleRecord(key, Buffer.from('{"t":1}'))).toMatch(/must be a finite number/);
    expect(parseCandleRecord(key, null)).toMatch(/no value/);
  });
});

describe('entitlement patterns for candle and stats topics', () => {
  it('grants them by kind, by symbol (every interval) or exactly, and still refuses what is not granted', () => {
    const m = compilePatterns(['candle.*', '*.ETH-USD', 'candle.1m.SOL-USD', 'stats.AAPL']);
    for (const t of ['candle.1s.BTC-USD', 'candle.1d.X', 'candle.5m.ETH-USD', 'stats.ETH-USD', 'candle.1m.SOL-USD', 'stats.AAPL']) {
      expect(m(t), t).toBe(true);
    }
    for (const t of ['stats.BTC-USD', 'trade.BTC-USD']) expect(m(t), t).toBe(false);
    const exact = compilePatterns(['candle.1m.SOL-USD']);
    expect(exact('candle.1s.SOL-USD')).toBe(false);
    expect(() => compilePatterns(['candle.2m.X'])).toThrow(/invalid topic pattern/);
  });
});
