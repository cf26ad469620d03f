import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Book } from '../../protocol/src/book.js';
import type { BookRecord } from '../../protocol/src/book-record.js';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';
import { REJECT_REASONS, type RejectReason } from '../../protocol/src/validate.js';
import { BookEngine } from '../../gateway/src/books/engine.js';
import { BOOK_SNAPSHOT_MS, fromUnits, MarketSimulator, type FeedEvent } from '../src/simulator.js';
import { DEFAULT_SYMBOLS } from '../src/symbols.js';

const T0 = Date.UTC(2024, 5, 3, 13, 30);
const specOf = new Map(DEFAULT_SYMBOLS.map((s) => [s.symbol, s]));
const symbolOf = (topic: string) => topic.slice(topic.indexOf('.') + 1);

function feed(seed: number, n: number, stepMs: number): FeedEvent[] {
  const sim = new MarketSimulator({ seed, books: true });
  const out: FeedEvent[] = [];
  for (let i = 0; i < n; i++) sim.nextInto(T0 + i * stepMs, out);
  return out;
}

const onGrid = (x: number, unit: number) => Math.abs(x / unit - Math.round(x / unit)) < 1e-6;

describe('simulator books', () => {
  it('records rebuild a book that is never crossed, on the grid, sizes > 0; quotes are its top, trades consume it at the touch', () => {
    const events = feed(11, 60_000, 2);
    const books = new Map<string, { book: Book; u: number; snapTs: number }>();
    const bad: string[] = [];
    let trades = 0;
    let quotes = 0;
    let snapshots = 0;
    let lastDelta = new Map<string, BookRecord>();
    const ticked = new Set<string>();
    for (const [i, e] of events.entries()) {
      const sym = symbolOf(e.topic);
      const spec = specOf.get(sym)!;
      const fail = (why: string) => bad.push(`#${i} ${e.topic}: ${why}`);
      const st = books.get(sym);
      if (e.topic.startsWith('book.')) {
        const r = e.tick as BookRecord;
        if (r.type === 'snapshot') {
          snapshots++;
          const fresh = new Book();
          fresh.apply(r.bids, r.asks, r.ts);
          // A periodic snapshot states exactly what the deltas built.
          if (st && JSON.stringify([st.book.bids.levels(1e9), st.book.asks.levels(1e9)]) !== JSON.stringify([r.bids, r.asks]))
            fail('snapshot differs from the book the deltas built');
          if (st && r.ts - st.snapTs < BOOK_SNAPSHOT_MS) fail('snapshot too early');
          if (st && r.u !== st.u) fail('snapshot u is not the last delta`s');
          books.set(sym, { book: fresh, u: r.u!, snapTs: r.ts });
          if (r.bids.some(([, q]) => !(q > 0)) || r.asks.some(([, q]) => !(q > 0))) fail('snapshot size <= 0');
        } else {
          if (!st) {
            fail('delta before a snapshot');
            continue;
          }
          if (r.pu !== st.u || r.u !== st.u + 1) fail(`sequence ${r.pu} -> ${r.u} after ${st.u}`);
          st.u = r.u!;
          for (const [side, px, qty] of r.changes) {
            if (!onGrid(px, spec.tick) || !onGrid(qty, spec.lot) || qty < 0) fail(`change off grid ${px} ${qty}`);
            (side === 'b' ? st.book.bids : st.book.asks).set(px, qty);
          }
          lastDelta.set(sym, r);
        }
        const b = books.get(sym)!.book;
        if (b.crossed()) fail('crossed');
        if (b.bids.px.length === 0 || b.asks.px.length === 0) fail('a side is empty');
        continue;
      }
      if (!st) {
        fail('tick before the book');
        continue;
      }
      const top = { bid: st.book.bids.px[0], bsz: st.book.bids.qty[0], ask: st.book.asks.px[0], asz: st.book.asks.qty[0] };
      if ('bid' in e.tick) {
        ticked.add(sym);
        quotes++;
        const q = e.tick;
        if (q.bid !== top.bid || q.bsz !== top.bsz || q.ask !== top.ask || q.asz !== top.asz)
          fail(`quote ${JSON.stringify(q)} is not the top ${JSON.stringify(top)}`);
      } else {
        trades++;
        const t = e.tick as TradeTick;
        const d = lastDelta.get(sym);
        // A symbol's first event writes its first snapshot only (the trade already in it).
        if (!ticked.has(sym)) {
          ticked.add(sym);
          continue;
        }
        const hit = t.side === 'b' ? 'a' : 'b';
        // The trade's delta consumed or reduced the level it printed at, and nothing better is left.
        if (!d || d.type !== 'delta' || !d.changes.some(([s, px]) => s === hit && px === t.px)) fail('trade px not a consumed level');
        if (t.side === 'b' ? (top.ask as number) < t.px : (top.bid as number) > t.px) fail('a better level than the trade survived');
      }
      lastDelta = new Map([...lastDelta].filter(([s]) => s !== sym));
    }
    expect(bad.slice(0, 10)).toEqual([]);
    expect(trades).toBeGreaterThan(10_000);
    expect(quotes).toBeGreaterThan(30_000);
    // 120 s of event time: a first snapshot and one every 5 s per symbol.
    expect(snapshots).toBeGreaterThanOrEqual(7 * 20);
  });

  it('books are deep and thin out with distance from the touch (over all snapshots of a run)', () => {
    const sim = new MarketSimulator({ seed: 3, books: true });
    const out: FeedEvent[] = [];
    for (let i = 0; i < 40_000; i++) sim.nextInto(T0 + i * 5, out);
    const stats = new Map<string, { depths: number[]; near: number; far: number }>();
    const mean = (ls: [number, number][]) => ls.reduce((a, [, q]) => a + q, 0) / ls.length;
    for (const e of out) {
      const r = e.tick as BookRecord;
      if (!e.topic.startsWith('book.') || r.type !== 'snapshot') continue;
      const s = stats.get(e.topic) ?? { depths: [], near: 0, far: 0 };
      stats.set(e.topic, s);
      for (const side of [r.bids, r.asks]) {
        s.depths.push(side.length);
        s.near += mean(side.slice(0, 10));
        s.far += mean(side.slice(-20));
      }
    }
    expect(stats.size).toBe(DEFAULT_SYMBOLS.length);
    for (const [topic, s] of stats) {
      const sorted = [...s.depths].sort((a, b) => a - b);
      expect(sorted[0], topic).toBeGreaterThan(5);
      expect(sorted[Math.floor(sorted.length / 2)], topic).toBeGreaterThan(60);
      expect(s.near / s.far, topic).toBeGreaterThan(1.3);
    }
  });

  it('fromUnits gives the same numbers as rounding the product to the unit`s decimals', () => {
    const units = [...DEFAULT_SYMBOLS.flatMap((s) => [s.tick, s.lot]), 0.25, 0.005, 5];
    for (const unit of units) {
      const conv = fromUnits(unit);
      const d = Math.max(0, -Math.floor(Math.log10(unit)) + 3);
      for (let n = 1; n < 2e9; n = Math.ceil(n * 1.37) + 7)
        expect(conv(n), `${n} × ${unit}`).toBe(Number((n * unit).toFixed(Math.min(d, 15))));
    }
  });

  it('is deterministic per seed, and writes no book records without `books`', () => {
    expect(feed(5, 3000, 1)).toEqual(feed(5, 3000, 1));
    const sim = new MarketSimulator({ seed: 5 });
    const out: FeedEvent[] = [];
    for (let i = 0; i < 3000; i++) sim.nextInto(T0 + i, out);
    expect(out).toHaveLength(3000);
    expect(out.filter((e) => e.topic.startsWith('book.'))).toEqual([]);
    // The ticks are the same with or without book records.
    expect(out).toEqual(feed(5, 3000, 1).filter((e) => !e.topic.startsWith('book.')));
  });

  it('the book engine takes the simulator`s records without a single rejection', () => {
    const stats = { rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number> };
    let changes = 0;
    const engine = new BookEngine(
      { publish: (topic) => void (topic.startsWith('book.') && changes++) },
      {
        maxDepth: 1000,
        units: (s) => specOf.get(s) && { tick: specOf.get(s)!.tick, lot: specOf.get(s)!.lot },
        stats,
        log: pino({ level: 'silent' }),
      },
    );
    const events = feed(21, 30_000, 3);
    for (const e of events) engine.publish(e.topic, e.tick);
    expect(Object.values(stats.rejected).reduce((a, b) => a + b, 0)).toBe(0);
    expect(changes).toBeGreaterThan(30_000);
    // The engine's book is the simulator's: the last quote after which no BTC record came is its top.
    let i = events.length - 1;
    while (!events[i]!.topic.endsWith('.BTC-USD') || events[i]!.topic.startsWith('trade.')) i--;
    const last = events[i]!;
    if (last.topic === 'quote.BTC-USD') {
      const q = last.tick as QuoteTick;
      expect([engine.book('BTC-USD')?.bestBid(), engine.book('BTC-USD')?.bestAsk()]).toEqual([q.bid, q.ask]);
    } else expect(engine.book('BTC-USD')).toBeDefined();
  });
});
