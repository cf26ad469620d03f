/**
 * Candles for the detail panel's chart, pure: the intervals the gateway computes, the payload
 * check, and CandleSeries, which merges the closed history (GET /v1/candles) with the live
 * `candle.<interval>.<SYMBOL>` stream in either arrival order and tells the chart what to redraw.
 */
import type { Candle } from '../client/ts/src/index.js';

/** The intervals of `candle.<interval>.<SYMBOL>`, shortest first. */
export const INTERVALS = ['1s', '1m', '5m', '15m', '1h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

const NUMERIC = ['t', 'o', 'h', 'l', 'c', 'v'] as const;

/** A payload that has what the chart draws (anything else is counted and skipped, not drawn). */
export function isCandle(x: unknown): x is Candle {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return NUMERIC.every((k) => typeof r[k] === 'number' && Number.isFinite(r[k]));
}

/** What the chart must draw since the last `take`. */
export interface CandleChanges {
  /** Redraw everything from `candles` (history arrived, or an older candle changed). */
  reset: boolean;
  candles: readonly Candle[];
  /** Otherwise: the newest candles that changed or opened, oldest first (the chart's incremental update). */
  updates: Candle[];
}

/** The candles of one topic, oldest first, at most `max` (the oldest are dropped). */
export class CandleSeries {
  private list: Candle[] = [];
  private reset = true;
  private updates: Candle[] = [];

  constructor(private readonly max = 2000) {}

  get candles(): readonly Candle[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  /** Merges closed history (any order). A candle already received live for the same bucket is kept: it is as new or newer. */
  addHistory(history: readonly Candle[]): void {
    const byT = new Map<number, Candle>();
    for (const c of history) byT.set(c.t, c);
    for (const c of this.list) byT.set(c.t, c);
    this.list = [...byT.values()].sort((a, b) => a.t - b.t);
    this.trim();
    this.reset = true;
    this.updates = [];
  }

  /** One live candle: the current bucket updated, a new bucket opened, or (rarely) an older one corrected. */
  upsert(c: Candle): void {
    const last = this.list.at(-1);
    if (last === undefined || c.t > last.t) {
      this.list.push(c);
      this.trim();
      this.updates.push(c);
    } else if (c.t === last.t) {
      this.list[this.list.length - 1] = c;
      this.updates.push(c);
    } else {
      const i = this.list.findIndex((x) => x.t >= c.t);
      if (this.list[i]?.t === c.t) this.list[i] = c;
      else this.list.splice(i, 0, c);
      this.trim();
      this.reset = true;
    }
  }

  /** Drops everything (a stream restart on another interval uses a new series instead). */
  clear(): void {
    this.list = [];
    this.reset = true;
    this.updates = [];
  }

  /** What changed since the last take; resets the change tracking. */
  take(): CandleChanges {
    const out: CandleChanges = { reset: this.reset, candles: this.list, updates: this.reset ? [] : this.updates };
    this.reset = false;
    this.updates = [];
    return out;
  }

  private trim(): void {
    if (this.list.length > this.max) this.list.splice(0, this.list.length - this.max);
  }
}
