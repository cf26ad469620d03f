/**
 * One measured run of the suite: a server process (tickwire or a baseline) already started, the
 * load generator (worker threads of this process) against it, and around the window: the
 * server's CPU (all threads, and its main thread) and RSS, this process's CPU, the machine's CPU
 * (what neither used: `otherPercent`), the server's own counters, and which side was saturated.
 */
import { loadavg } from 'node:os';
import { DEFAULT_SYMBOLS } from '../../../feeds/src/symbols.js';
import { CpuSampler, processCpuSeconds, processMemory, SystemCpuSampler, type CpuWindow, type SystemCpuWindow } from '../cpu.js';
import { scrapeMetrics } from './metrics.js';
import { fmt, round } from './stats.js';
import { runLoad, type ClientKind, type LatencySummary, type LoadProgress, type LoadResult } from '../loadgen/index.js';
import type { ServerProcess } from './proc.js';
import type { ScenarioContext } from './types.js';

/** The simulator's instruments (feeds/src/symbols.ts): the one symbol list of the suite. */
export const SYMBOLS: string[] = DEFAULT_SYMBOLS.map((s) => s.symbol);
export const ALL_TOPICS = SYMBOLS.flatMap((s) => [`trade.${s}`, `quote.${s}`]);

/** Ticks generated so far per topic: tickwire's `GET /v1/topics` (seq), a baseline's `GET /stats`. */
export async function ticksIn(server: ServerProcess, isTickwire: boolean): Promise<Record<string, number>> {
  try {
    if (isTickwire) {
      const r = await fetch(`http://127.0.0.1:${server.port}/v1/topics`, { signal: AbortSignal.timeout(8000) });
      const j = (await r.json()) as { topics: { topic: string; seq: number }[] };
      return Object.fromEntries(j.topics.map((t) => [t.topic, t.seq]));
    }
    const port = typeof server.ready.statsPort === 'number' ? server.ready.statsPort : server.port;
    const r = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(8000) });
    return ((await r.json()) as { ticksIn: Record<string, number> }).ticksIn;
  } catch {
    return {};
  }
}

export async function serverStats(server: ServerProcess, isTickwire: boolean): Promise<Record<string, number>> {
  try {
    if (isTickwire) return await scrapeMetrics(server.port, 8000);
    const port = typeof server.ready.statsPort === 'number' ? server.ready.statsPort : server.port;
    const r = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(8000) });
    const j = (await r.json()) as Record<string, unknown>;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(j)) if (typeof v === 'number') out[k] = v;
    return out;
  } catch {
    return {};
  }
}

/**
 * The CPU a server's capacity divides by: its main (event-loop) thread for one-threaded Node
 * servers; its whole process, all threads (/proc/<pid>/stat utime + stime), for a server that
 * works on many threads (Centrifugo, a Go process whose main thread is nearly idle).
 */
export type CpuBasis = 'main thread' | 'process';

export interface RunSpec {
  /** Label in progress lines, tables and charts, e.g. "tickwire", "ws+JSON". */
  label: string;
  server: ServerProcess;
  isTickwire: boolean;
  url: string;
  kind: ClientKind;
  protocol?: string;
  perMessageDeflate?: boolean;
  clients: number;
  topics: string[] | ((i: number) => string[]);
  durationMs: number;
  warmupMs: number;
  connectStaggerMs?: number;
  workers?: number;
  stall?: { clients: number[]; drainMs: number };
  /** Other pids whose CPU belongs to the server side (e.g. Centrifugo's feeder); reported apart. */
  sidePids?: number[];
  /** Default `main thread`. */
  cpuBasis?: CpuBasis;
  ctx: ScenarioContext;
}

export interface RunFigures {
  label: string;
  kind: ClientKind;
  protocol?: string;
  clients: number;
  clientsSubscribed: number;
  windowSec: number;
  delivered: {
    ticksPerSec: number;
    /** Ticks the server generated on the subscribed topics × subscribers, per second. */
    expectedTicksPerSec: number;
    /** delivered ÷ expected: 1 when the server and the load generator kept up. */
    ratio: number;
    /** Seconds between the two offered-count samples (validity.ts: must span most of the window). */
    offeredSpanSec?: number;
    framesPerSec: number;
    bytesPerSec: number;
    ticksPerFrame: number;
  };
  latencyMs: LatencySummary;
  correctness: {
    gaps: number;
    missedTicks: number;
    resyncs: number;
    resyncSkippedTicks: number;
    outOfOrder: number;
    updBeforeSnap: number;
    repeatedSnaps: number;
    badFrames: number;
    closeCodes: Record<string, number>;
    closeCodesAtEnd: Record<string, number>;
    gapSamples: LoadResult['gapSamples'];
  };
  server: {
    pid: number;
    /** All threads, % of one core. */
    cpuPercent: number;
    /** The main (event-loop) thread alone: a single-threaded server saturates at 100. */
    mainThreadPercent: number;
    /** What the capacity divides by (absent in older results: the main thread). */
    cpuBasis?: CpuBasis;
    cpuSeconds: number;
    rssMB: number;
    peakRssMB: number;
    /** Delivered ticks per CPU-second of the server process (all threads). */
    ticksPerCpuSec: number;
    /**
     * Delivered ticks/s the server would reach with its main thread (`cpuBasis` process: all its
     * threads) at 100 % of one core (linear projection).
     */
    projectedTicksPerSecAtFullCore: number;
    statsDelta: Record<string, number>;
    sideCpuPercent?: number;
  };
  loadgen: { cpuPercent: number; workerElu: number[]; connectMs: number; errors: string[] };
  machine: { loadavg1: number; busyPercent: number; otherPercent: number; stealPercent: number };
  /** Which side limited the run: "server" (main thread ≥ 90 %), "load generator" (a worker's ELU ≥ 0.9), "both", or "neither". */
  bottleneck: 'server' | 'load generator' | 'both' | 'neither';
  stalled?: LoadResult['stalled'];
}

/** Runs the load against an already started server and measures both sides. */
export async function measureRun(spec: RunSpec): Promise<RunFigures> {
  const { server, ctx } = spec;
  const srvCpu = new CpuSampler(server.pid);
  const selfCpu = new CpuSampler(process.pid);
  const sysCpu = new SystemCpuSampler();
  const sideCpu0 = new Map<number, number>();
  let sideSeconds = NaN;
  let srvWin: CpuWindow | undefined;
  let selfWin: CpuWindow | undefined;
  let sysWin: SystemCpuWindow | undefined;
  let mem = { rssBytes: NaN, peakRssBytes: NaN };
  let in0: Record<string, number> = {};
  let in1: Record<string, number> = {};
  // When each offered-count sample came back: a busy server answers late, and dividing the ticks
  // between two late/early samples by the whole window made ws+JSON "deliver 66× the offer".
  let inT0 = NaN;
  let inT1 = NaN;
  let st0: Record<string, number> = {};
  let st1: Record<string, number> = {};
  let last = { t: performance.now(), s: safeCpu(server.pid) };
  const load1 = loadavg()[0] ?? NaN;

  const result = await runLoad({
    url: spec.url,
    clients: spec.clients,
    topics: spec.topics,
    durationMs: spec.durationMs,
    warmupMs: spec.warmupMs,
    kind: spec.kind,
    ...(spec.protocol ? { protocol: spec.protocol } : {}),
    ...(spec.perMessageDeflate ? { perMessageDeflate: true } : {}),
    ...(spec.connectStaggerMs !== undefined ? { connectStaggerMs: spec.connectStaggerMs } : {}),
    ...(spec.workers !== undefined ? { workers: spec.workers } : {}),
    ...(spec.stall ? { stall: spec.stall } : {}),
    onProgress: (p: LoadProgress) => {
      const now = performance.now();
      const s = safeCpu(server.pid);
      const cpu = ((s - last.s) / ((now - last.t) / 1000)) * 100;
      last = { t: now, s };
      ctx.progress(
        `${spec.label}: ${p.phase} ${(p.elapsedMs / 1000).toFixed(0)}s | clients ${p.subscribed}/${spec.clients} ` +
          `| ${fmt(p.ticksPerSec)} ticks/s ${fmt(p.framesPerSec)} frames/s | gaps ${p.gaps} resyncs ${p.resyncs} ` +
          `closes ${p.unexpectedCloses} | server cpu ${cpu.toFixed(0)}% | loadgen ` +
          `elu ${p.workerElu.map((e) => e.toFixed(2)).join(',')}`,
      );
    },
    onMeasureStart: () => {
      srvCpu.start();
      selfCpu.start();
      sysCpu.start();
      for (const pid of spec.sidePids ?? []) sideCpu0.set(pid, safeCpu(pid));
      const t = ticksIn(server, spec.isTickwire).then((a) => void ((in0 = a), (inT0 = performance.now())));
      return Promise.all([t, serverStats(server, spec.isTickwire).then((b) => void (st0 = b))]).then(() => undefined);
    },
    onMeasureEnd: () => {
      srvWin = srvCpu.stop();
      selfWin = selfCpu.stop();
      sysWin = sysCpu.stop();
      if (sideCpu0.size) sideSeconds = [...sideCpu0].reduce((a, [pid, s0]) => a + safeCpu(pid) - s0, 0);
      try {
        mem = processMemory(server.pid);
      } catch {
        // exited
      }
      const t = ticksIn(server, spec.isTickwire).then((a) => void ((in1 = a), (inT1 = performance.now())));
      return Promise.all([t, serverStats(server, spec.isTickwire).then((b) => void (st1 = b))]).then(() => undefined);
    },
  });

  const secs = result.windowMs / 1000;
  // Subscribers per topic (every client subscribes the same way whether or not it succeeded; scaled by the subscribed share).
  const topicsOf = typeof spec.topics === 'function' ? spec.topics : () => spec.topics as string[];
  const perTopic = new Map<string, number>();
  const healthy = new Set(Array.from({ length: spec.clients }, (_, i) => i).filter((i) => !spec.stall?.clients.includes(i)));
  for (const i of healthy) for (const t of topicsOf(i)) perTopic.set(t, (perTopic.get(t) ?? 0) + 1);
  const subscribedShare = Math.min(1, result.clientsSubscribed / spec.clients);
  let expected = 0;
  for (const [t, n] of perTopic) expected += ((in1[t] ?? NaN) - (in0[t] ?? NaN)) * n * subscribedShare;
  // Ticks generated between the two samples over the time between them (the feed rate is steady).
  const offeredSpanSec = (inT1 - inT0) / 1000;
  expected /= offeredSpanSec > 0 ? offeredSpanSec : NaN;
  const statsDelta: Record<string, number> = {};
  for (const k of Object.keys(st1)) if (k in st0) statsDelta[k] = round((st1[k] as number) - (st0[k] as number), 3);

  const srvPct = srvWin?.percent ?? NaN;
  const mainPct = srvWin?.mainThreadPercent ?? NaN;
  const selfPct = selfWin?.percent ?? result.loadgenCpu.percent;
  const sidePct = Number.isFinite(sideSeconds) ? (sideSeconds / secs) * 100 : undefined;
  const maxElu = Math.max(...result.workerElu.filter(Number.isFinite), 0);
  const basis = spec.cpuBasis ?? 'main thread';
  const srvBound = (basis === 'process' ? srvPct : mainPct) >= 90;
  const lgBound = maxElu >= 0.9;
  const T = result.total;
  return {
    label: spec.label,
    kind: spec.kind,
    ...(spec.protocol ? { protocol: spec.protocol } : {}),
    clients: spec.clients,
    clientsSubscribed: result.clientsSubscribed,
    windowSec: round(secs, 2),
    delivered: {
      ticksPerSec: round(result.ticksPerSec, 0),
      expectedTicksPerSec: round(expected, 0),
      ratio: round(result.ticksPerSec / expected, 4),
      offeredSpanSec: round(offeredSpanSec, 3),
      framesPerSec: round(result.framesPerSec, 0),
      bytesPerSec: round(result.bytesPerSec, 0),
      ticksPerFrame: round(result.ticks / Math.max(1, result.window.updFrames), 2),
    },
    latencyMs: result.latencyMs,
    correctness: {
      gaps: T.gaps,
      missedTicks: T.missedTicks,
      resyncs: T.resyncs,
      resyncSkippedTicks: T.resyncSkippedTicks,
      outOfOrder: T.outOfOrder,
      updBeforeSnap: T.updBeforeSnap,
      repeatedSnaps: T.repeatedSnaps,
      badFrames: T.badFrames,
      closeCodes: result.closeCodes,
      closeCodesAtEnd: result.closeCodesAtEnd,
      gapSamples: result.gapSamples.slice(0, 10),
    },
    server: {
      pid: server.pid,
      cpuPercent: round(srvPct),
      mainThreadPercent: round(mainPct),
      cpuBasis: basis,
      cpuSeconds: round(srvWin?.seconds ?? NaN, 2),
      rssMB: round(mem.rssBytes / 1048576),
      peakRssMB: round(mem.peakRssBytes / 1048576),
      ticksPerCpuSec: round(result.ticks / (srvWin?.seconds ?? NaN), 0),
      projectedTicksPerSecAtFullCore: round(result.ticksPerSec / ((basis === 'process' ? srvPct : mainPct) / 100), 0),
      statsDelta,
      ...(sidePct !== undefined ? { sideCpuPercent: round(sidePct) } : {}),
    },
    loadgen: {
      cpuPercent: round(selfPct),
      workerElu: result.workerElu.map((e) => round(e, 3)),
      connectMs: result.connectMs,
      errors: result.errors.slice(0, 10),
    },
    machine: {
      loadavg1: round(load1, 2),
      busyPercent: round(sysWin?.busyPercent ?? NaN),
      otherPercent: round((sysWin?.busyPercent ?? NaN) - srvPct - selfPct - (sidePct ?? 0)),
      stealPercent: round(sysWin?.stealPercent ?? NaN),
    },
    bottleneck: srvBound && lgBound ? 'both' : srvBound ? 'server' : lgBound ? 'load generator' : 'neither',
    ...(result.stalled ? { stalled: result.stalled } : {}),
  };
}

function safeCpu(pid: number): number {
  try {
    return processCpuSeconds(pid);
  } catch {
    return NaN;
  }
}

/** One line for logs: the headline figures of a run. */
export function summarize(r: RunFigures): string {
  return (
    `${r.label}: ${fmt(r.delivered.ticksPerSec, 2)} ticks/s delivered of ${fmt(r.delivered.expectedTicksPerSec, 2)} expected ` +
    `(${fmt(r.delivered.framesPerSec)} frames/s, ${r.delivered.ticksPerFrame} ticks/frame)` +
    ` | p50/p99/p99.9/max ${r.latencyMs.p50}/${r.latencyMs.p99}/${r.latencyMs.p999}/${r.latencyMs.max} ms | ` +
    `gaps ${r.correctness.gaps} resyncs ${r.correctness.resyncs}` +
    ` | server cpu ${r.server.cpuPercent}% (main ${r.server.mainThreadPercent}%) rss ${r.server.rssMB} MB | loadgen ` +
    `cpu ${r.loadgen.cpuPercent}% elu ${r.loadgen.workerElu.join(',')} | other ${r.machine.otherPercent}% | ` +
    `bottleneck: ${r.bottleneck}`
  );
}
