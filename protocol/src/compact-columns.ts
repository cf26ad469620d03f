import type { BookChange, BookSnapshot, BookUnits, Level } from './book.js';
import type { PayloadOf, TopicKind } from './kinds.js';
import type { Payload, QuoteTick, TradeTick } from './ticks.js';

/**
 * The per-kind column forms of `tickwire.v1.msgpack-compact` (docs/protocol.md, "Compact
 * encoding"). A frame's ticks become a few arrays of small integers: prices and sizes in the
 * symbol's units, timestamps and prices as deltas. Pure and browser-safe; the codec (compact.ts)
 * writes the columns as msgpack.
 */

/**
 * Integer scales of a symbol: a price is `n / px`, a size `n / qty`. Scales rather than the tick
 * and lot sizes themselves because dividing an integer by an integer gives exactly the double
 * nearest to the decimal (65016.25 from 6501625 / 100), the same double a producer's JSON parse
 * gave; multiplying by a float tick does not (3 * 0.1 is 0.30000000000000004).
 */
export interface Scales {
  px: number;
  qty: number;
}

/** The scale of one unit: 1/unit rounded for units below 1 (0.01 -> 100), 1 otherwise (values are then whole numbers). */
export function scaleOf(unit: number): number {
  if (!(unit > 0) || unit >= 1) return 1;
  const s = Math.round(1 / unit);
  return Number.isSafeInteger(s) ? s : 1;
}

export function scalesOf(units: BookUnits): Scales {
  return { px: scaleOf(units.tick), qty: scaleOf(units.lot) };
}

/**
 * Column values stay within ±2^52 so that every delta between two of them is a safe integer
 * (JavaScript numbers, and msgpack's int64, carry it exactly).
 */
const MAX_UNITS = 2 ** 52;

/**
 * `x` in units of `1/scale`, or NaN when `x` is not on that grid: when `n / scale` would not give
 * back exactly `x`. This is the whole on-grid rule; there is no tolerance, so nothing is rounded.
 */
export function toScaled(x: number, scale: number): number {
  const n = Math.floor(x * scale + 0.5);
  return Math.abs(n) <= MAX_UNITS && n / scale === x ? n : NaN;
}

/** One column: integers, a string of one character per tick, or one integer list per tick. */
export type Column = number[] | string | number[][];

/** A kind's columns in wire order, named for readers (the wire is positional; the scales go before them). */
export type Columns = [name: string, column: Column][];

/**
 * How a kind's ticks are written in compact frames: `columns` gives a frame's ticks as columns, or
 * undefined when one of them cannot be (a value off its grid, a shape the form does not cover);
 * `map` writes the kind as the msgpack subprotocol does (free-form events).
 */
export type CompactForm<P extends Payload> =
  'map' | { columns(ticks: readonly P[], from: number, to: number, s: Scales): Columns | undefined };

/** `first, then differences`: the wire form of ts and price columns. Input already checked on-grid. */
function deltas(values: number[]): number[] {
  for (let i = values.length - 1; i > 0; i--) values[i] = (values[i] as number) - (values[i - 1] as number);
  return values;
}

/** Milliseconds must be whole: a fractional ts is off the grid. */
const msOf = (ts: number): number => toScaled(ts, 1);

const trade: CompactForm<TradeTick> = {
  columns(ticks, from, to, s) {
    const ts: number[] = [];
    const px: number[] = [];
    const qty: number[] = [];
    let side = '';
    for (let i = from; i < to; i++) {
      const t = ticks[i] as TradeTick;
      const a = msOf(t.ts);
      const b = toScaled(t.px, s.px);
      const c = toScaled(t.qty, s.qty);
      if (Number.isNaN(a + b + c) || (t.side !== 'b' && t.side !== 's')) return undefined;
      ts.push(a);
      px.push(b);
      qty.push(c);
      side += t.side;
    }
    return [
      ['ts', deltas(ts)],
      ['px', deltas(px)],
      ['qty', qty],
      ['side', side],
    ];
  },
};

const quote: CompactForm<QuoteTick> = {
  columns(ticks, from, to, s) {
    const ts: number[] = [];
    const bid: number[] = [];
    const bsz: number[] = [];
    const ask: number[] = [];
    const asz: number[] = [];
    for (let i = from; i < to; i++) {
      const q = ticks[i] as QuoteTick;
      const a = msOf(q.ts);
      const b = toScaled(q.bid, s.px);
      const c = toScaled(q.bsz, s.qty);
      const d = toScaled(q.ask, s.px);
      const e = toScaled(q.asz, s.qty);
      if (Number.isNaN(a + b + c + d + e)) return undefined;
      ts.push(a);
      bid.push(b);
      bsz.push(c);
      // The spread in ticks: a small number that rarely changes, where the ask itself is as large as the bid.
      ask.push(d - b);
      asz.push(e);
    }
    return [
      ['ts', deltas(ts)],
      ['bid', deltas(bid)],
      ['bsz', bsz],
      ['ask', ask],
      ['asz', asz],
    ];
  },
};

/** Levels as `[px, qty, px, qty, …]`, the first price absolute and each next one the difference to the previous level's. */
function flatLevels(levels: readonly Level[], s: Scales): number[] | undefined {
  const out: number[] = [];
  let prev = 0;
  for (const [px, qty] of levels) {
    const p = toScaled(px, s.px);
    const q = toScaled(qty, s.qty);
    if (Number.isNaN(p + q)) return undefined;
    out.push(out.length === 0 ? p : p - prev, q);
    prev = p;
  }
  return out;
}

/**
 * Book change sets (book.ts). A snapshot (it has `bids`) and a change set flagged `stale` take the
 * map form: both are rare (one per subscription, one per upstream rejection), and a snapshot
 * carries its own tick and lot.
 */
const book: CompactForm<BookChange | BookSnapshot> = {
  columns(ticks, from, to, s) {
    const ts: number[] = [];
    const cs: number[] = [];
    const b: number[][] = [];
    const a: number[][] = [];
    for (let i = from; i < to; i++) {
      const p = ticks[i] as BookChange | BookSnapshot;
      if ('bids' in p || p.stale) return undefined;
      const t = msOf(p.ts);
      const bl = flatLevels(p.b, s);
      const al = flatLevels(p.a, s);
      if (Number.isNaN(t) || !bl || !al || !Number.isSafeInteger(p.cs)) return undefined;
      ts.push(t);
      cs.push(p.cs);
      b.push(bl);
      a.push(al);
    }
    return [
      ['ts', deltas(ts)],
      ['b', b],
      ['a', a],
      ['cs', cs],
    ];
  },
};

/**
 * The compact form of every kind. Adding a kind to the registry (kinds.ts) fails to compile until
 * it has an entry here: a column form, or `'map'` to be written as in msgpack.
 */
export const COMPACT_FORMS = {
  trade,
  quote,
  book,
  // Computed once per flush per symbol and interval (candles) or once a second (stats): too few
  // to be worth columns.
  candle: 'map',
  stats: 'map',
  user: 'map',
  sys: 'map',
} as const satisfies { [K in TopicKind]: CompactForm<PayloadOf<K>> };

/** A kind's form, typed for callers that hold payloads of unknown kind (the codec). */
export function compactForm(kind: TopicKind): CompactForm<Payload> {
  return COMPACT_FORMS[kind];
}
