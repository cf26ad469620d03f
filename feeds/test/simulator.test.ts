import { describe, it, expect } from 'vitest';
import type { QuoteTick, Tick, TradeTick } from '../../protocol/src/ticks.js';
import { Rng } from '../src/rng.js';
import { MarketSimulator, type SimEvent } from '../src/simulator.js';
import { DEFAULT_SYMBOLS, parseSymbols, type SymbolSpec } from '../src/symbols.js';

const YEAR_MS = 365.25 * 24 * 3600 * 1000;
const T0 = Date.UTC(2024, 5, 3, 13, 30);

const isTrade = (t: Tick): t is TradeTick => 'px' in t;
const symbolOf = (topic: string): string => topic.slice(topic.indexOf('.') + 1);
const decimals = (x: number): number => {
  for (let d = 0; d <= 15; d++) if (Number(x.toFixed(d)) === x) return d;
  return 16;
};

function run(seed: number, n: number, stepMs = 1, symbols?: SymbolSpec[]): SimEvent[] {
  const sim = new MarketSimulator({ seed, symbols });
  const out: SimEvent[] = [];
  for (let i = 0; i < n; i++) out.push(sim.next(T0 + i * stepMs));
  return out;
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c.u32())).not.toEqual(sa);
  });

  it('has plausible moments for next, normal, exp and int', () => {
    const r = new Rng(7);
    const n = 200_000;
    let su = 0,
      sn = 0,
      sn2 = 0,
      se = 0;
    const hist = new Array<number>(10).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) outOfRange++;
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      se += r.exp(4);
      hist[r.int(10)]!++;
    }
    expect(outOfRange).toBe(0);
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(sn2 / n).toBeGreaterThan(0.98);
    expect(sn2 / n).toBeLessThan(1.02);
    expect(se / n).toBeCloseTo(0.25, 2);
    for (const h of hist) expect(Math.abs(h - n / 10)).toBeLessThan(n / 100);
  });

  it('rejects non-integer seeds', () => {
    expect(() => new Rng(1.5)).toThrow(/integer/);
  });
});

describe('parseSymbols', () => {
  it('returns default specs for known names and a generic spec for unknown ones', () => {
    const specs = parseSymbols(' BTC-USD, AAPL ,FOO_1,');
    expect(specs.map((s) => s.symbol)).toEqual(['BTC-USD', 'AAPL', 'FOO_1']);
    expect(specs[0]).toEqual(DEFAULT_SYMBOLS.find((s) => s.symbol === 'BTC-USD'));
    expect(specs[2]).toMatchObject({ symbol: 'FOO_1', price: 100, vol: 0.3, tick: 0.01 });
    // Copies: mutating the result must not touch the defaults.
    specs[0]!.price = 1;
    expect(DEFAULT_SYMBOLS.find((s) => s.symbol === 'BTC-USD')!.price).not.toBe(1);
  });

  it('throws clear errors for invalid names, duplicates and empty lists', () => {
    expect(() => parseSymbols('btc-usd')).toThrow(/invalid symbol name "btc-usd"/);
    expect(() => parseSymbols('AAPL,-X')).toThrow(/invalid symbol name "-X"/);
    expect(() => parseSymbols('A'.repeat(33))).toThrow(/invalid symbol name/);
    expect(() => parseSymbols('A.B')).toThrow(/invalid symbol name/);
    expect(() => parseSymbols('AAPL,AAPL')).toThrow(/duplicate/);
    expect(() => parseSymbols(' , ')).toThrow(/empty/);
    expect(parseSymbols('A'.repeat(32))).toHaveLength(1);
  });

  it('has exactly the documented default symbols with sane specs', () => {
    expect(DEFAULT_SYMBOLS.map((s) => s.symbol).sort()).toEqual(
      ['AAPL', 'BTC-USD', 'ETH-USD', 'EUR-USD', 'MSFT', 'NVDA', 'SOL-USD'].sort(),
    );
    const weight = (prefix: string[]) => DEFAULT_SYMBOLS.filter((s) => prefix.includes(s.symbol)).reduce((a, s) => a + s.weight, 0);
    expect(weight(['BTC-USD', 'ETH-USD', 'SOL-USD'])).toBeGreaterThan(weight(['AAPL', 'MSFT', 'NVDA', 'EUR-USD']));
  });
});

describe('MarketSimulator', () => {
  it('same seed gives identical sequences, different seeds differ', () => {
    const a = run(123, 2000);
    expect(run(123, 2000)).toEqual(a);
    expect(run(124, 2000)).not.toEqual(a);
  });

  it('produces well-formed ticks for every default symbol', () => {
    const events = run(1, 50_000, 3);
    const specs = new Map(DEFAULT_SYMBOLS.map((s) => [s.symbol, s]));
    const seen = new Set<string>();
    // Collect problems instead of calling expect per field: faster, and the failure lists them.
    const bad: string[] = [];
    let trades = 0;
    events.forEach((ev, i) => {
      const fail = (why: string) => bad.push(`#${i} ${ev.topic} ${JSON.stringify(ev.tick)}: ${why}`);
      const kind = ev.topic.slice(0, ev.topic.indexOf('.'));
      const spec = specs.get(symbolOf(ev.topic));
      if (!spec) return fail('unknown symbol');
      seen.add(spec.symbol);
      const t = ev.tick;
      if (t.ts !== T0 + i * 3) fail('ts');
      if (kind !== (isTrade(t) ? 'trade' : 'quote')) fail('topic kind does not match tick shape');
      const prices = isTrade(t) ? [t.px] : [t.bid, t.ask];
      const sizes = isTrade(t) ? [t.qty] : [t.bsz, t.asz];
      for (const p of prices) {
        if (!(Number.isFinite(p) && p > 0)) fail('price not finite/positive');
        if (Math.abs(p - Math.round(p / spec.tick) * spec.tick) > 1e-9 * p) fail('price off tick');
        if (decimals(p) > decimals(spec.tick)) fail('price has float garbage');
      }
      for (const q of sizes) {
        if (!(Number.isFinite(q) && q > 0)) fail('size not finite/positive');
        if (Math.abs(q - Math.round(q / spec.lot) * spec.lot) > 1e-9 * q) fail('size off lot');
        if (decimals(q) > decimals(spec.lot)) fail('size has float garbage');
      }
      if (isTrade(t)) {
        trades++;
        if (t.side !== 'b' && t.side !== 's') fail('side');
        if (Object.keys(t).sort().join() !== 'px,qty,side,ts') fail('trade fields');
      } else {
        if (!(t.ask > t.bid)) fail('crossed or locked book');
        if (Object.keys(t).sort().join() !== 'ask,asz,bid,bsz,ts') fail('quote fields');
      }
    });
    expect(bad.slice(0, 10)).toEqual([]);
    expect([...seen].sort()).toEqual([...specs.keys()].sort());
    expect(trades / events.length).toBeGreaterThan(0.27);
    expect(trades / events.length).toBeLessThan(0.33);
  });

  it('picks symbols in proportion to weight', () => {
    const events = run(2, 100_000);
    const total = DEFAULT_SYMBOLS.reduce((a, s) => a + s.weight, 0);
    for (const s of DEFAULT_SYMBOLS) {
      const share = events.filter((e) => symbolOf(e.topic) === s.symbol).length / events.length;
      expect(Math.abs(share - s.weight / total)).toBeLessThan(0.01);
    }
  });

  it('trades print at the touch: buys at the ask, sells at the bid', () => {
    // With vol 0 the mid never moves, so every book is the same up to spread jitter.
    const spec: SymbolSpec = { ...parseSymbols('ETH-USD')[0]!, vol: 0 };
    const ticks = run(5, 5000, 10, [spec]).map((e) => e.tick);
    const quotes = ticks.filter((t): t is QuoteTick => !isTrade(t));
    const buys = ticks
      .filter(isTrade)
      .filter((t) => t.side === 'b')
      .map((t) => t.px);
    const sells = ticks
      .filter(isTrade)
      .filter((t) => t.side === 's')
      .map((t) => t.px);
    expect(buys.length).toBeGreaterThan(500);
    expect(sells.length).toBeGreaterThan(500);
    const asks = new Set(quotes.map((q) => q.ask));
    const bids = new Set(quotes.map((q) => q.bid));
    for (const px of buys) expect(asks.has(px)).toBe(true);
    for (const px of sells) expect(bids.has(px)).toBe(true);
    expect(Math.min(...buys)).toBeGreaterThan(Math.max(...sells));
  });

  it('trade sizes are heavy-tailed around meanQty', () => {
    const spec = parseSymbols('AAPL')[0]!;
    const qtys = run(9, 60_000, 1, [spec])
      .map((e) => e.tick)
      .filter(isTrade)
      .map((t) => t.qty);
    const mean = qtys.reduce((a, b) => a + b, 0) / qtys.length;
    expect(mean / spec.meanQty).toBeGreaterThan(0.8);
    expect(mean / spec.meanQty).toBeLessThan(1.25);
    expect(Math.max(...qtys)).toBeGreaterThan(5 * spec.meanQty);
  });

  it('never produces a zero size when the mean size is close to one lot', () => {
    const spec: SymbolSpec = { ...parseSymbols('AAPL')[0]!, meanQty: 0.4 };
    const sizes = run(8, 5000, 1, [spec]).flatMap((e) => (isTrade(e.tick) ? [e.tick.qty] : [e.tick.bsz, e.tick.asz]));
    expect(Math.min(...sizes)).toBe(1);
  });

  it('log-returns match the annualised vol over a simulated day (per-symbol elapsed time)', () => {
    // One event per second for a day across all default symbols: BTC sees irregular gaps of
    // several seconds, so returns are standardised by the vol expected over each gap.
    const events = run(77, 86_400, 1000);
    for (const sym of ['BTC-USD', 'ETH-USD']) {
      const spec = DEFAULT_SYMBOLS.find((s) => s.symbol === sym)!;
      let prev: { ts: number; mid: number } | undefined;
      let firstTs = NaN;
      const z: number[] = [];
      const raw: number[] = [];
      for (const e of events) {
        if (symbolOf(e.topic) !== sym || isTrade(e.tick)) continue;
        const q = e.tick;
        const mid = (q.bid + q.ask) / 2;
        if (prev) {
          const r = Math.log(mid / prev.mid);
          raw.push(r);
          z.push(r / (spec.vol * Math.sqrt((q.ts - prev.ts) / YEAR_MS)));
        }
        if (!prev) firstTs = q.ts;
        prev = { ts: q.ts, mid };
      }
      expect(z.length).toBeGreaterThan(5000);
      const sd = (xs: number[]) => {
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
      };
      const zsd = sd(z);
      // ~7000 samples pin the standardised std to about ±2 %; this also catches scaling by the
      // global rather than the per-symbol elapsed time (which would give ~0.5 here).
      expect(zsd).toBeGreaterThan(0.85);
      expect(zsd).toBeLessThan(1.15);
      // Unstandardised: within a factor 2 of vol·sqrt(mean gap / year).
      const meanGap = (prev!.ts - firstTs) / z.length;
      const expected = spec.vol * Math.sqrt(meanGap / YEAR_MS);
      expect(sd(raw) / expected).toBeGreaterThan(0.5);
      expect(sd(raw) / expected).toBeLessThan(2);
    }
  });

  it('prices still move when many events share one timestamp', () => {
    const spec = parseSymbols('BTC-USD')[0]!;
    const mids = new Set(
      run(3, 2000, 0, [spec])
        .map((e) => e.tick)
        .filter((t): t is QuoteTick => !isTrade(t))
        .map((q) => q.bid + q.ask),
    );
    expect(mids.size).toBeGreaterThan(100);
  });

  it('ignores the wall clock and tolerates time going backwards', () => {
    const sim = new MarketSimulator({ seed: 4 });
    const e1 = sim.next(5000);
    const e2 = sim.next(1000);
    expect(e1.tick.ts).toBe(5000);
    expect(e2.tick.ts).toBe(1000);
    expect(() => sim.next(NaN)).toThrow(/finite/);
  });

  it('keeps quotes valid for a tiny-priced symbol', () => {
    const spec: SymbolSpec = { symbol: 'PENNY', price: 0.002, vol: 3, tick: 0.001, spreadTicks: 1, lot: 1, meanQty: 10, weight: 1 };
    for (const e of run(6, 20_000, 60_000, [spec])) {
      const t = e.tick;
      if (isTrade(t)) expect(t.px).toBeGreaterThan(0);
      else {
        expect(t.bid).toBeGreaterThan(0);
        expect(t.ask).toBeGreaterThan(t.bid);
      }
    }
  });

  it('rejects bad specs', () => {
    const good = parseSymbols('AAPL')[0]!;
    expect(() => new MarketSimulator({ seed: 1, symbols: [] })).toThrow(/at least one/);
    expect(() => new MarketSimulator({ seed: 1, symbols: [{ ...good, tick: 0 }] })).toThrow(/tick/);
    expect(() => new MarketSimulator({ seed: 1, symbols: [{ ...good, vol: NaN }] })).toThrow(/vol/);
    expect(() => new MarketSimulator({ seed: 1, symbols: [good, good] })).toThrow(/duplicate/);
  });
});
