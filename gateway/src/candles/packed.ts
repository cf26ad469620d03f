import type { CandleTick } from '../../../protocol/src/ticks.js';

/**
 * Closed candles stored flat in a Float64Array, CANDLE_COLS numbers each in the order t, o, h,
 * l, c, v, q, n (`x` is not stored: a stored candle is closed). One layout for the history store
 * (history.ts) and the 24 h window (stats.ts).
 */
export const CANDLE_COLS = 8;

/** Writes `c` at offset `o` of `f`. */
export function packCandle(f: Float64Array, o: number, c: Omit<CandleTick, 'x'>): void {
  f[o] = c.t;
  f[o + 1] = c.o;
  f[o + 2] = c.h;
  f[o + 3] = c.l;
  f[o + 4] = c.c;
  f[o + 5] = c.v;
  f[o + 6] = c.q;
  f[o + 7] = c.n;
}

/** The closed candle at offset `o` of `f`. */
export function unpackCandle(f: Float64Array, o: number): CandleTick {
  return {
    t: f[o] as number,
    o: f[o + 1] as number,
    h: f[o + 2] as number,
    l: f[o + 3] as number,
    c: f[o + 4] as number,
    v: f[o + 5] as number,
    q: f[o + 6] as number,
    n: f[o + 7] as number,
    x: true,
  };
}
