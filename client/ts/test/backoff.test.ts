import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, validateBackoff } from '../src/backoff.js';

const o = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };

describe('backoff: exponential with full jitter', () => {
  it('the ceiling grows by factor per attempt and stops at maxDelayMs', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => backoffCeiling(n, o))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(backoffCeiling(1, { ...o, factor: 1.5 })).toBe(100);
    expect(backoffCeiling(3, { ...o, factor: 1.5 })).toBe(225);
  });

  it('the delay is random() × ceiling: 0 at random 0, just under the ceiling at random → 1', () => {
    expect(backoffDelay(3, o, () => 0)).toBe(0);
    expect(backoffDelay(3, o, () => 0.5)).toBe(200);
    expect(backoffDelay(3, o, () => 0.999999)).toBe(399);
    expect(backoffDelay(10, o, () => 0.999999)).toBe(999);
  });

  it('full jitter spreads delays over the whole [0, ceiling) range', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const ds = Array.from({ length: 2000 }, () => backoffDelay(4, o, rnd));
    expect(Math.min(...ds)).toBeLessThan(40);
    expect(Math.max(...ds)).toBeGreaterThan(760);
    expect(ds.every((d) => d >= 0 && d < 800)).toBe(true);
  });

  it('validates options', () => {
    expect(validateBackoff({ ...DEFAULT_BACKOFF })).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 });
    expect(() => validateBackoff({ ...o, factor: 0.5 })).toThrow(RangeError);
    expect(() => validateBackoff({ ...o, maxDelayMs: 10 })).toThrow(RangeError);
    expect(() => validateBackoff({ ...o, initialDelayMs: -1 })).toThrow(RangeError);
  });
});
