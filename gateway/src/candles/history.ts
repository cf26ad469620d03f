import { CANDLE_INTERVAL_NAMES, type CandleInterval } from '../../../protocol/src/candle.js';
import type { CandleTick } from '../../../protocol/src/ticks.js';
import { CANDLE_COLS as COLS, packCandle, unpackCandle } from './packed.js';

/** Bytes one stored candle takes (docs/configuration.md, candleRetention). */
export const CANDLE_BYTES = COLS * 8;

/** How many closed candles are kept per (interval, symbol). */
export type CandleRetention = Record<CandleInterval, number>;

/** A series stores up to retention + retention/8 candles, then drops the oldest eighth at once (amortized O(1)). */
class Series {
  private f: Float64Array;
  count = 0;

  constructor(private readonly retention: number) {
    this.f = new Float64Array(Math.min(64, retention + (retention >> 3) + 1) * COLS);
  }

  private t(i: number): number {
    return this.f[i * COLS] as number;
  }

  /** Index of the first candle with t >= `t` (count when none). */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds a candle, or replaces the one with the same `t` (candles read back from Kafka come in any order). */
  put(c: CandleTick): void {
    let i = this.count > 0 && this.t(this.count - 1) < c.t ? this.count : this.lowerBound(c.t);
    if (i === this.count || this.t(i) !== c.t) {
      // Older than everything kept while full: it would be dropped first anyway.
      if (i === 0 && this.count >= this.retention) return;
      i = this.makeRoom(i);
      if (i < 0) return;
    }
    packCandle(this.f, i * COLS, c);
  }

  /** Opens a slot at `i`: where it is after dropping old candles, or -1 when `i` was among those dropped. */
  private makeRoom(i: number): number {
    const cap = this.f.length / COLS;
    if (this.count === cap) {
      const max = this.retention + (this.retention >> 3) + 1;
      if (cap < max) {
        const g = new Float64Array(Math.min(max, cap * 2) * COLS);
        g.set(this.f);
        this.f = g;
      } else {
        const drop = this.count - this.retention + 1;
        this.f.copyWithin(0, drop * COLS, this.count * COLS);
        this.count -= drop;
        i -= drop;
        if (i < 0) return -1;
      }
    }
    if (i < this.count) this.f.copyWithin((i + 1) * COLS, i * COLS, this.count * COLS);
    this.count++;
    return i;
  }

  /** Up to `limit` of the newest `retention` candles with t < before, oldest first. */
  query(limit: number, before: number): CandleTick[] {
    const end = this.lowerBound(before);
    const start = Math.max(end - limit, this.count - this.retention, 0);
    const out: CandleTick[] = [];
    for (let i = start; i < end; i++) out.push(unpackCandle(this.f, i * COLS));
    return out;
  }
}

/**
 * Closed candles per topic (`candle.<interval>.<SYMBOL>`) in memory, for GET /v1/candles: columns
 * of float64 in time order, at most `retention[interval]` per topic (64 B per candle, plus up to an
 * eighth more before the oldest are dropped). Fed with complete closed candles by the engine and,
 * in Kafka mode, with the records of the candle topic.
 */
export class CandleHistory {
  private readonly series = new Map<string, Series>();

  constructor(private readonly retention: CandleRetention) {}

  put(topic: string, interval: CandleInterval, candle: CandleTick): void {
    let s = this.series.get(topic);
    if (s === undefined) {
      const n = this.retention[interval];
      if (n <= 0) return;
      s = new Series(n);
      this.series.set(topic, s);
    }
    s.put(candle);
  }

  /** Up to `limit` closed candles of `topic` with t < before (all when undefined), oldest first. */
  query(topic: string, limit: number, before = Infinity): CandleTick[] {
    return this.series.get(topic)?.query(limit, before) ?? [];
  }

  /** Candles held over all topics. */
  get size(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.count;
    return n;
  }
}

/**
 * The default retention per interval (the candleRetention default): an hour of seconds, a week of
 * minutes, a month of 5 and 15 minutes, a year of hours, ten years of days.
 */
export const DEFAULT_CANDLE_RETENTION: CandleRetention = { '1s': 3600, '1m': 10_080, '5m': 8640, '15m': 2880, '1h': 8760, '1d': 3650 };

/** Parses `1s:3600,1m:10080` (intervals not named keep their default). */
export function parseRetention(s: string): CandleRetention | string {
  const out = { ...DEFAULT_CANDLE_RETENTION };
  for (const part of s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([^:]+):(\d+)$/.exec(part);
    const interval = m?.[1];
    if (!m || interval === undefined || !(CANDLE_INTERVAL_NAMES as readonly string[]).includes(interval)) {
      return `"${part}": expected <interval>:<count> with interval one of ${CANDLE_INTERVAL_NAMES.join(', ')}`;
    }
    out[interval as CandleInterval] = Number(m[2]);
  }
  return out;
}
