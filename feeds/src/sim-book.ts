import { Book } from '../../protocol/src/book.js';
import type { BookDeltaRecord, BookSnapshotRecord } from '../../protocol/src/book-record.js';
import type { Level } from '../../protocol/src/book.js';
import type { Rng } from './rng.js';
import type { SymbolSpec } from './symbols.js';

/** Levels per side a book is built with, and kept near by arrivals and cancels. */
export const BOOK_LEVELS = 100;
/** Beyond this many levels per side the worst are dropped when the touch moves (orders far from the market cancelled). */
const MAX_LEVELS = 120;
/** Most arrivals and cancels land within a few levels of the touch (exponential, this mean). */
const NEAR_LEVELS = 8;
const NEAR_SHARE = 0.7;
/** Resting sizes: lognormal around a mean that thins with the distance from the touch. */
const LEVEL_SIGMA = 0.8;
const THIN_LEVELS = BOOK_LEVELS / 3;
/** Share of level slots filled when a book is built. */
const FILL = 0.85;

type Side = 'b' | 'a';

/**
 * One symbol's simulated order book, in integer ticks and lots (exact, whatever the decimals):
 * levels on the tick grid `step` ticks apart around the touch, sizes thinning with distance.
 * The simulator moves the touch with the mid (`recenter`), lets orders arrive and cancel
 * (`churn`) and trades execute against the top (`execute`); every level change is recorded
 * for the next delta record. Never crossed: bids stay at or below the touch bid, asks at or above
 * the touch ask, and a side is never emptied by a cancel.
 */
export class SimBook {
  private readonly book = new Book();
  /** Ticks between the levels orders arrive at. */
  private readonly step: number;
  /** Mean size of a level at the touch, in lots. */
  private readonly meanLots: number;
  /** Level changes since the last delta: side, price in ticks, size in lots (0: removed). */
  private readonly changes: [Side, number, number][] = [];
  /** Upstream sequence of the last record (`u`). */
  private u = 0;

  constructor(
    spec: Readonly<SymbolSpec>,
    private readonly rng: Rng,
    meanLevelQty: number,
  ) {
    this.step = Math.max(1, Math.round(spec.spreadTicks / 4));
    this.meanLots = Math.max(1, meanLevelQty / spec.lot);
  }

  bestBid(): number {
    return this.book.bids.px[0] as number;
  }

  bestAsk(): number {
    return this.book.asks.px[0] as number;
  }

  bestBidLots(): number {
    return this.book.bids.qty[0] as number;
  }

  bestAskLots(): number {
    return this.book.asks.qty[0] as number;
  }

  /** Levels per side (tests). */
  get depth(): { bids: number; asks: number } {
    return { bids: this.book.bids.px.length, asks: this.book.asks.px.length };
  }

  /**
   * Moves the touch to `bid`/`ask` (ticks): orders through it are cancelled (the market moved
   * past them), and an empty touch gets a new order. Builds the book on the first call.
   */
  recenter(bid: number, ask: number): void {
    const { bids, asks } = this.book;
    if (bids.px.length === 0 && asks.px.length === 0) return this.build(bid, ask);
    while (bids.px.length > 0 && (bids.px[0] as number) > bid) this.set('b', bids.px[0] as number, 0);
    while (asks.px.length > 0 && (asks.px[0] as number) < ask) this.set('a', asks.px[0] as number, 0);
    this.follow('b', bid);
    this.follow('a', ask);
  }

  /**
   * One side after the touch moved to `touch`: orders arrive at the touch and at the prices
   * between it and the old best (the side the market moves towards fills in), orders arrive at
   * the far end of a side that got thin, and the farthest are cancelled beyond MAX_LEVELS.
   */
  private follow(side: Side, touch: number): void {
    const s = side === 'b' ? this.book.bids : this.book.asks;
    const dir = side === 'b' ? -1 : 1;
    const old = s.px[0];
    if (old === undefined || old !== touch) {
      let k = 0;
      for (let p = touch; k < BOOK_LEVELS && (old === undefined || (side === 'b' ? p > old : p < old)) && p >= 1; p += dir * this.step, k++)
        if (k === 0 || this.rng.next() < FILL) this.set(side, p, this.draw(k));
    }
    while (s.px.length < BOOK_LEVELS / 2) {
      const far = (s.px[s.px.length - 1] as number) + dir * this.step;
      if (far < 1) break;
      this.set(side, far, this.draw(s.px.length));
    }
    while (s.px.length > MAX_LEVELS) this.set(side, s.px[s.px.length - 1] as number, 0);
  }

  /** A market order of `lots` against `side`: consumes levels from the top (at most all but one side's levels). */
  execute(side: Side, lots: number): void {
    const s = side === 'b' ? this.book.bids : this.book.asks;
    while (lots > 0 && s.px.length > 0) {
      const px = s.px[0] as number;
      const rest = s.qty[0] as number;
      if (lots >= rest && s.px.length > 1) {
        this.set(side, px, 0);
        lots -= rest;
      } else {
        // The last level is only reduced: a side never empties (the next recenter refills the touch anyway).
        this.set(side, px, Math.max(1, rest - lots));
        lots = 0;
      }
    }
  }

  /** One to three orders arriving or cancelling, mostly near the touch; more arrivals when a side is thin. */
  churn(): void {
    const n = 1 + this.rng.int(3);
    for (let i = 0; i < n; i++) {
      const side: Side = this.rng.next() < 0.5 ? 'b' : 'a';
      const s = side === 'b' ? this.book.bids : this.book.asks;
      const len = s.px.length;
      const arrive = Math.min(0.9, Math.max(0.1, 1 - len / (2 * BOOK_LEVELS)));
      if (this.rng.next() < arrive) {
        const k = this.distance();
        const px = side === 'b' ? (s.px[0] as number) - k * this.step : (s.px[0] as number) + k * this.step;
        if (px < 1) continue;
        const i0 = s.find(px);
        this.set(side, px, (i0 >= 0 ? (s.qty[i0] as number) : 0) + this.draw(k));
      } else if (len > 1) {
        // Orders resting at a level cancel a random share of it (all of it, sometimes).
        const at = Math.min(len - 1, this.distance());
        this.set(side, s.px[at] as number, Math.floor((s.qty[at] as number) * this.rng.next()));
      }
    }
  }

  /** The delta record of the changes since the last one, or undefined when nothing changed. */
  takeDelta(ts: number, px: (ticks: number) => number, qty: (lots: number) => number): BookDeltaRecord | undefined {
    if (this.changes.length === 0) return undefined;
    const changes = this.changes.map(([side, p, l]): [Side, number, number] => [side, px(p), l === 0 ? 0 : qty(l)]);
    this.changes.length = 0;
    return { type: 'delta', ts, changes, pu: this.u, u: ++this.u };
  }

  /** The whole book as a snapshot record, with the sequence of the last delta. */
  snapshot(ts: number, px: (ticks: number) => number, qty: (lots: number) => number): BookSnapshotRecord {
    const conv = (l: Level): Level => [px(l[0]), qty(l[1])];
    const { bids, asks } = this.book;
    return { type: 'snapshot', ts, bids: bids.levels(bids.px.length).map(conv), asks: asks.levels(asks.px.length).map(conv), u: this.u };
  }

  /** Forgets recorded changes (no book records are written, or a snapshot covers them). */
  clearChanges(): void {
    this.changes.length = 0;
  }

  private build(bid: number, ask: number): void {
    for (let i = 0; i < BOOK_LEVELS; i++) {
      if (i > 0 && this.rng.next() >= FILL) continue;
      if (bid - i * this.step >= 1) this.set('b', bid - i * this.step, this.draw(i));
      this.set('a', ask + i * this.step, this.draw(i));
    }
  }

  private set(side: Side, px: number, lots: number): void {
    (side === 'b' ? this.book.bids : this.book.asks).set(px, lots);
    this.changes.push([side, px, lots]);
  }

  /** Levels from the touch an order arrives at or cancels from: mostly near, sometimes anywhere. */
  private distance(): number {
    const k = this.rng.next() < NEAR_SHARE ? Math.floor(this.rng.exp(1 / NEAR_LEVELS)) : this.rng.int(BOOK_LEVELS);
    return Math.min(BOOK_LEVELS - 1, k);
  }

  /** A resting size for a level `k` steps from the touch, in lots, at least one. */
  private draw(k: number): number {
    const mean = this.meanLots * (0.25 + 0.75 * Math.exp(-k / THIN_LEVELS));
    return Math.max(1, Math.round(mean * Math.exp(LEVEL_SIGMA * this.rng.normal() - 0.5 * LEVEL_SIGMA * LEVEL_SIGMA)));
  }
}
