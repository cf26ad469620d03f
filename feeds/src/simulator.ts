import type { BookRecord } from '../../protocol/src/book-record.js';
import type { QuoteTick, Tick, TradeTick } from '../../protocol/src/ticks.js';
import { SimBook } from './sim-book.js';
import { Rng } from './rng.js';
import { DEFAULT_SYMBOLS, type SymbolSpec } from './symbols.js';

/** One simulated tick and its topic: `trade.<SYMBOL>` or `quote.<SYMBOL>`. */
export interface SimEvent {
  topic: string;
  tick: Tick;
}

/** One order-book record (docs/ingest.md, "Order books") and its key `book.<SYMBOL>`. */
export interface BookEvent {
  topic: string;
  tick: BookRecord;
}

/** What a feed writes: ticks, and book records when the simulator emits them. */
export type FeedEvent = SimEvent | BookEvent;
export type FeedValue = Tick | BookRecord;

/** A snapshot record per book every this many ms of event time, so that a starting gateway gets the book. */
export const BOOK_SNAPSHOT_MS = 5000;

/** Calendar year: the simulator runs 24/7, so vol is scaled to wall-clock time for every symbol. */
const YEAR_MS = 365.25 * 24 * 3600 * 1000;
/**
 * Minimum dt per event. Many events share one millisecond `ts` (the pacer emits in batches), so
 * each still gets a small price move; 0.1 ms keeps bursts from inflating volatility much.
 */
const MIN_DT_MS = 0.1;
const TRADE_SHARE = 0.3;
/** Lognormal sigma of trade sizes: heavy-tailed (resting sizes: sim-book.ts). */
const TRADE_QTY_SIGMA = 1.0;
/** Mean resting size of a level at the touch relative to the mean trade size. */
const QUOTE_QTY_MULT = 3;

interface SymbolState {
  spec: SymbolSpec;
  tradeTopic: string;
  quoteTopic: string;
  bookTopic: string;
  /** The symbol's order book: quotes are its top level, trades execute against it. */
  book: SimBook;
  /** Event time of the last snapshot record; NaN before the first. */
  snapTs: number;
  /** Unrounded mid price, evolving by GBM. */
  mid: number;
  /** Last event ts for this symbol; NaN before the first. */
  lastTs: number;
  /** Integer ticks and lots to prices and sizes, exact decimals. */
  px: (ticks: number) => number;
  qty: (lots: number) => number;
  /** Integer spread jitter range (± ticks) around spreadTicks. */
  spreadJitter: number;
}

/**
 * Simulated markets: per symbol a mid price by GBM and an order book around it (sim-book.ts).
 * `next` gives one trade or quote, the rate unit of every feed; with `books` the book records
 * that event caused (a delta, and a snapshot every BOOK_SNAPSHOT_MS) come with it (`nextInto`).
 */
export class MarketSimulator {
  private readonly rng: Rng;
  private readonly states: SymbolState[];
  /** Cumulative weights for picking a symbol. */
  private readonly cumWeights: number[];
  private readonly books: boolean;
  /** Book records of the last `next`, handed out by `nextInto`. */
  private readonly pending: BookEvent[] = [];

  constructor(opts: { seed: number; symbols?: readonly SymbolSpec[]; books?: boolean }) {
    this.rng = new Rng(opts.seed);
    this.books = opts.books ?? false;
    const specs = opts.symbols ?? DEFAULT_SYMBOLS;
    if (specs.length === 0) throw new Error('MarketSimulator needs at least one symbol');
    const names = new Set<string>();
    this.states = specs.map((spec) => {
      validateSpec(spec);
      if (names.has(spec.symbol)) throw new Error(`duplicate symbol ${spec.symbol}`);
      names.add(spec.symbol);
      return {
        spec: { ...spec },
        tradeTopic: `trade.${spec.symbol}`,
        quoteTopic: `quote.${spec.symbol}`,
        bookTopic: `book.${spec.symbol}`,
        book: new SimBook(spec, this.rng, spec.meanQty * QUOTE_QTY_MULT),
        snapTs: NaN,
        mid: spec.price,
        lastTs: NaN,
        px: fromUnits(spec.tick),
        qty: fromUnits(spec.lot),
        spreadJitter: Math.max(1, Math.round(spec.spreadTicks / 3)),
      };
    });
    let acc = 0;
    this.cumWeights = this.states.map((s) => (acc += s.spec.weight));
  }

  /** Produces one event stamped `ts` (epoch ms). The simulator reads no clock. */
  next(ts: number): SimEvent {
    if (!Number.isFinite(ts)) throw new Error(`ts must be finite, got ${ts}`);
    const st = this.pick();
    this.advance(st, ts);
    const { spec, book } = st;

    // The touch around the mid: an integer number of ticks wide, so ask > bid always. The book
    // follows it: orders through it are cancelled, an empty touch gets a new order.
    const spread = Math.max(1, Math.round(spec.spreadTicks) + this.rng.int(2 * st.spreadJitter + 1) - st.spreadJitter);
    const bidTicks = Math.max(1, Math.round(st.mid / spec.tick - spread / 2));
    book.recenter(bidTicks, bidTicks + spread);

    let event: SimEvent;
    if (this.rng.next() < TRADE_SHARE) {
      const side = this.rng.next() < 0.5 ? 'b' : 's';
      // The aggressor lifts the offer / hits the bid: printed at the touch, consuming levels from it.
      const px = side === 'b' ? book.bestAsk() : book.bestBid();
      const lots = this.lots(st, spec.meanQty, TRADE_QTY_SIGMA);
      book.execute(side === 'b' ? 'a' : 'b', lots);
      const tick: TradeTick = { ts, px: st.px(px), qty: st.qty(lots), side };
      event = { topic: st.tradeTopic, tick };
    } else {
      book.churn();
      const tick: QuoteTick = {
        ts,
        bid: st.px(book.bestBid()),
        bsz: st.qty(book.bestBidLots()),
        ask: st.px(book.bestAsk()),
        asz: st.qty(book.bestAskLots()),
      };
      event = { topic: st.quoteTopic, tick };
    }
    if (this.books) this.bookRecords(st, ts);
    else book.clearChanges();
    return event;
  }

  /**
   * Appends the next event to `out`, preceded by the book records it caused (with `books`): a
   * quote is never ahead of the book records that made it the top of the book.
   */
  nextInto(ts: number, out: FeedEvent[]): void {
    const e = this.next(ts);
    for (const b of this.pending) out.push(b);
    this.pending.length = 0;
    out.push(e);
  }

  /** The book records of the event just produced: the delta of its changes, and a periodic snapshot. */
  private bookRecords(st: SymbolState, ts: number): void {
    const { book } = st;
    const first = Number.isNaN(st.snapTs);
    if (!first) {
      const d = book.takeDelta(ts, st.px, st.qty);
      if (d) this.pending.push({ topic: st.bookTopic, tick: d });
    } else book.clearChanges();
    if (first || ts - st.snapTs >= BOOK_SNAPSHOT_MS || ts < st.snapTs) {
      st.snapTs = ts;
      const snap = book.snapshot(ts, st.px, st.qty);
      this.pending.push({ topic: st.bookTopic, tick: snap });
    }
  }

  private pick(): SymbolState {
    const total = this.cumWeights[this.cumWeights.length - 1]!;
    const r = this.rng.next() * total;
    for (let i = 0; i < this.cumWeights.length; i++) {
      if (r < this.cumWeights[i]!) return this.states[i]!;
    }
    return this.states[this.states.length - 1]!;
  }

  /** GBM step over the time since this symbol's previous event (martingale: drift -σ²/2). */
  private advance(st: SymbolState, ts: number): void {
    const elapsed = Number.isNaN(st.lastTs) ? 0 : ts - st.lastTs;
    const dtYears = Math.max(MIN_DT_MS, elapsed) / YEAR_MS;
    const sigma = st.spec.vol;
    st.mid *= Math.exp(-0.5 * sigma * sigma * dtYears + sigma * Math.sqrt(dtYears) * this.rng.normal());
    // Keep lastTs monotonic so a clock step backwards doesn't get its interval counted twice.
    if (!(ts <= st.lastTs)) st.lastTs = ts;
  }

  /** Lognormal size with the given mean, in whole lots, at least one lot. */
  private lots(st: SymbolState, mean: number, sigma: number): number {
    const q = mean * Math.exp(sigma * this.rng.normal() - 0.5 * sigma * sigma);
    return Math.max(1, Math.round(q / st.spec.lot));
  }
}

/**
 * `n` whole units of `unit` as a number: the nearest double to the exact decimal, with no float
 * garbage (0.1 * 3 is 0.30000000000000004). A division by an exact integer when the unit is 1/k
 * (0.01, 0.00001) or a product when it is whole (1000); the string round trip otherwise.
 */
export function fromUnits(unit: number): (n: number) => number {
  if (Number.isInteger(unit)) return (n) => n * unit;
  const k = Math.round(1 / unit);
  if (k > 1 && 1 / k === unit) return (n) => n / k;
  const decimals = decimalsOf(unit);
  return (n) => Number((n * unit).toFixed(decimals));
}

/** Number of decimals needed to write `x` exactly (0.01 → 2, 0.25 → 2, 1000 → 0). */
function decimalsOf(x: number): number {
  for (let d = 0; d <= 15; d++) {
    if (Math.abs(Number(x.toFixed(d)) - x) <= x * 1e-12) return d;
  }
  return 15;
}

function validateSpec(s: SymbolSpec): void {
  const positive: (keyof SymbolSpec)[] = ['price', 'tick', 'lot', 'meanQty', 'weight'];
  for (const k of positive) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`symbol ${s.symbol}: ${k} must be a finite number > 0, got ${String(v)}`);
    }
  }
  if (!Number.isFinite(s.vol) || s.vol < 0) throw new Error(`symbol ${s.symbol}: vol must be finite and >= 0`);
  if (!Number.isFinite(s.spreadTicks) || s.spreadTicks < 0) {
    throw new Error(`symbol ${s.symbol}: spreadTicks must be finite and >= 0`);
  }
  if (s.price / s.tick > 2 ** 40) throw new Error(`symbol ${s.symbol}: price/tick too large to round exactly`);
}
