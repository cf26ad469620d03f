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
import { readmeTable } from '../src/suite/readme-table.js';
import type { SuiteResults } from '../src/suite/report.js';

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

describe('P3 against the batched raw uWS, two ratios side by side (issue 18 pt 2)', () => {
  // Same load: both ~1 tick per frame; high rate: both batch. Capacity = delivered ÷ main-thread share.
  const batchedSame = run('raw uWS publish, batched', { mainPct: 4 });
  const batchedHigh = run('raw uWS publish, batched high', { offered: 3_000_000, mainPct: 50 });

  it('pairs the baseline run with the highest capacity with tickwire at the same load (strict), and both bests (capacity)', () => {
    const g = ratioGoal('P3', tickwire, high, batchedSame, 'raw uWS publish, batched', { quick: false, baseHigh: batchedHigh });
    // Capacities: tickwire same 1.0M, high 5.0M; batched same 1.25M, high 6.0M.
    expect(g.value).toBeCloseTo(5_000_000 / 6_000_000, 3);
    expect(g.strict?.value).toBeCloseTo(5_000_000 / 6_000_000, 3);
    expect(g.pass).toBe(false); // 0.833 < 0.9
    expect(g.raw.baselineCapacityFrom).toBe('high-rate run');
    expect(g.strict?.how).toMatch(/both in their high-rate run/);
    expect(g.capacityHow).toMatch(/^tickwire's best valid run \(high-rate/);
  });

  it('without a high-rate baseline, strict is the same-load pair and differs from the capacity ratio', () => {
    const g = ratioGoal('P1', tickwire, high, run('ws + JSON', { mainPct: 80 }), 'ws + JSON');
    expect(g.value).toBeCloseTo(5_000_000 / 62_500, 0);
    expect(g.strict?.value).toBeCloseTo(1_000_000 / 62_500, 1);
    expect(g.strict?.how).toMatch(/same-load run/);
  });

  it('an invalid high-rate baseline is not used: the pair falls back to the same-load runs', () => {
    const bad = run('raw uWS publish, batched high', { offered: 3_000_000, delivered: 1_000_000, mainPct: 50 });
    const g = ratioGoal('P3', tickwire, high, batchedSame, 'raw uWS publish, batched', { quick: false, baseHigh: bad });
    expect(g.raw.baselineCapacityFrom).toBe('same-load run');
    expect(g.strict?.value).toBeCloseTo(1_000_000 / 1_250_000, 3);
  });

  it('the README table shows both ratios and how each was obtained', () => {
    const g = ratioGoal('P3', tickwire, high, batchedSame, 'raw uWS publish, batched', { quick: false, baseHigh: batchedHigh });
    const results = {
      suite: 'tickwire-bench',
      startedAt: '2026-12-06T00:00:00.000Z',
      command: 'npm run bench',
      options: { quick: false },
      machine: { hostname: 'h', cpus: 2, cpuModel: 'x', totalMemGB: 1, node: 'v20', git: { commit: 'abc', dirty: false } },
      goals: [g, goalResult('P7', 0.2, {})],
    } as unknown as SuiteResults;
    const block = readmeTable(results, '/r/bench/results/x.json', '/r/README.md');
    expect(block).toContain('| goal | measured | strict (same load) | target | result | note |');
    expect(block).toMatch(/\| \*\*P3\*\* [^|]+\| 0\.833 \| 0\.833 \| ≥ 0\.9 \|/);
    expect(block).toMatch(/\| \*\*P7\*\* [^|]+\| 0\.2 \| {2}\| ≤ 0\.25 \|/);
    expect(block).toMatch(/- \*\*P3\*\* measured \(capacity\): tickwire's best valid run .*; strict: tickwire ÷ raw uWS publish, batched/);
  });
});

describe('P3 needs the same frames on both sides', () => {
  it('a batched baseline whose frames carry far more ticks than tickwire makes P3 invalid', () => {
    const tw = { ...high, delivered: { ...high.delivered, ticksPerFrame: 24 } };
    const base = run('raw uWS publish, batched high', { offered: 3_000_000, mainPct: 50 });
    const baseBig = { ...base, delivered: { ...base.delivered, ticksPerFrame: 52 } };
    const g = ratioGoal('P3', tickwire, tw, run('raw uWS publish, batched', { mainPct: 4 }), 'raw uWS publish, batched', {
      quick: false,
      baseHigh: baseBig,
      sameFrames: true,
    });
    expect(g.pass).toBeNull();
    expect(g.status).toMatch(/^invalid: .*24 ticks\/frame.*52: not the same frames/);
    const same = { ...base, delivered: { ...base.delivered, ticksPerFrame: 26 } };
    const ok = ratioGoal('P3', tickwire, tw, run('raw uWS publish, batched', { mainPct: 4 }), 'raw uWS publish, batched', {
      quick: false,
      baseHigh: same,
      sameFrames: true,
    });
    expect(ok.status).toMatch(/^(pass|fail)$/);
    // A baseline that batches its own way (Centrifugo, P4) is not held to tickwire's frames.
    const own = ratioGoal('P4', tickwire, tw, run('Centrifugo', { mainPct: 4 }), 'Centrifugo', { quick: false, baseHigh: baseBig });
    expect(own.status).toMatch(/^(pass|fail)$/);
    expect(own.raw.baselineCapacityFrom).toBe('high-rate run');
  });
});
