/**
 * Soak: the gateway under a steady load for `--duration` (default 30 min; 6 s in --quick, which
 * only exercises the harness) with clients that misbehave on purpose, sampling its memory; does
 * RSS stay flat? Soak mode is `npm run bench -- --only soak --duration 30m`.
 *
 * Load: embedded feed 5 000 ticks/s (14 topics); 50 well-behaved clients on 4 topics each; 5
 * clients on all 14 topics that stop reading for 12 s, then read for 20 s (long enough to fill
 * the kernel's socket buffers: they are conflated and get resync snaps, or are closed with 4008
 * and come back); 5 clients that reconnect every 10 s and resume
 * with `since`. RSS (/proc) and the JS heap (/metrics) every few seconds.
 *
 * Verdict (runs of at least 10 min), on the second half of the run (the first half includes warm-up: history rings filling,
 * V8 heap sizing): least-squares slope of RSS in MB per hour with its 95 % interval.
 * - flat: the whole interval is below THRESHOLD_MB_PER_H;
 * - growing: the whole interval is above it;
 * - inconclusive otherwise (too short or too noisy a run to tell).
 */
import { processMemory } from '../../cpu.js';
import { allClients, runLoad, type ClientBehaviour, type LoadResult } from '../../loadgen/index.js';
import { machineLoad } from '../machine.js';
import { ALL_TOPICS, SYMBOLS } from '../measure.js';
import { scrapeMetrics } from '../metrics.js';
import { startGateway } from '../proc.js';
import { linearFit, round, sleep } from '../stats.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../types.js';

/**
 * 10 MB/h. Why: everything the gateway is configured to hold (history rings of 1 024 ticks per
 * topic, per-connection buffers bounded by maxBackpressureBytes, topic registry) is reached within
 * the first minutes, so after that any sustained growth is a leak. 10 MB/h (240 MB a day, more
 * than the gateway's whole steady RSS of ~60–100 MB) is a leak that would take a production
 * instance down within days, and it is about the smallest slope a 30-minute run can resolve on
 * this machine: V8's heap breathes by several MB between collections, which puts the standard
 * error of a 15-minute slope at a few MB/h.
 */
export const THRESHOLD_MB_PER_H = 10;

export interface RssSample {
  /** Seconds since the gateway started. */
  t: number;
  rssMB: number;
  heapUsedMB: number;
  connections: number;
}

/** Shorter runs get no verdict: start-up heap growth and single GC steps dominate their slope. */
export const MIN_VERDICT_SEC = 600;

export function verdict(
  samples: RssSample[],
  threshold = THRESHOLD_MB_PER_H,
): {
  slopeMBPerHour: number;
  interceptMB: number;
  ci95: [number, number];
  lag1Autocorrelation: number;
  verdict: 'flat' | 'growing' | 'inconclusive';
  why: string;
  secondHalf: { from: number; to: number; n: number; minMB: number; maxMB: number };
} {
  const end = samples.length ? (samples[samples.length - 1] as RssSample).t : 0;
  const half = samples.filter((s) => s.t >= end / 2);
  const xs = half.map((s) => s.t / 3600);
  const ys = half.map((s) => s.rssMB);
  const fit = linearFit(xs, ys);
  // Samples a few seconds apart are not independent (the heap grows and drops in steps), so the
  // ordinary standard error is too small. AR(1) correction: inflate it by sqrt((1+ρ)/(1−ρ)), ρ the
  // lag-1 autocorrelation of the residuals.
  const res = xs.map((x, i) => (ys[i] as number) - (fit.intercept + fit.slope * x));
  let num = 0;
  let den = 0;
  for (let i = 0; i < res.length; i++) {
    den += (res[i] as number) ** 2;
    if (i > 0) num += (res[i] as number) * (res[i - 1] as number);
  }
  const rho = den > 0 ? Math.min(0.98, Math.max(0, num / den)) : 0;
  const se = fit.slopeStdErr * Math.sqrt((1 + rho) / (1 - rho));
  const lo = fit.slope - 1.96 * se;
  const hi = fit.slope + 1.96 * se;
  let v: 'flat' | 'growing' | 'inconclusive' = 'inconclusive';
  let why: string;
  if (!Number.isFinite(fit.slope)) why = 'too few samples';
  else if (end < MIN_VERDICT_SEC) why = `run shorter than ${MIN_VERDICT_SEC / 60} min`;
  else if (hi < threshold) {
    v = 'flat';
    why = `the 95 % interval of the slope is below ${threshold} MB/h`;
  } else if (lo > threshold) {
    v = 'growing';
    why = `the 95 % interval of the slope is above ${threshold} MB/h`;
  } else why = `the 95 % interval of the slope contains ${threshold} MB/h`;
  return {
    slopeMBPerHour: round(fit.slope, 2),
    interceptMB: round(fit.intercept, 2),
    ci95: [round(lo, 2), round(hi, 2)],
    lag1Autocorrelation: round(rho, 3),
    verdict: v,
    why,
    secondHalf: {
      from: half[0]?.t ?? NaN,
      to: end,
      n: half.length,
      minMB: round(Math.min(...half.map((s) => s.rssMB)), 1),
      maxMB: round(Math.max(...half.map((s) => s.rssMB)), 1),
    },
  };
}

async function runSoak(ctx: ScenarioContext, o: { soakSec?: number; steadyClients?: number }): Promise<ScenarioResult> {
  const soakSec = o.soakSec ?? ctx.opts.soakSec ?? (ctx.opts.quick ? 6 : 1800);
  const steady = o.steadyClients ?? 50;
  // About 180 samples whatever the length, 1 to 10 s apart.
  const sampleEverySec = Math.max(1, Math.min(10, Math.round(soakSec / 180)));
  const gw = await startGateway(['--log-level', 'info', '--feed-rate', '5000'], { maxLifeMs: soakSec * 1000 + 180_000 });
  const samples: RssSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await scrapeMetrics(gw.port);
      let rss = NaN;
      try {
        rss = processMemory(gw.pid).rssBytes / 1048576;
      } catch {
        // gone
      }
      samples.push({
        t: round((Date.now() - gw.spawnedAt) / 1000, 1),
        rssMB: round(rss, 2),
        heapUsedMB: round((m.tickwire_nodejs_heap_size_used_bytes ?? NaN) / 1048576, 2),
        connections: m.tickwire_connections ?? NaN,
      });
      for (let i = 0; i < sampleEverySec * 10 && sampling; i++) await sleep(100);
    }
  })();
  // Clients 0..steady-1 read steadily; then 5 that stall (all topics) and 5 that reconnect (the topics of a steady one).
  const steadyTopics = (i: number) => {
    const a = SYMBOLS[i % SYMBOLS.length] as string;
    const b = SYMBOLS[(i + 3) % SYMBOLS.length] as string;
    return [`trade.${a}`, `quote.${a}`, `trade.${b}`, `quote.${b}`];
  };
  const topics = (i: number) => (i < steady ? steadyTopics(i) : i < steady + 5 ? ALL_TOPICS : steadyTopics((i - steady - 5) % steady));
  const behaviour = (i: number): ClientBehaviour | undefined =>
    i < steady ? undefined : i < steady + 5 ? { stall: { everyMs: 20_000, forMs: 12_000 } } : { reconnectEveryMs: 10_000 };
  let result: LoadResult;
  const m0 = await scrapeMetrics(gw.port);
  let m1: Record<string, number> = {};
  try {
    let windowAt = 0;
    result = await runLoad({
      url: `ws://127.0.0.1:${gw.port}/v1`,
      clients: steady + 10,
      topics,
      behaviour,
      workers: 2,
      connectTimeoutMs: 15_000 + (steady + 10) * 2,
      warmupMs: ctx.opts.quick ? 1000 : 5000,
      durationMs: soakSec * 1000,
      progressIntervalMs: 1000,
      onProgress: (p) => {
        if (p.phase !== 'measure' || !windowAt) return;
        const ms = Date.now() - windowAt;
        if (Math.round(ms / 1000) % 10 !== 0) return;
        const last = samples[samples.length - 1];
        ctx.progress(
          `soak: ${Math.round(ms / 1000)}/${soakSec} s, gateway RSS ${last?.rssMB ?? '?'} MB, heap ${last?.heapUsedMB ?? '?'} ` +
            `MB, ${last?.connections ?? '?'} connections, load ${machineLoad().loadavg1}`,
        );
      },
      onMeasureStart: () => {
        windowAt = Date.now();
      },
      onMeasureEnd: async () => {
        m1 = await scrapeMetrics(gw.port);
      },
    });
  } finally {
    sampling = false;
    await sampler;
    await gw.stop();
  }
  const v = verdict(samples);
  const span = soakSec < 120 ? `${soakSec} s` : `${round(soakSec / 60, 0)} min`;
  const d = (k: string) => (m1[k] ?? NaN) - (m0[k] ?? 0);
  const all = allClients(result);
  const w = all.total;
  ctx.log(
    `soak: RSS slope over the second half ${v.slopeMBPerHour} MB/h (95 % ${v.ci95.join('..')}), verdict ${v.verdict}; ` +
      `RSS ${v.secondHalf.minMB}–${v.secondHalf.maxMB} MB`,
  );
  return {
    goals: [],
    data: {
      soakSec,
      sampleEverySec,
      load: {
        feedRate: 5000,
        steadyClients: steady,
        stallingClients: 5,
        reconnectingClients: 5,
        stall: 'not reading for 12 s, then reading for 20 s; all 14 topics',
        reconnect: 'every 10 s, resume with since',
      },
      rss: v,
      thresholdMBPerHour: THRESHOLD_MB_PER_H,
      clients: {
        steadyTicksPerSec: round(result.ticksPerSec, 0),
        steadyLatencyMs: result.latencyMs,
        misbehavingLatencyMs: result.misbehaving?.latencyMs,
        gaps: w.gaps,
        resyncs: w.resyncs,
        reconnects: w.reconnects,
        resumedTopics: w.resumedTopics,
        stalls: w.stalls,
        closeCodes: all.closeCodes,
        errors: result.errors.slice(0, 10),
        workerElu: result.workerElu,
        chaosWorkerElu: result.misbehaving?.elu,
      },
      gateway: {
        ticksIn: d('tickwire_ticks_in_total'),
        slowConsumerEvents: d('tickwire_slow_consumer_events_total'),
        slowConsumerCloses: d('tickwire_slow_consumer_closes_total'),
        resumes: d('tickwire_resumes_total'),
        resyncs: d('tickwire_resyncs_total'),
      },
      samples,
      machine: machineLoad(),
    },
    charts: [
      {
        name: 'soak-rss',
        title:
          `Soak: gateway RSS and JS heap over ${span}; ${v.verdict} (RSS slope ${v.slopeMBPerHour} MB/h over the second half, ` +
          `threshold ${THRESHOLD_MB_PER_H} MB/h)`,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
          data: {
            values: [
              ...samples.flatMap((s) => [
                { minutes: round(s.t / 60, 2), series: 'RSS', MB: s.rssMB },
                { minutes: round(s.t / 60, 2), series: 'JS heap used', MB: s.heapUsedMB },
              ]),
              // The least-squares line the verdict rests on, over the second half.
              ...[v.secondHalf.from, v.secondHalf.to].filter(Number.isFinite).map((t) => ({
                minutes: round(t / 60, 2),
                series: 'RSS fit (second half)',
                MB: round(v.interceptMB + (v.slopeMBPerHour * t) / 3600, 2),
              })),
            ],
          },
          mark: { type: 'line', tooltip: true },
          encoding: {
            x: { field: 'minutes', type: 'quantitative' },
            y: { field: 'MB', type: 'quantitative' },
            color: { field: 'series', type: 'nominal' },
          },
        },
      },
    ],
    notes: [
      `**Soak** (${span}; ${steady} steady clients, 5 stalling, 5 reconnecting; feed 5 000 ticks/s). Gateway RSS over the ` +
        `second half: ${v.secondHalf.minMB}–${v.secondHalf.maxMB} MB, slope ${v.slopeMBPerHour} MB/h (95 % interval ${v.ci95[0]} ` +
        `to ${v.ci95[1]}) → **${v.verdict}** (${v.why}; residual lag-1 autocorrelation ${v.lag1Autocorrelation}, interval widened ` +
        `for it) ` +
        `(threshold ${THRESHOLD_MB_PER_H} MB/h: what a 30-minute run can resolve against V8's heap breathing, and a leak that ` +
        `would take an instance down within days). ` +
        `Clients: ${w.gaps} sequence gaps, ${w.resyncs} resync snaps, ${w.reconnects} reconnects resuming ${w.resumedTopics} topics, ` +
        `${w.stalls} stalls, server closes ${JSON.stringify(all.closeCodes)}.` +
        (soakSec < MIN_VERDICT_SEC
          ? ' This run was short: a slope from a few minutes is dominated by heap growth after start-up and single GC steps; use ' +
            '--duration 30m for a verdict.'
          : ''),
    ],
  };
}

/** The soak scenario; `o` overrides its length and load (e.g. for the smoke test). */
export function soakScenario(o: { soakSec?: number; steadyClients?: number } = {}): Scenario {
  return {
    id: 'soak',
    group: 'soak',
    title: 'Soak: RSS over time under steady load with stalling and reconnecting clients',
    quick: true,
    run: (ctx) => runSoak(ctx, o),
  };
}

export const scenarios: Scenario[] = [soakScenario()];
