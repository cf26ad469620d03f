/**
 * Compression cost (P8): deliveries per gateway CPU-second with shared deflate
 * (`tickwire.v1.msgpack+deflate`: each frame deflated once for all its subscribers) vs uWS's
 * per-socket permessage-deflate (`--compression dedicated`: a compressor with a 4 KiB window per
 * connection, every frame deflated once per client). Same gateway flags, same feed and the same
 * clients for both runs; one fresh gateway per run so each CPU figure is its own.
 */
import { barChart } from '../charts.js';
import { goalResult, notMeasured } from '../goals.js';
import { checkInputOf, limitsOf, withVerdict } from '../validity.js';
import { measureRun, summarize, SYMBOLS, type RunFigures } from '../measure.js';
import { fmt, round, sleep } from '../stats.js';
import { startServer, topicsAndSymbols, urlOf } from '../servers.js';
import type { ChartSpec, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

interface Variant {
  label: string;
  protocol: string;
  perMessageDeflate: boolean;
}

const VARIANTS: Variant[] = [
  { label: 'shared deflate (tickwire.v1.msgpack+deflate)', protocol: 'tickwire.v1.msgpack+deflate', perMessageDeflate: false },
  { label: 'per-socket permessage-deflate (uWS dedicated)', protocol: 'tickwire.v1.msgpack', perMessageDeflate: true },
];

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
  const [shared, pmd] = runs.length === 2 ? runs : [undefined, undefined];
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
  const goals =
    shared && pmd
      ? [
          withVerdict(
            goalResult(
              'P8',
              perCpu(shared) / perCpu(pmd),
              {
                sharedTicksPerCpuSec: perCpu(shared),
                perSocketTicksPerCpuSec: perCpu(pmd),
                sharedFramesPerCpuSec: round(framesPerCpu(shared), 0),
                perSocketFramesPerCpuSec: round(framesPerCpu(pmd), 0),
                sharedDeliveredTicksPerSec: shared.delivered.ticksPerSec,
                perSocketDeliveredTicksPerSec: pmd.delivered.ticksPerSec,
                sharedDeliveredOfExpected: shared.delivered.ratio,
                perSocketDeliveredOfExpected: pmd.delivered.ratio,
                sharedGatewayCpuPercent: shared.server.cpuPercent,
                perSocketGatewayCpuPercent: pmd.server.cpuPercent,
                sharedBytesPerTick: round(shared.delivered.bytesPerSec / shared.delivered.ticksPerSec, 2),
                perSocketPayloadBytesPerTick: round(pmd.delivered.bytesPerSec / pmd.delivered.ticksPerSec, 2),
                bottlenecks: [shared.bottleneck, pmd.bottleneck],
                resyncs: [shared.correctness.resyncs, pmd.correctness.resyncs],
                clients,
                otherPercent: [shared.machine.otherPercent, pmd.machine.otherPercent],
              },
              `ticks sent per gateway CPU-second (all threads; server-side count): shared ${fmt(perCpu(shared), 2)}, ` +
                `per-socket ${fmt(perCpu(pmd), 2)}` +
                ([shared, pmd].some((r) => r.delivered.ratio < 0.95 || r.delivered.ratio > 1.05 || r.bottleneck !== 'neither')
                  ? '; caution: a run did not track the offered load (delivered ≠ expected, or a saturated side: see the table)'
                  : ''),
            ),
            [shared, pmd].map(checkInputOf),
            { quick: q, limits: limitsOf(ctx.opts) },
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
        `dedicated\` in both runs, window ${durationSec} s. Shared-deflate clients inflate each frame (\`zlib.inflateRawSync\`); ` +
        `permessage-deflate clients are \`ws\` with \`perMessageDeflate: true\` (inflated by ws). Both then read \`upd\` frames ` +
        `header-only (seq checked exactly), to keep the load generator off the critical ` +
        `path.${q && ctx.opts.clients === undefined ? ' Quick mode: 100 clients (a full run uses 500).' : ''}`,
      table,
      ...(errors.length ? [`Failed runs: ${errors.join('; ')}`] : []),
    ],
    charts: compressionCharts(runs),
  };
}

export const scenarios: Scenario[] = [
  { id: 'compression', group: 'compression', title: 'Compression: shared deflate vs per-socket permessage-deflate (P8)', quick: true, run },
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
