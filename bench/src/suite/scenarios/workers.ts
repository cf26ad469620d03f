/**
 * Workers (issue 9, item 5): fan-out with workers = 1 and workers = N (N = cores) under the same
 * load. The gateway runs as a child process (`--workers 1`, then `--workers N`); the load
 * generator's clients read each upd header-only (exact seq checks, cheap to read), so that as
 * much of the machine as possible is left to the gateway.
 *
 * Figures per run: delivered ticks/s, gateway CPU (all threads, and the main thread), delivered
 * ticks per gateway CPU-second. The goal value is the capacity ratio N ÷ 1 (goal ≥ 0.8·N):
 * - workers = 1: delivered ÷ main-thread share = ticks/s at one saturated core (as fanout.ts);
 * - workers = N: delivered ticks per gateway CPU-second × N = ticks/s with N cores saturated.
 * Both are linear projections unless the gateway was saturated; on a machine where the load
 * generator shares the cores, the gateway cannot be driven to N saturated cores, which is why
 * the projection (and ticks per CPU-second, reported beside it) stands for the ratio.
 *
 * Run alone: npm run bench -- --only workers [--quick] [--clients N] [--rate R]
 */
import { availableParallelism } from 'node:os';
import { passOf } from '../goals.js';
import { summarize, type RunFigures } from '../measure.js';
import { fmt, round, sleep } from '../stats.js';
import { capacity, runFanout } from './fanout.js';
import type { GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

const GOAL_ID = 'W1';

/** Capacity with N workers: ticks per gateway CPU-second (all threads) × N saturated cores. */
export function capacityN(r: RunFigures, n: number): number {
  return r.server.ticksPerCpuSec * n;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = Math.max(2, availableParallelism());
  const q = ctx.opts.quick;
  const p = {
    clients: ctx.opts.clients ?? (q ? 200 : 500),
    rate: ctx.opts.rate ?? 3000,
    durationSec: ctx.opts.durationSec ?? (q ? 4 : 10),
    warmupSec: 2,
  };
  const runs: RunFigures[] = [];
  for (const w of [1, n]) {
    const f = await runFanout(
      ctx,
      {
        key: `workers-${w}`,
        server: 'tickwire',
        label: `tickwire, workers=${w}`,
        kind: 'tickwire-header',
        rate: p.rate,
        extra: ['--workers', String(w)],
      },
      { ...p, topics: 1 },
    );
    ctx.log(summarize(f));
    runs.push(f);
    await sleep(500);
  }
  const [one, many] = runs as [RunFigures, RunFigures];
  const c1 = capacity(one);
  const cn = capacityN(many, n);
  const value = round(cn / c1, 3);
  const goal = 0.8 * n;
  const gaps = one.correctness.gaps + many.correctness.gaps + one.correctness.outOfOrder + many.correctness.outOfOrder;
  const raw = {
    workers: n,
    clients: p.clients,
    feedRate: p.rate,
    capacityTicksPerSec: { one: round(c1, 0), many: round(cn, 0) },
    deliveredTicksPerSec: { one: one.delivered.ticksPerSec, many: many.delivered.ticksPerSec },
    deliveredOfExpected: { one: one.delivered.ratio, many: many.delivered.ratio },
    deliveredRatioAtSameLoad: round(many.delivered.ticksPerSec / one.delivered.ticksPerSec, 3),
    gatewayCpuPercent: { one: one.server.cpuPercent, many: many.server.cpuPercent },
    mainThreadPercent: { one: one.server.mainThreadPercent, many: many.server.mainThreadPercent },
    ticksPerGatewayCpuSec: { one: one.server.ticksPerCpuSec, many: many.server.ticksPerCpuSec },
    loadgenCpuPercent: { one: one.loadgen.cpuPercent, many: many.loadgen.cpuPercent },
    otherPercent: { one: one.machine.otherPercent, many: many.machine.otherPercent },
    bottleneck: { one: one.bottleneck, many: many.bottleneck },
    gaps,
  };
  const note = [
    `capacity: workers=1 ${fmt(c1, 2)} ticks/s at one saturated core; workers=${n} ${fmt(cn, 2)} ticks/s at ${n} saturated ` +
      `cores (${fmt(many.server.ticksPerCpuSec, 2)} ticks per gateway CPU-second × ${n})`,
    `same load: delivered ${fmt(one.delivered.ticksPerSec, 2)} vs ${fmt(many.delivered.ticksPerSec, 2)} ticks/s; gateway ` +
      `CPU ${one.server.cpuPercent} % vs ${many.server.cpuPercent} %`,
    `limited by: ${one.bottleneck} / ${many.bottleneck}`,
  ].join('; ');
  const result: GoalResult = {
    id: GOAL_ID,
    title: `Fan-out capacity with ${n} workers ÷ with 1 worker (goal ≥ 0.8 × N)`,
    value,
    goal,
    direction: 'min',
    pass: gaps > 0 ? false : passOf(value, goal, 'min'),
    note: gaps > 0 ? `${note}; clients saw ${gaps} sequence anomalies: fails` : note,
    raw,
  };
  const table = [
    '| workers | delivered ticks/s | of expected | gateway CPU % (main) | ticks per gateway CPU-s | capacity ticks/s | load-gen ' +
      'CPU % | other % | limited by |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...runs.map(
      (r, i) =>
        `| ${i === 0 ? 1 : n} | ${fmt(r.delivered.ticksPerSec, 2)} | ${(r.delivered.ratio * 100).toFixed(1)} % ` +
        `| ${r.server.cpuPercent} (${r.server.mainThreadPercent}) | ${fmt(r.server.ticksPerCpuSec, 2)} ` +
        `| ${fmt(i === 0 ? c1 : cn, 2)} | ${r.loadgen.cpuPercent} | ${r.machine.otherPercent} | ${r.bottleneck} |`,
    ),
  ].join('\n');
  return {
    goals: [result],
    data: { runs },
    notes: [
      `Load: ${p.clients} clients on quote.BTC-USD (header-only check), feed ${p.rate} ticks/s, window ${p.durationSec} s ` +
        `after ${p.warmupSec} s warm-up; gateway with --workers 1, then --workers ${n}.`,
      table,
      `The load generator runs on the same ${availableParallelism()} cores as the gateway, so neither run saturates ${n} cores; ` +
        `capacity is a linear projection from CPU used (see the module comment). With N workers the primary thread (source, ` +
        `sequencing, one encode per flush) is the serial part, and each worker decodes every batch: that per-worker cost does not ` +
        `shrink with N, which bounds the ratio below N.`,
    ],
  };
}

export const scenarios: Scenario[] = [
  { id: 'workers', group: 'workers', title: 'Fan-out with 1 vs N workers (issue 9)', quick: true, run },
];
