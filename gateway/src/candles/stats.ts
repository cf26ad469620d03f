import type { CandleTick, StatsTick } from '../../../protocol/src/ticks.js';
import { CANDLE_COLS as COLS, packCandle } from './packed.js';

/** Closed 1-minute candles a window holds: 24 hours of them. */
export const STATS_MINUTES = 1440;
const MINUTE = 60_000;

/** The parts of an open 1-minute candle the window reads. */
export type OpenMinute = Pick<CandleTick, 't' | 'o' | 'h' | 'l' | 'c' | 'v' | 'q' | 'n'>;

/**
 * One symbol's rolling 24 hours, from its 1-minute candles: a ring of the last 1440 closed
 * minutes (64 B each, 92 KB per symbol once full, allocated on the first close) plus the open one.
 * The window is the open minute (or, when none is open, the minute after the newest closed one)
 * and the 1440 minutes before it, by the trades' own time: it does not slide while no trade
 * arrives. Computing it reads the ring (once a second at most); trades never touch it.
 */
export class StatsWindow {
  private ring: Float64Array | undefined;
  /** Index of the oldest minute held, and how many are held. */
  private head = 0;
  private count = 0;
  private last: StatsTick | undefined;

  /** A closed 1-minute candle (they come in time order). */
  push(c: CandleTick): void {
    const ring = (this.ring ??= new Float64Array(STATS_MINUTES * COLS));
    const i = ((this.head + this.count) % STATS_MINUTES) * COLS;
    packCandle(ring, i, c);
    if (this.count < STATS_MINUTES) this.count++;
    else this.head = (this.head + 1) % STATS_MINUTES;
  }

  /** The statistics now, or undefined when there is no trade yet or nothing changed since the last call that returned some. */
  compute(open: OpenMinute | undefined, ts: number): StatsTick | undefined {
    const ring = this.ring;
    const newestClosed = ring && this.count > 0 ? (ring[((this.head + this.count - 1) % STATS_MINUTES) * COLS] as number) : undefined;
    const ref = open ? open.t : newestClosed === undefined ? undefined : newestClosed + MINUTE;
    if (ref === undefined) return undefined;
    const start = ref - STATS_MINUTES * MINUTE;
    let first = -1;
    let high = -Infinity;
    let low = Infinity;
    let v = 0;
    let q = 0;
    let n = 0;
    let lastPx = 0;
    if (ring) {
      for (let j = 0; j < this.count; j++) {
        const i = ((this.head + j) % STATS_MINUTES) * COLS;
        if ((ring[i] as number) < start) continue;
        if (first === -1) first = i;
        if ((ring[i + 2] as number) > high) high = ring[i + 2] as number;
        if ((ring[i + 3] as number) < low) low = ring[i + 3] as number;
        lastPx = ring[i + 4] as number;
        v += ring[i + 5] as number;
        q += ring[i + 6] as number;
        n += ring[i + 7] as number;
      }
    }
    let openPx = first === -1 ? 0 : ((ring as Float64Array)[first + 1] as number);
    if (open) {
      if (first === -1) openPx = open.o;
      if (open.h > high) high = open.h;
      if (open.l < low) low = open.l;
      lastPx = open.c;
      v += open.v;
      q += open.q;
      n += open.n;
    }
    if (n === 0) return undefined;
    const chg = lastPx - openPx;
    const stats: StatsTick = { ts, last: lastPx, open: openPx, high, low, v, q, chg, chgPct: (chg / openPx) * 100, n };
    if (this.last && sameStats(this.last, stats)) return undefined;
    this.last = stats;
    return stats;
  }
}

function sameStats(a: StatsTick, b: StatsTick): boolean {
  return a.ts === b.ts && a.last === b.last && a.open === b.open && a.high === b.high && a.low === b.low && a.v === b.v && a.n === b.n;
}
