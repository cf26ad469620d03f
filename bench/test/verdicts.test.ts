/**
 * Issue 18 point 1: a goal's verdict only from runs whose figures agree with themselves. The
 * fan-out goal function gets made-up runs that contradict themselves (the ws+JSON baseline
 * "delivering 66× what was offered", client errors, a machine busy with other work) and must
 * say `invalid`, never pass; a quick run says `smoke`.
 */
import { describe, expect, it } from 'vitest';
import type { RunFigures } from '../src/suite/measure.js';
import { ratioGoal } from '../src/suite/scenarios/fanout.js';
import { smokeOrStatus } from '../src/suite/validity.js';
import { goalResult } from '../src/suite/goals.js';

/** A run that delivered what was offered, at `mainPct` % of the server's main thread. */
interface Over {
  delivered?: number;
  offered?: number;
  mainPct?: number;
  errors?: string[];
  other?: number;
  span?: number;
  bottleneck?: RunFigures['bottleneck'];
}

function run(label: string, over: Over = {}): RunFigures {
  const offered = over.offered ?? 50_000;
  const delivered = over.delivered ?? offered;
  const main = over.mainPct ?? 20;
  return {
    label,
    kind: 'tickwire',
    clients: 100,
    clientsSubscribed: 100,
    windowSec: 10,
    delivered: {
      ticksPerSec: delivered,
      expectedTicksPerSec: offered,
      ratio: delivered / offered,
      offeredSpanSec: over.span ?? 10,
      framesPerSec: delivered,
      bytesPerSec: delivered * 60,
      ticksPerFrame: 1,
    },
    latencyMs: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5, count: 1000 } as RunFigures['latencyMs'],
    correctness: {
      gaps: 0,
      missedTicks: 0,
      resyncs: 0,
      resyncSkippedTicks: 0,
      outOfOrder: 0,
      updBeforeSnap: 0,
      repeatedSnaps: 0,
      badFrames: 0,
      closeCodes: {},
      closeCodesAtEnd: {},
      gapSamples: [],
    },
    server: {
      pid: 1,
      cpuPercent: main,
      mainThreadPercent: main,
      cpuSeconds: 2,
      rssMB: 50,
      peakRssMB: 50,
      ticksPerCpuSec: 1,
      projectedTicksPerSecAtFullCore: 1,
      statsDelta: {},
    },
    loadgen: { cpuPercent: 50, workerElu: [0.3, 0.3], connectMs: 100, errors: over.errors ?? [] },
    machine: { loadavg1: 1, busyPercent: 100, otherPercent: over.other ?? 5, stealPercent: 0 },
    bottleneck: over.bottleneck ?? 'neither',
  };
}

const tickwire = run('tickwire', { mainPct: 5 });
const high = run('tickwire high', { offered: 3_000_000, mainPct: 60 });

describe('fan-out verdicts (issue 18 pt 1)', () => {
  it('consistent figures pass (the control)', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80 }), 'ws + JSON');
    expect(g.value).toBeGreaterThan(15);
    expect(g.pass).toBe(true);
    expect(g.status).toBe('pass');
  });

  it('a baseline that "delivered 66× what was offered" makes the goal invalid, not a pass', () => {
    const base = run('ws + JSON', { delivered: 50_000, offered: 50_000 / 66, mainPct: 80 });
    const g = ratioGoal('P1', tickwire, high, base, 'ws + JSON');
    expect(g.pass).toBeNull();
    expect(g.status).toMatch(/^invalid: ws \+ JSON delivered 66\.00× what was offered/);
  });

  it('tickwire over-delivering is invalid too', () => {
    const over = run('tickwire', { delivered: 60_000, offered: 50_000, mainPct: 5 });
    const g = ratioGoal('P2', over, undefined, run('Socket.IO', { mainPct: 90 }), 'Socket.IO');
    expect(g.pass).toBeNull();
    expect(g.status).toMatch(/^invalid: tickwire delivered 1\.20×/);
  });

  it('a small over-count within the tolerance stands', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { delivered: 51_000, offered: 50_000, mainPct: 80 }), 'ws + JSON');
    expect(g.status).toBe('pass');
  });

  it('client errors make the goal invalid', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80, errors: ['ECONNRESET (×3)'] }), 'ws + JSON');
    expect(g.pass).toBeNull();
    expect(g.status).toMatch(/^invalid: .*client errors \(ECONNRESET/);
  });

  it('other processes busy during a run make the goal invalid (limit from --max-other-cpu)', () => {
    const base = run('ws + JSON', { mainPct: 80, other: 120 });
    expect(ratioGoal('P1', tickwire, high, base, 'ws + JSON').status).toMatch(/^invalid: .*other processes used 120 % CPU \(max 50 %\)/);
    const limits = { overDeliveryTolerance: 0.05, maxOtherCpuPercent: 150, minOfferedSpanShare: 0.8 };
    const lax = ratioGoal('P1', tickwire, high, base, 'ws + JSON', { quick: false, limits });
    expect(lax.status).toBe('pass');
  });

  it('an offered count sampled over a fraction of the window is invalid', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80, span: 0.3 }), 'ws + JSON');
    expect(g.status).toMatch(/^invalid: ws \+ JSON: offered count sampled over 0\.30 s of the 10 s window/);
  });

  it('a run the load generator limited is labelled so', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80, bottleneck: 'load generator' }), 'ws + JSON');
    expect(g.limitedBy).toMatch(/load generator \(ws \+ JSON\)/);
  });

  it('quick mode never passes or fails a goal: smoke; invalid stays invalid', () => {
    const ok = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80 }), 'ws + JSON', { quick: true });
    expect(ok.pass).toBeNull();
    expect(ok.status).toBe('smoke');
    expect(ok.value).toBeGreaterThan(15);
    const absurd = run('ws + JSON', { delivered: 50_000, offered: 700, mainPct: 80 });
    const bad = ratioGoal('P1', tickwire, high, absurd, 'ws + JSON', { quick: true });
    expect(bad.status).toMatch(/^invalid:/);
    // Any goal of a quick run (the runner applies this to all of them).
    const failing = goalResult('P7', 0.55, {});
    expect(failing.pass).toBe(false);
    expect(smokeOrStatus(failing, true)).toMatchObject({ pass: null, status: 'smoke' });
    expect(smokeOrStatus(failing, false)).toMatchObject({ pass: false, status: 'fail' });
  });
});
