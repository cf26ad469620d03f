import { isCandleInterval, type CandleInterval } from '../../../protocol/src/candle.js';
import { SYMBOL_PATTERN } from '../../../protocol/src/kinds.js';
import type { CandleTick } from '../../../protocol/src/ticks.js';

/**
 * The record of one closed candle in the candle topic (docs/ingest.md#candle-topic): key
 * `candle.<interval>.<SYMBOL>:<t>`, value the candle as a JSON object `{t,o,h,l,c,v,q,n,x}`.
 * Deterministic (the same candle gives the same bytes on every instance), so the compacted topic
 * keeps one record per candle whichever instance wrote last.
 */
export function candleKey(topic: string, t: number): string {
  return `${topic}:${t}`;
}

export function candleValue(c: CandleTick): string {
  return JSON.stringify({ t: c.t, o: c.o, h: c.h, l: c.l, c: c.c, v: c.v, q: c.q, n: c.n, x: true });
}

export interface CandleRecord {
  topic: string;
  interval: CandleInterval;
  candle: CandleTick;
}

const KEY = /^candle\.([0-9a-z]+)\.([^:]+):(\d+)$/;
const NUMS = ['t', 'o', 'h', 'l', 'c', 'v', 'q', 'n'] as const;

/** One record read back, or why it is unusable. */
export function parseCandleRecord(key: string, value: Buffer | null): CandleRecord | string {
  const m = KEY.exec(key);
  const interval = m?.[1];
  const symbol = m?.[2];
  if (!m || interval === undefined || symbol === undefined || !isCandleInterval(interval) || !SYMBOL_PATTERN.test(symbol)) {
    return `key ${JSON.stringify(key.slice(0, 80))} is not candle.<interval>.<SYMBOL>:<t>`;
  }
  if (value === null) return `${key}: no value`;
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    return `${key}: value is not JSON`;
  }
  if (typeof v !== 'object' || v === null) return `${key}: value is not an object`;
  const o = v as Record<string, unknown>;
  for (const f of NUMS) if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) return `${key}: ${f} must be a finite number`;
  const candle = { t: o.t, o: o.o, h: o.h, l: o.l, c: o.c, v: o.v, q: o.q, n: o.n, x: true } as CandleTick;
  if (String(candle.t) !== m[3]) return `${key}: t ${candle.t} differs from the key`;
  return { topic: `candle.${interval}.${symbol}`, interval, candle };
}
