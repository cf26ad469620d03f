/**
 * Compression cost (P8, issue 18 point 6): deliveries per gateway CPU-second with compression on
 * (`tickwire.v1.msgpack-compact+deflate.d1`: each compact frame deflated once for all its
 * subscribers, with a preset dictionary) ÷ with it off (`tickwire.v1.msgpack-compact`), the figure
 * an operator weighs; the bytes half of the goal (P8b) is measured by the wire scenario. A third
 * run, uWS per-socket permessage-deflate, is kept for the table (what shared compression avoids).
 * Same gateway flags, feed and clients for every run; one fresh gateway per run so each CPU figure
 * is its own.
 */
import { barChart } from '../charts.js';
import { goalResult, notMeasured } from '../goals.js';
import { checkInputOf, limitsOf, withVerdict } from '../validity.js';
import { measureRun, summarize, SYMBOLS, type RunFigures } from '../measure.js';
import { fmt, round, sleep } from '../stats.js';
import { startServer, topicsAndSymbols, urlOf } from '../servers.js';
import type { ChartSpec, GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

interface Variant {
  label: string;
  protocol: string;
  perMessageDeflate: boolean;
}

const VARIANTS: Variant[] = [
  { label: 'on: compact + shared deflate, dictionaries', protocol: 'tickwire.v1.msgpack-compact+deflate.d1', perMessageDeflate: false },
  { label: 'off: compact', protocol: 'tickwire.v1.msgpack-compact', perMessageDeflate: false },
  { label: 'per-socket permessage-deflate (uWS dedicated)', protocol: 'tickwire.v1.msgpack', perMessageDeflate: true },
];

/** What P8 compares (server-side ticks per gateway CPU-second) and the inputs that make the comparison fair. */
export interface P8Input {
  label: string;
  clients: number;
  rate: number;
  /** Ticks per second offered to the clients (generated on their topics × clients). */
  expectedTicksPerSec: number;
  deliveredRatio: number;
  ticksPerCpuSec: number;
}

/**
 * Why the on/off pair cannot be compared, beyond each run's own checks (validity.ts): the two
 * runs must carry the same load (clients, feed rate, offered ticks within 10 %) and both track it
 * (delivered within 5 % of offered), or one side's CPU-second bought other work than the other's.
 */
export function p8PairProblems(on: P8Input, off: P8Input): string[] {
  const out: string[] = [];
  if (on.clients !== off.clients || on.rate !== off.rate)
    out.push(`not the same load (${on.clients}/${on.rate} vs ${off.clients}/${off.rate})`);
  const a = on.expectedTicksPerSec;
  const b = off.expectedTicksPerSec;
  if (!(a > 0 && b > 0) || Math.abs(a - b) > 0.1 * Math.max(a, b))
    out.push(`offered ticks/s differ: on ${Math.round(a)}, off ${Math.round(b)}`);
  for (const r of [on, off])
    if (!(Math.abs(r.deliveredRatio - 1) <= 0.05)) out.push(`${r.label} delivered ${(r.deliveredRatio * 100).toFixed(1)} % of offered`);
  for (const r of [on, off]) if (!(Number.isFinite(r.ticksPerCpuSec) && r.ticksPerCpuSec > 0)) out.push(`${r.label}: no CPU figure`);
  return out;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const q = ctx.opts.quick;
  const clients = ctx.opts.clients ?? (q ? 100 : 500);
  // Low enough that the load generator (inflating every frame) keeps up with 500 clients on 2 shared cores.
  const rate = ctx.opts.rate ?? 200;
  const durationSec = ctx.opts.durationSec ?? (q ? 2 : 10);
  const { topics, symbols } = topicsAndSymbols(ctx.opts.topics ?? 1, SYMBOLS);
  const runs: RunFigures[] = [];
  const errors: string[] = [];
  for (const v of VARIANTS) {
    try {
      const gw = await startServer('tickwire', { rate, symbols }, { extra: ['--compression', 'dedicated'] });
      try {
        await sleep(300);
        const r = await measureRun({
          label: v.label,
          server: gw,
          isTickwire: true,
          url: urlOf('tickwire', gw.port),
          kind: 'tickwire-header',
          protocol: v.protocol,
          perMessageDeflate: v.perMessageDeflate,
          clients,
          topics,
          durationMs: durationSec * 1000,
          warmupMs: q ? 1000 : 2000,
          ctx,
        });
        runs.push(r);
        ctx.log(summarize(r));
      } finally {
        await gw.stop();
      }
    } catch (e) {
      errors.push(`${v.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
    await sleep(300);
  }
  const on = runs.find((r) => r.label === VARIANTS[0]!.label);
  const off = runs.find((r) => r.label === VARIANTS[1]!.label);
  const pmd = runs.find((r) => r.label === VARIANTS[2]!.label);
  // Ticks the gateway sent in the window per CPU-second, counted on the server side: every tick
  // generated on the topic × subscribers (the gateway hands each frame to every connection whether
  // or not the client has read it yet), unless it conflated someone (then what the clients got).
  const perCpu = (r: RunFigures) => {
    const e = r.delivered.expectedTicksPerSec;
    const conflated = (r.server.statsDelta.tickwire_conflated_frames_total ?? 0) > 0 || r.correctness.resyncs > 0;
    const tps = Number.isFinite(e) && e > 0 && !conflated ? e : r.delivered.ticksPerSec;
    return round((tps * r.windowSec) / r.server.cpuSeconds, 0);
  };
  const framesPerCpu = (r: RunFigures) => (r.delivered.framesPerSec * r.windowSec) / r.server.cpuSeconds;
  const p8In = (r: RunFigures): P8Input => ({
    label: r.label,
    clients,
    rate,
    expectedTicksPerSec: r.delivered.expectedTicksPerSec,
    deliveredRatio: r.delivered.ratio,
    ticksPerCpuSec: perCpu(r),
  });
  const goals =
    on && off
      ? [
          pairVerdict(
            withVerdict(
              goalResult(
                'P8',
                perCpu(on) / perCpu(off),
                {
                  onTicksPerCpuSec: perCpu(on),
                  offTicksPerCpuSec: perCpu(off),
                  ...(pmd ? { perSocketPmdTicksPerCpuSec: perCpu(pmd) } : {}),
                  onFramesPerCpuSec: round(framesPerCpu(on), 0),
                  offFramesPerCpuSec: round(framesPerCpu(off), 0),
                  onDeliveredOfExpected: on.delivered.ratio,
                  offDeliveredOfExpected: off.delivered.ratio,
                  onGatewayCpuPercent: on.server.cpuPercent,
                  offGatewayCpuPercent: off.server.cpuPercent,
                  onWireBytesPerTick: round(on.delivered.bytesPerSec / on.delivered.ticksPerSec, 2),
                  offWireBytesPerTick: round(off.delivered.bytesPerSec / off.delivered.ticksPerSec, 2),
                  bottlenecks: [on.bottleneck, off.bottleneck],
                  resyncs: [on.correctness.resyncs, off.correctness.resyncs],
                  clients,
                  otherPercent: [on.machine.otherPercent, off.machine.otherPercent],
                },
                `ticks sent per gateway CPU-second (all threads; server-side count): on ${fmt(perCpu(on), 2)}, ` +
                  `off ${fmt(perCpu(off), 2)}${pmd ? `, per-socket permessage-deflate ${fmt(perCpu(pmd), 2)}` : ''}`,
              ),
              [on, off].map(checkInputOf),
              { quick: q, limits: limitsOf(ctx.opts) },
            ),
            p8PairProblems(p8In(on), p8In(off)),
          ),
        ]
      : [notMeasured('P8', `not measured: ${errors.join('; ') || 'a run failed'}`)];
  const table = [
    '| clients speak | delivered ticks/s | of expected | gateway CPU % (main) | ticks per gateway CPU-s | p50 / p99 ms | resyncs ' +
      '| load-gen CPU % (ELU) | other % | limited by |',
    '|---|---:|---:|---:|---:|---|---:|---|---:|---|',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${fmt(r.delivered.ticksPerSec, 2)} | ${(r.delivered.ratio * 100).toFixed(1)} % | ${r.server.cpuPercent} ` +
        `(${r.server.mainThreadPercent}) | ${fmt(r.server.ticksPerCpuSec, 2)} | ${r.latencyMs.p50} / ${r.latencyMs.p99} ` +
        `| ${r.correctness.resyncs} | ${r.loadgen.cpuPercent} (${r.loadgen.workerElu.join(', ')}) | ${r.machine.otherPercent} ` +
        `| ${r.bottleneck} |`,
    ),
  ].join('\n');
  return {
    goals,
    data: { clients, rate, topics, durationSec, runs, errors },
    notes: [
      `${clients} clients on ${topics.join(', ')}, feed ${rate} ticks/s over ${symbols.join(', ')}, gateway \`--compression ` +
        `dedicated\` in every run, window ${durationSec} s. P8 = on ÷ off, both with the same clients and feed; compact clients ` +
        `inflate (on: \`zlib.inflateRawSync\` with the frame's dictionary) and expand every frame as the SDK does; ` +
        `permessage-deflate clients are \`ws\` with \`perMessageDeflate: true\` (inflated by ws), then read \`upd\` frames ` +
        `header-only (seq checked exactly).${q && ctx.opts.clients === undefined ? ' Quick mode: 100 clients (a full run uses 500).' : ''}`,
      table,
      ...(errors.length ? [`Failed runs: ${errors.join('; ')}`] : []),
    ],
    charts: compressionCharts(runs),
  };
}

/** A goal whose on/off pair is not comparable is `invalid`, whatever its own runs' checks said. */
export function pairVerdict(g: GoalResult, problems: string[]): GoalResult {
  if (problems.length === 0) return g;
  const prior = g.status?.startsWith('invalid: ') ? `${g.status}; ` : 'invalid: ';
  return { ...g, pass: null, status: `${prior}${problems.join('; ')}` };
}

export const scenarios: Scenario[] = [
  { id: 'compression', group: 'compression', title: 'Compression: deliveries per CPU-second on ÷ off (P8)', quick: true, run },
];

/** The compression chart from the runs a run recorded (also `--render`). */
export function compressionCharts(runs: RunFigures[]): ChartSpec[] {
  const rows = runs.map((r) => ({ label: r.label, value: r.server.ticksPerCpuSec }));
  return [
    barChart('compression-ticks-per-cpu', 'Ticks delivered per gateway CPU-second, log scale', rows, {
      xTitle: 'ticks per CPU-second',
      log: true,
    }),
  ];
}
