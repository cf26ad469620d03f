/**
 * The books scenario's verdicts (validity.ts, bookRunProblems / withBookVerdict): a book fan-out
 * goal stands only when the clients missed nothing, every sampled checksum verified and the
 * gateway ingested the asked rate; otherwise `invalid: <reason>`, never pass or fail.
 */
import { describe, expect, it } from 'vitest';
import { goalResult } from '../src/suite/goals.js';
import type { RunFigures } from '../src/suite/measure.js';
import { withViewOffer } from '../src/suite/scenarios/books.js';
import { bookRunProblems, withBookVerdict, type BookRunCheckInput, type RunCheckInput } from '../src/suite/validity.js';

function book(o: Partial<BookRunCheckInput> & { mismatches?: number; checked?: number } = {}): BookRunCheckInput {
  return {
    label: 'book.BTC-USD',
    gaps: o.gaps ?? 0,
    resyncs: o.resyncs ?? 0,
    verify: { checked: o.checked ?? 100, mismatches: o.mismatches ?? 0, gaps: 0, outOfOrder: 0, errors: [] },
    ingestPerSec: o.ingestPerSec ?? 50_000,
    targetPerSec: 50_000,
  };
}

const RUN: RunCheckInput = {
  label: 'book.BTC-USD',
  delivered: { ticksPerSec: 1000, expectedTicksPerSec: 1000 },
  loadgen: { errors: [] },
  machine: { otherPercent: 5 },
  bottleneck: 'neither',
};

describe('books verdicts', () => {
  it('consistent figures give a verdict (the control)', () => {
    expect(bookRunProblems(book())).toEqual([]);
    const g = withBookVerdict(goalResult('B3', 0.5, {}), [RUN], [book()], { quick: false });
    expect(g.status).toBe('pass');
    expect(g.pass).toBe(true);
  });

  it('a checksum that did not verify, gaps, resyncs or nothing verified make it invalid', () => {
    for (const b of [book({ mismatches: 1 }), book({ gaps: 2 }), book({ resyncs: 1 }), book({ checked: 0 })]) {
      const g = withBookVerdict(goalResult('B3', 0.5, {}), [RUN], [b], { quick: false });
      expect(g.pass).toBeNull();
      expect(g.status).toMatch(/^invalid: book\.BTC-USD: /);
    }
  });

  it('a gateway that ingested under 80 % of the asked rate makes it invalid', () => {
    expect(bookRunProblems(book({ ingestPerSec: 39_000 }))).toEqual(['book.BTC-USD: ingested 39000 change sets/s of the 50000 asked']);
    expect(bookRunProblems(book({ ingestPerSec: 41_000 }))).toEqual([]);
  });

  it('run and book problems are both listed; quick mode never passes', () => {
    const busy = { ...RUN, machine: { otherPercent: 90 } };
    const g = withBookVerdict(goalResult('B3', 0.5, {}), [busy], [book({ mismatches: 3 })], { quick: true });
    expect(g.pass).toBeNull();
    expect(g.status).toContain('other processes used 90 %');
    expect(g.status).toContain('3 of 100 checksums did not verify');
    expect(withBookVerdict(goalResult('B3', 0.5, {}), [RUN], [book()], { quick: true }).status).toBe('smoke');
  });
});

describe('throttled view: expected figure', () => {
  // A view has no seq in GET /v1/topics, so measureRun's expected figure is NaN for it.
  const measured = {
    label: 'book.BTC-USD@100ms',
    clientsSubscribed: 5,
    delivered: { ticksPerSec: 48, expectedTicksPerSec: NaN, ratio: NaN, framesPerSec: 48, bytesPerSec: 9000, ticksPerFrame: 1 },
  } as unknown as RunFigures;

  it('is one merged change set per interval per subscribed client', () => {
    const run = withViewOffer(measured, 100);
    expect(run.delivered.expectedTicksPerSec).toBe(50);
    expect(run.delivered.ratio).toBe(0.96);
    expect(run.delivered.bytesPerSec).toBe(9000);
    expect(measured.delivered.expectedTicksPerSec).toBeNaN();
  });
});
