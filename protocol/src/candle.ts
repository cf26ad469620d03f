import type { MsgpackWriter } from './msgpack-writer.js';
import type { CandleTick, StatsTick } from './ticks.js';

export type { CandleTick, StatsTick } from './ticks.js';

/**
 * Candles (`candle.<interval>.<SYMBOL>`) and rolling 24-hour statistics (`stats.<SYMBOL>`): topics
 * the gateway computes from the trades it carries (docs/protocol.md, "Candles and statistics").
 * They are never ingested: a record keyed with one of these kinds is rejected.
 */

/** Candle intervals by their name in the topic, in ms. Buckets are aligned to the epoch (UTC). */
export const CANDLE_INTERVALS = { '1s': 1_000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;

export type CandleInterval = keyof typeof CANDLE_INTERVALS;

export const CANDLE_INTERVAL_NAMES = Object.keys(CANDLE_INTERVALS) as CandleInterval[];

export function isCandleInterval(s: string): s is CandleInterval {
  return Object.hasOwn(CANDLE_INTERVALS, s);
}

/** Field order on the wire (and in fixtures); msgpack writes them in this order. */
export const CANDLE_FIELDS = ['t', 'o', 'h', 'l', 'c', 'v', 'q', 'n', 'x'] as const;
export const STATS_FIELDS = ['ts', 'last', 'open', 'high', 'low', 'v', 'q', 'chg', 'chgPct', 'n'] as const;

/** Candles as fixed-shape msgpack maps: every number float64, `x` a boolean. */
export function writeCandle(w: MsgpackWriter, c: CandleTick): void {
  w.mapHeader(9);
  w.str('t');
  w.f64(c.t);
  w.str('o');
  w.f64(c.o);
  w.str('h');
  w.f64(c.h);
  w.str('l');
  w.f64(c.l);
  w.str('c');
  w.f64(c.c);
  w.str('v');
  w.f64(c.v);
  w.str('q');
  w.f64(c.q);
  w.str('n');
  w.f64(c.n);
  w.str('x');
  w.bool(c.x);
}

export function writeStats(w: MsgpackWriter, s: StatsTick): void {
  w.mapHeader(10);
  for (const f of STATS_FIELDS) {
    w.str(f);
    w.f64(s[f]);
  }
}
