import { describe, expect, it } from 'vitest';
import { sinceBase } from '../src/transport/limits.js';

describe('sinceBase', () => {
  it('keeps differences of times exact: now, far ahead (past a small integer), before the origin, fractional', () => {
    const now = Date.now();
    for (const [a, b] of [
      [now, now + 1],
      [now, now + 30 * 86_400_000],
      [0, 1000],
      [now + 0.5, now + 2.25],
    ] as const)
      expect(sinceBase(b) - sinceBase(a)).toBe(b - a);
  });
});
