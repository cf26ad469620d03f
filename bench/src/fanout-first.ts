#!/usr/bin/env node
/**
 * Fan-out scenario #1: one gateway (embedded feed) → N clients, each subscribed to all 14 topics.
 *
 *   npm run build && node dist/bench/src/fanout-first.js [--clients 200] [--rate 20000] [--duration 10] [--flush 2]
 *
 * Starts the built gateway on a loopback ephemeral port, runs the load generator (worker threads
 * in this process), and reports delivered ticks/s, frames/s, gaps, tick latency, the gateway's
 * CPU and RSS, and this process's CPU. Prints a progress line every second (stderr), then a
 * human-readable summary and one JSON line (stdout; also appended to --out FILE when given).
 * Exit status: 0, or 3 when a client saw a sequence gap or another protocol violation, 1 on error.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CpuSampler, processCpuSeconds, processMemory, SystemCpuSampler, type CpuWindow, type SystemCpuWindow } from './cpu.js';
import { scrapeMetrics } from './suite/metrics.js';
import { GATEWAY_MAIN, ROOT, startGateway } from './suite/proc.js';
import { runLoad, type LoadProgress, type LoadResult } from './loadgen/index.js';
import { fmt } from './suite/stats.js';

const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'];
const ALL_TOPICS = SYMBOLS.flatMap((s) => [`trade.${s}`, `quote.${s}`]);

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    rate: { type: 'string', default: '20000' },
    duration: { type: 'string', default: '10' },
    flush: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string' },
    stagger: { type: 'string', default: '2' },
    burstiness: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (args.help) {
  process.stdout.write(`usage: node dist/bench/src/fanout-first.js [options]
  --clients N     clients, each subscribed to all ${ALL_TOPICS.length} topics (200)
  --rate R        embedded feed rate, ticks/s over all topics (20000)
  --duration S    measurement window, s (10)
  --flush MS      gateway flush interval, ms (2)
  --warmup S      discarded time after all clients subscribed, s (2)
  --workers W     load-generator worker threads (os.availableParallelism() = ${availableParallelism()})
  --stagger MS    delay between connects within a worker, ms (2)
  --burstiness B  embedded feed burstiness, 0 (steady) to 1 (gateway default: 0.5)
  --out FILE      also append the JSON result line to FILE
`);
  process.exit(0);
}

const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`fanout-first: --${name} must be a number >= ${min}, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const clients = Math.floor(num('clients', args.clients, 1));
const rate = num('rate', args.rate, 0);
const durationS = num('duration', args.duration, 0.1);
const flushMs = num('flush', args.flush, 0);
const warmupS = num('warmup', args.warmup, 0);
const workers = args.workers === undefined ? undefined : Math.floor(num('workers', args.workers, 1));
const staggerMs = num('stagger', args.stagger, 0);
const burstiness = args.burstiness === undefined ? undefined : num('burstiness', args.burstiness, 0);

const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const round = (n: number, d = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);

/** The commit the gateway was built from, and whether gateway/ or feeds/ had uncommitted changes. */
function sourceVersion(): { commit: string; dirty: boolean | null; distBuiltAt: string } {
  const git = (args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', timeout: 5000 }).trim();
  let commit = 'unknown';
  let dirty: boolean | null = null;
  try {
    commit = git(['rev-parse', '--short', 'HEAD']);
    dirty = git(['status', '--porcelain', '--', 'gateway', 'feeds']) !== '';
  } catch {
    // not a git checkout
  }
  let distBuiltAt = 'unknown';
  try {
    distBuiltAt = statSync(GATEWAY_MAIN).mtime.toISOString();
  } catch {
    // checked at start
  }
  return { commit, dirty, distBuiltAt };
}

async function main(): Promise<number> {
  const startedAt = new Date().toISOString();
  const source = sourceVersion();
  // The gateway's per-IP admission limits (2 000 connections, 200 connects/s) would refuse a load
  // generator that opens every client from 127.0.0.1: lifted here, as in the suite.
  const gwArgs = ['--feed-rate', String(rate), '--flush-interval-ms', String(flushMs), '--log-level', 'info', '--max-connections-per-ip', '10000000', '--connect-rate-per-ip', '1000000'];
  if (burstiness !== undefined) gwArgs.push('--feed-burstiness', String(burstiness));
  // Hard bound on the whole run: connect + warm-up + window + generous slack for start/stop.
  const bound = setTimeout(
    () => {
      process.stderr.write('fanout-first: run exceeded its time bound; killing everything\n');
      process.exit(1); // the 'exit' hook of suite/proc.ts SIGKILLs the gateway
    },
    60_000 + (warmupS + durationS) * 1000 + clients * staggerMs,
  );
  bound.unref();

  const logLevels: Record<string, number> = {};
  const gw = await startGateway(gwArgs, {
    onLine: (line) => {
      const lvl = /"level":(\d+)/.exec(line)?.[1];
      if (lvl) logLevels[lvl] = (logLevels[lvl] ?? 0) + 1;
    },
  });
  const url = `ws://127.0.0.1:${gw.port}/v1`;
  process.stderr.write(`gateway pid ${gw.pid} on ${url} (feed ${rate} ticks/s, flush ${flushMs} ms); ${clients} clients × ${ALL_TOPICS.length} topics\n`);

  const gwCpu = new CpuSampler(gw.pid);
  const selfCpu = new CpuSampler(process.pid);
  const sysCpu = new SystemCpuSampler();
  let sysWindow: SystemCpuWindow | undefined;
  let gwWindow: CpuWindow | undefined;
  let selfWindow: CpuWindow | undefined;
  let m0: Record<string, number> | undefined;
  let m1: Record<string, number> | undefined;
  let mem = { rssBytes: NaN, peakRssBytes: NaN };
  let lastCpu = { t: performance.now(), s: processCpuSeconds(gw.pid) };
  const tty = process.stderr.isTTY;

  let result: LoadResult;
  try {
    result = await runLoad({
      url,
      clients,
      topics: ALL_TOPICS,
      durationMs: durationS * 1000,
      warmupMs: warmupS * 1000,
      connectStaggerMs: staggerMs,
      ...(workers !== undefined ? { workers } : {}),
      onProgress: (p: LoadProgress) => {
        const now = performance.now();
        const s = processCpuSeconds(gw.pid);
        const cpuPct = ((s - lastCpu.s) / ((now - lastCpu.t) / 1000)) * 100;
        lastCpu = { t: now, s };
        const line =
          `[${(p.elapsedMs / 1000).toFixed(1).padStart(5)}s ${p.phase.padEnd(10)}] clients ${p.subscribed}/${clients} open ${p.open}` +
          ` | ${fmt(p.ticksPerSec)} ticks/s ${fmt(p.framesPerSec)} frames/s ${mb(p.bytesPerSec)}/s` +
          ` | gaps ${p.gaps} resyncs ${p.resyncs} closes ${p.unexpectedCloses} | gw cpu ${cpuPct.toFixed(0)}% | worker elu ${p.workerElu.map((e) => e.toFixed(2)).join(',')}`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      },
      onMeasureStart: () => {
        gwCpu.start();
        selfCpu.start();
        sysCpu.start();
        return scrapeMetrics(gw.port).then((m) => void (m0 = m));
      },
      onMeasureEnd: () => {
        gwWindow = gwCpu.stop();
        selfWindow = selfCpu.stop();
        sysWindow = sysCpu.stop();
        mem = processMemory(gw.pid);
        return scrapeMetrics(gw.port).then((m) => void (m1 = m));
      },
    });
    if (tty) process.stderr.write('\n');
  } finally {
    const code = await gw.stop();
    if (code !== 0) process.stderr.write(`warning: gateway exited with ${code}\n`);
  }

  // --- gateway-side view of the window, from /metrics --------------------------------------------
  const secs = result.windowMs / 1000;
  const d = (k: string) => (m0 && m1 && k in m0 && k in m1 ? (m1[k] as number) - (m0[k] as number) : NaN);
  const gwTicksInPerSec = d('tickwire_ticks_in_total') / secs;
  const expectedTicksPerSec = gwTicksInPerSec * result.clientsSubscribed;
  const gateway = {
    pid: gw.pid,
    cpuPercent: round(gwWindow?.percent ?? NaN),
    mainThreadCpuPercent: round(gwWindow?.mainThreadPercent ?? NaN),
    cpuSeconds: round(gwWindow?.seconds ?? NaN, 2),
    rssMB: round(mem.rssBytes / 1048576),
    peakRssMB: round(mem.peakRssBytes / 1048576),
    ticksInPerSec: round(gwTicksInPerSec, 0),
    framesEncodedPerSec: round(d('tickwire_frames_encoded_total') / secs, 0),
    framesOutPerSec: round(d('tickwire_frames_out_total') / secs, 0),
    bytesOutPerSec: round(d('tickwire_bytes_out_total') / secs, 0),
    backpressureEvents: d('tickwire_backpressure_events_total'),
    // Slow-consumer conflation (gateway cb7ec28+; NaN on gateways without it).
    slowConsumerEvents: d('tickwire_slow_consumer_events_total'),
    conflatedFrames: d('tickwire_conflated_frames_total'),
    resyncs: d('tickwire_resyncs_total'),
    slowConsumersAtEnd: m1?.['tickwire_slow_consumers'] ?? NaN,
    slowConsumerCloses: d('tickwire_slow_consumer_closes_total'),
    backpressureBytesAtEnd: m1?.['tickwire_backpressure_bytes'] ?? NaN,
    eventLoopLagP99Ms: round((m1?.['tickwire_nodejs_eventloop_lag_p99_seconds'] ?? NaN) * 1000, 2),
    logLevels,
  };
  const violations = result.total.gaps + result.total.outOfOrder + result.total.updBeforeSnap + result.total.repeatedSnaps + result.total.emptyUpds + result.total.badFrames;
  const out = {
    scenario: 'fanout-first',
    at: startedAt,
    source,
    params: { clients, topicsPerClient: ALL_TOPICS.length, feedRate: rate, feedBurstiness: burstiness ?? 'default', flushMs, durationS, warmupS, workers: result.workers, staggerMs },
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      loadavg1: round(loadavg()[0] ?? NaN, 2),
      node: process.version,
      // Over the window, % of one core: everything, and what neither the gateway nor this process used.
      busyPercent: round(sysWindow?.busyPercent ?? NaN),
      otherPercent: round((sysWindow?.busyPercent ?? NaN) - (gwWindow?.percent ?? NaN) - (selfWindow?.percent ?? NaN)),
      stealPercent: round(sysWindow?.stealPercent ?? NaN),
    },
    delivered: {
      ticksPerSec: round(result.ticksPerSec, 0),
      expectedTicksPerSec: round(expectedTicksPerSec, 0),
      ratio: round(result.ticksPerSec / expectedTicksPerSec, 4),
      framesPerSec: round(result.framesPerSec, 0),
      bytesPerSec: round(result.bytesPerSec, 0),
      ticksPerFrame: round(result.ticks / Math.max(1, result.window.upds), 2),
    },
    correctness: {
      // Announced resets (resync snaps) are not violations; seq jumps without one are.
      resyncs: result.total.resyncs,
      resyncSkippedTicks: result.total.resyncSkippedTicks,
      gaps: result.total.gaps,
      missedTicks: result.total.missedTicks,
      outOfOrder: result.total.outOfOrder,
      updBeforeSnap: result.total.updBeforeSnap,
      repeatedSnaps: result.total.repeatedSnaps,
      emptyUpds: result.total.emptyUpds,
      badFrames: result.total.badFrames,
      gapSamples: result.gapSamples.slice(0, 10),
    },
    latencyMs: result.latencyMs,
    gateway,
    loadgen: {
      cpuPercent: round(selfWindow?.percent ?? result.loadgenCpu.percent),
      workerElu: result.workerElu.map((e) => round(e, 3)),
      clientsConnected: result.clientsConnected,
      clientsSubscribed: result.clientsSubscribed,
      clientsOpenAtEnd: result.clientsOpenAtEnd,
      connectMs: result.connectMs,
      windowMs: result.windowMs,
      closeCodes: result.closeCodes,
      closeCodesAtEnd: result.closeCodesAtEnd,
      errors: result.errors,
    },
  };

  const L = result.latencyMs;
  const lines = [
    `fanout-first: ${clients} clients × ${ALL_TOPICS.length} topics, feed ${fmt(rate, 0)} ticks/s${burstiness !== undefined ? ` (burstiness ${burstiness})` : ''}, flush ${flushMs} ms, window ${(result.windowMs / 1000).toFixed(1)} s (${result.workers} load workers)`,
    `  delivered   ${fmt(result.ticksPerSec, 2)} ticks/s of ${fmt(expectedTicksPerSec, 2)} expected (${(out.delivered.ratio * 100).toFixed(1)}%), ${fmt(result.framesPerSec, 1)} frames/s, ${mb(result.bytesPerSec)}/s, ${out.delivered.ticksPerFrame} ticks/frame`,
    `  latency ms  p50 ${L.p50}  p99 ${L.p99}  p99.9 ${L.p999}  max ${L.max}  (${fmt(L.count, 1)} ticks)`,
    `  correctness gaps ${out.correctness.gaps} (missed ${out.correctness.missedTicks}), resync snaps ${out.correctness.resyncs} (skipped ${out.correctness.resyncSkippedTicks}), out-of-order ${out.correctness.outOfOrder}, upd-before-snap ${out.correctness.updBeforeSnap}, repeated snaps ${out.correctness.repeatedSnaps}, bad frames ${out.correctness.badFrames}`,
    `  clients     ${result.clientsSubscribed}/${clients} subscribed in ${result.connectMs} ms, ${result.clientsOpenAtEnd} open at end, server closes ${JSON.stringify(result.closeCodes)} (after the window: ${JSON.stringify(result.closeCodesAtEnd)})`,
    `  gateway     cpu ${gateway.cpuPercent}% (main thread ${gateway.mainThreadCpuPercent}%), rss ${gateway.rssMB} MB (peak ${gateway.peakRssMB}), ${fmt(gateway.ticksInPerSec)} ticks in/s, ${fmt(gateway.framesOutPerSec)} frames out/s, backpressure events ${gateway.backpressureEvents}, conflated ${gateway.slowConsumerEvents} times (${fmt(gateway.conflatedFrames)} frames skipped), slow-consumer closes ${gateway.slowConsumerCloses}, event-loop lag p99 ${gateway.eventLoopLagP99Ms} ms (prom-client, coarse)`,
    `  load gen    cpu ${out.loadgen.cpuPercent}% (all threads), worker event-loop utilization ${out.loadgen.workerElu.join(', ')}`,
    `  source      gateway ${out.source.commit}${out.source.dirty ? ' + uncommitted changes' : ''}, dist built ${out.source.distBuiltAt}`,
    `  machine     ${out.machine.cpus} cpus busy ${out.machine.busyPercent}% of ${out.machine.cpus * 100}% (other processes ${out.machine.otherPercent}%, steal ${out.machine.stealPercent}%), loadavg ${out.machine.loadavg1}; 100% = one core`,
  ];
  if (result.errors.length) lines.push(`  errors      ${result.errors.slice(0, 5).join(' | ')}`);
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(out)}\n`);
  if (args.out) appendFileSync(args.out, `${JSON.stringify(out)}\n`);
  clearTimeout(bound);
  return violations > 0 ? 3 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fanout-first: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
