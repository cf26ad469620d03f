import { describe, expect, it } from 'vitest';
import { goalResult } from '../src/suite/goals.js';
import { p8PairProblems, pairVerdict, type P8Input } from '../src/suite/scenarios/compression.js';
import { p8bProblems } from '../src/suite/scenarios/wire.js';

/** P8 (issue 18 point 6): compression on ÷ off per gateway CPU-second, only from a fair pair of runs. */
const run = (o: Partial<P8Input> = {}): P8Input => ({
  label: 'on',
  clients: 500,
  rate: 200,
  expectedTicksPerSec: 100_000,
  deliveredRatio: 1,
  ticksPerCpuSec: 2e6,
  ...o,
});

describe('P8: deliveries per CPU-second, compression on ÷ off', () => {
  it('is the two-part goal: ≥ 0.8 per CPU-second (P8), ≤ 0.12 bytes of JSON one-tick (P8b)', () => {
    expect(goalResult('P8', 0.85, {}, '').pass).toBe(true);
    expect(goalResult('P8', 0.7, {}, '').pass).toBe(false);
    expect(goalResult('P8b', 0.1, {}, '').pass).toBe(true);
    expect(goalResult('P8b', 0.2, {}, '').pass).toBe(false);
  });

  it('a consistent pair passes its verdict through', () => {
    const g = goalResult('P8', 0.9, {}, '');
    expect(p8PairProblems(run(), run({ label: 'off' }))).toEqual([]);
    expect(pairVerdict(g, [])).toEqual(g);
  });

  it.each([
    ['another load', run({ label: 'off', clients: 100 }), /not the same load/],
    ['other offered ticks', run({ label: 'off', expectedTicksPerSec: 50_000 }), /offered ticks\/s differ/],
    ['a run that fell behind', run({ label: 'off', deliveredRatio: 0.6 }), /off delivered 60.0 %/],
    ['66× over-delivery', run({ label: 'off', deliveredRatio: 66 }), /delivered 6600.0 %/],
    ['no CPU figure', run({ label: 'off', ticksPerCpuSec: Number.NaN }), /no CPU figure/],
  ])('%s makes a passing ratio invalid', (_what, off, why) => {
    const problems = p8PairProblems(run(), off);
    expect(problems.join('; ')).toMatch(why);
    const g = pairVerdict(goalResult('P8', 5, {}, ''), problems);
    expect(g.pass).toBeNull();
    expect(g.status).toMatch(/^invalid: /);
  });

  it('keeps the reasons a run already gave', () => {
    const g = pairVerdict({ ...goalResult('P8', 5, {}, ''), pass: null, status: 'invalid: other processes used 150 % CPU' }, ['x']);
    expect(g.status).toBe('invalid: other processes used 150 % CPU; x');
  });

  it('P8b bytes count only when both compact clients saw the same gap-free stream', () => {
    expect(p8bProblems({ ticks: 1000, gaps: 0 }, { ticks: 1020, gaps: 0 })).toEqual([]);
    expect(p8bProblems({ ticks: 0, gaps: 0 }, { ticks: 1000, gaps: 0 }).join()).toMatch(/no ticks/);
    expect(p8bProblems({ ticks: 1000, gaps: 2 }, { ticks: 1000, gaps: 0 }).join()).toMatch(/gaps/);
    expect(p8bProblems({ ticks: 500, gaps: 0 }, { ticks: 1000, gaps: 0 }).join()).toMatch(/different traffic/);
  });
});
