/**
 * Stalled clients (P10): healthy clients' p99 tick latency with 10 % of the clients stalled vs
 * with none, and zero silent gaps.
 *
 * Two runs against a fresh gateway each, same feed, same N clients (4 topics each):
 * - baseline: every client reads;
 * - stalled: 10 % of the clients (in a load-generator worker of their own, so their backlog
 *   never delays the healthy ones' reading) stop reading as soon as they are subscribed (socket
 *   paused) and through the whole window, then read again and are checked for a while longer.
 * The healthy clients' p99 of the stalled run ÷ the p99 of the baseline run is the goal value.
 * Silent gaps = sequence jumps without a `resync: true` snapshot, on healthy and stalled clients
 * (after they resume); announced resyncs and 4008 closes are not silent and are reported apart.
 */
import { groupedBarChart } from '../charts.js';
import { goalResult, notMeasured } from '../goals.js';
import { measureRun, summarize, SYMBOLS, type RunFigures } from '../measure.js';
import { fmt, round, sleep } from '../stats.js';
import { startServer, topicsAndSymbols, urlOf } from '../servers.js';
import type { ChartSpec, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const q = ctx.opts.quick;
  // Few clients at a high rate: each stalled client must fall MBs behind (to pass the kernel's
  // socket buffers and reach the gateway's slow-consumer rule) while the load generator, which
  // decodes every tick of the healthy ones, stays far from saturation.
  const clients = 50;
  const rate = ctx.opts.rate ?? 10_000;
  const durationSec = ctx.opts.durationSec ?? (q ? 3 : 20);
  const drainMs = q ? 2000 : 5000;
  const { topics, symbols } = topicsAndSymbols(4, SYMBOLS);
  const nStalled = Math.max(1, Math.round(clients * 0.1));
  // Spread over the index range (every 10th client).
  const stalled = Array.from({ length: nStalled }, (_, k) => Math.min(clients - 1, k * Math.floor(clients / nStalled)));
  // Interleaved repetitions (none, stalled, none, stalled, ...): p99 on a shared machine moves
  // with whatever else runs, so each condition is measured more than once in a full run.
  const reps = q ? 1 : 2;
  const all: { none: RunFigures[]; stalled: RunFigures[] } = { none: [], stalled: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, stall] of [
      ['none stalled', undefined],
      ['10 % stalled', { clients: stalled, drainMs }],
    ] as const) {
      const gw = await startServer('tickwire', { rate, symbols });
      try {
        await sleep(300);
        const r = await measureRun({
          label: name,
          server: gw,
          isTickwire: true,
          url: urlOf('tickwire', gw.port),
          kind: 'tickwire',
          clients,
          topics,
          durationMs: durationSec * 1000,
          warmupMs: q ? 1000 : 2000,
          ...(stall ? { stall } : {}),
          ctx,
        });
        (stall ? all.stalled : all.none).push(r);
        ctx.log(
          `rep ${rep + 1}/${reps} ` +
            summarize(r) +
            (r.stalled
              ? ` | stalled: ${r.stalled.clients} clients, gaps ${r.stalled.total.gaps}, resyncs ${r.stalled.total.resyncs}, ` +
                `closes ${JSON.stringify(r.stalled.closeCodes)}`
              : ''),
        );
      } finally {
        await gw.stop();
      }
      await sleep(300);
    }
  }
  const runs: Record<string, RunFigures> = {};
  if (all.none.length) runs['none stalled'] = all.none[all.none.length - 1]!;
  if (all.stalled.length) runs['10 % stalled'] = all.stalled[all.stalled.length - 1]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sumOf = (xs: RunFigures[], f: (r: RunFigures) => number) => xs.reduce((a, r) => a + f(r), 0);
  const base = runs['none stalled'];
  const st = runs['10 % stalled'];
  if (!base || !st || !st.stalled) return { goals: [notMeasured('P10', 'not measured: a run failed')], data: { runs } };
  const healthyGaps = sumOf([...all.none, ...all.stalled], (r) => r.correctness.gaps + r.correctness.outOfOrder);
  const stalledGaps = sumOf(all.stalled, (r) => (r.stalled ? r.stalled.total.gaps + r.stalled.total.outOfOrder : 0));
  const silent = healthyGaps + stalledGaps;
  const p99None = mean(all.none.map((r) => r.latencyMs.p99));
  const p99Stalled = mean(all.stalled.map((r) => r.latencyMs.p99));
  const value = p99Stalled / Math.max(1, p99None);
  const d: Record<string, number> = {};
  for (const r of all.stalled) for (const [k, v] of Object.entries(r.server.statsDelta)) d[k] = (d[k] ?? 0) + v;
  const stalledResyncs = sumOf(all.stalled, (r) => r.stalled?.total.resyncs ?? 0);
  const raw = {
    healthyP99MsNoneStalled: round(p99None, 1),
    healthyP99MsWithStalled: round(p99Stalled, 1),
    healthyP99MsPerRep: { none: all.none.map((r) => r.latencyMs.p99), stalled: all.stalled.map((r) => r.latencyMs.p99) },
    repetitions: reps,
    healthyP50Ms: [base.latencyMs.p50, st.latencyMs.p50],
    healthyP999Ms: [base.latencyMs.p999, st.latencyMs.p999],
    healthyMaxMs: [base.latencyMs.max, st.latencyMs.max],
    silentGapsHealthy: healthyGaps,
    silentGapsStalled: stalledGaps,
    stalledClients: st.stalled.clients,
    stalledResyncs,
    stalledResyncSkippedTicks: st.stalled.total.resyncSkippedTicks,
    stalledCloseCodes: st.stalled.closeCodes,
    stalledTicksAfterResume: st.stalled.window.ticks,
    gatewaySlowConsumerEvents: d.tickwire_slow_consumer_events_total ?? null,
    gatewayConflatedFrames: d.tickwire_conflated_frames_total ?? null,
    gatewaySlowConsumerCloses: d.tickwire_slow_consumer_closes_total ?? null,
    clients,
    bottlenecks: [base.bottleneck, st.bottleneck],
    otherPercent: { none: all.none.map((r) => r.machine.otherPercent), stalled: all.stalled.map((r) => r.machine.otherPercent) },
  };
  const conflated = (d.tickwire_slow_consumer_events_total ?? 0) > 0;
  const note = [
    `healthy p99 ${round(p99None, 1)} ms → ${round(p99Stalled, 1)} ms with ${nStalled} of ${clients} clients stalled through ` +
      `the ${durationSec} s window${reps > 1 ? ` (mean of ${reps} interleaved runs each)` : ''}`,
    `silent gaps: ${healthyGaps} on healthy clients, ${stalledGaps} on stalled clients after resume`,
    conflated
      ? `the gateway conflated the stalled clients (${d.tickwire_slow_consumer_events_total} slow-consumer ` +
        `events, ${stalledResyncs} resync snaps received)`
      : "the stalled clients never passed the gateway's slowSoftBytes (kernel socket buffers absorbed the stall), so conflation " +
        'was not exercised',
    silent > 0 ? 'silent gaps: fails' : '',
  ]
    .filter(Boolean)
    .join('; ');
  const goals = [goalResult('P10', value, raw, note, silent > 0 ? false : undefined)];
  const table = [
    '| run | healthy clients | delivered ticks/s | p50 / p99 / p99.9 / max ms | silent gaps | resyncs | gateway CPU % | load-gen ' +
      'ELU | other % |',
    '|---|---:|---:|---|---:|---:|---:|---|---:|',
    ...[...all.none, ...all.stalled].map(
      (r) =>
        `| ${r.label} | ${r.clients - (r.stalled?.clients ?? 0)} | ${fmt(r.delivered.ticksPerSec, 2)} | ${r.latencyMs.p50} ` +
        `/ ${r.latencyMs.p99} / ${r.latencyMs.p999} / ${r.latencyMs.max} | ${r.correctness.gaps} | ${r.correctness.resyncs} ` +
        `| ${r.server.cpuPercent} | ${r.loadgen.workerElu.join(', ')} | ${r.machine.otherPercent} |`,
    ),
  ].join('\n');
  const stLine =
    `Stalled clients (${st.stalled.clients}): paused from their subscription through the ${durationSec} s window, then read ` +
    `for ${drainMs / 1000} s: ${fmt(st.stalled.window.ticks, 2)} ticks received after the pause ` +
    `started, ${st.stalled.total.resyncs} resync snaps (skipping ${fmt(st.stalled.total.resyncSkippedTicks, 2)} ticks, ` +
    `announced), ${stalledGaps} silent gaps, server closes ${JSON.stringify(st.stalled.closeCodes)}; their latency (backlog ` +
    `included) p99 ${st.stalled.latencyMs.p99} ms, max ${st.stalled.latencyMs.max} ms.`;
  return {
    goals,
    data: { clients, rate, topics, durationSec, drainMs, stalledIndexes: stalled, repetitions: reps, runs: all },
    notes: [
      `${clients} clients × ${topics.length} topics (${topics.join(', ')}), feed ${rate} ticks/s, ` +
        `gateway defaults (slowSoftBytes 256 KiB, maxBackpressureBytes 4 MiB). Healthy clients decode every frame fully.${
          q
            ? ' Quick mode: 6 s window, each condition once (a full run: 20 s, each condition twice); in a short window the kernel ' +
              'socket buffers may absorb the whole stall, in which case the gateway conflation is not exercised (the note says which).'
            : ''
        }`,
      table,
      stLine,
    ],
    charts: stalledCharts(base, st),
  };
}

export const scenarios: Scenario[] = [
  { id: 'stalled', group: 'stalled', title: 'Stalled clients: healthy latency and silent gaps (P10)', quick: true, run },
];

/** The stalled-latency chart from the last run of each condition (also `--render`). */
export function stalledCharts(base: RunFigures, st: RunFigures): ChartSpec[] {
  return [
    groupedBarChart(
      'stalled-latency',
      "Healthy clients' tick latency, with and without 10 % stalled clients (ms, log scale)",
      [base, st].flatMap((r) => [
        { label: r.label, series: 'p50', value: Math.max(r.latencyMs.p50, 0.5) },
        { label: r.label, series: 'p99', value: Math.max(r.latencyMs.p99, 0.5) },
        { label: r.label, series: 'p99.9', value: Math.max(r.latencyMs.p999, 0.5) },
        { label: r.label, series: 'max', value: Math.max(r.latencyMs.max, 0.5) },
      ]),
      { yTitle: 'ms', log: true },
    ),
  ];
}
