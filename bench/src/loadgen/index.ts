/**
 * Load generator for tickwire: many protocol-v1 msgpack WebSocket clients, spread over
 * worker threads, that check every topic's sequence and measure tick latency.
 *
 *   const r = await runLoad({ url: 'ws://127.0.0.1:9001/v1', clients: 200, topics: ALL, durationMs: 10_000 });
 *
 * Phases: connect (staggered) and subscribe, bounded by `connectTimeoutMs` → warm-up
 * (`warmupMs`, discarded) → measurement window (`durationMs`) → close. Sequence checks run from
 * the first frame to the last; rates and latency are of the window only.
 *
 * The worker threads run the COMPILED worker, dist/bench/src/loadgen/worker.js, also when this
 * file itself runs from source under vitest: run `npm run build` first (`npm test` does).
 * Worker threads are terminated on every path out of `runLoad`, errors and timeouts included.
 *
 * Besides healthy clients it runs two sorts of unhealthy ones, each in a worker of its own so that
 * their bursts do not delay the healthy clients' event loop (and latency figures): `stall`
 * clients that freeze for the whole window, and misbehaving clients (`behaviour`) that stall
 * periodically or reconnect and resume. Their figures are reported apart.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { newLatencyHistogram } from './histogram.js';
import {
  addCounters,
  zeroCounters,
  type ClientBehaviour,
  type ClientKind,
  type Counters,
  type GapSample,
  type ParentToWorker,
  type WorkerConfig,
  type WorkerStatus,
  type WorkerToParent,
} from './types.js';

export { addCounters, zeroCounters } from './types.js';
export type { ClientBehaviour, ClientKind, Counters, GapSample } from './types.js';

export interface LoadOptions {
  /** WebSocket URL, e.g. `ws://127.0.0.1:9001/v1`. */
  url: string;
  clients: number;
  /** Topics of every client, or of client `i` (0-based). */
  topics: string[] | ((i: number) => string[]);
  /** Worker threads; default `os.availableParallelism()`, never more than `clients`. */
  workers?: number;
  /** Length of the measurement window, ms. */
  durationMs: number;
  /** Time between "all subscribed" and the window, discarded; default 1000 ms. */
  warmupMs?: number;
  /** Delay between two connects within one worker, ms; default 2. */
  connectStaggerMs?: number;
  /** Bound on connecting + subscribing every client, ms; default 10 s + the stagger time. */
  connectTimeoutMs?: number;
  /** WebSocket subprotocol: `tickwire.v1.msgpack` (default) or `tickwire.v1.msgpack+deflate` (the checker decodes msgpack only). */
  protocol?: string;
  /**
   * What the clients speak and decode (default `tickwire`; see `ClientKind`). For `socketio` the
   * url is the Socket.IO server's `http://host:port`.
   */
  kind?: ClientKind;
  /** Offer permessage-deflate (default false). */
  perMessageDeflate?: boolean;
  /** Source addresses (e.g. 127.0.0.2, 127.0.0.3) spread over the clients, for many connections. */
  localAddresses?: string[];
  /**
   * Stalled clients: these client indexes run in a worker of their own whose sockets stop
   * reading once subscribed (through warm-up and the window), read again after the window and
   * keep being checked for `drainMs`. Their figures are reported apart (`LoadResult.stalled`); the main figures are
   * those of the other (healthy) clients only.
   */
  stall?: { clients: number[]; drainMs: number };
  /**
   * Misbehaving clients (tickwire kinds only): client `i` stalls periodically or reconnects on a
   * schedule when this returns a behaviour (see `ClientBehaviour`). They run in a worker of their
   * own and their figures are reported apart (`LoadResult.misbehaving`).
   */
  behaviour?: (i: number) => ClientBehaviour | undefined;
  /** Period of `onProgress`, ms; default 1000. */
  progressIntervalMs?: number;
  onProgress?: (p: LoadProgress) => void;
  /**
   * Called right before the window opens (e.g. to sample the server's CPU). Not awaited; a returned promise is awaited before `runLoad`
   * returns.
   */
  onMeasureStart?: () => void | Promise<void>;
  /** Called right after the window closes. Same rules as `onMeasureStart`. */
  onMeasureEnd?: () => void | Promise<void>;
}

export type LoadPhase = 'connecting' | 'warmup' | 'measure' | 'stopping';

export interface LoadProgress {
  phase: LoadPhase;
  /** Since `runLoad` started, ms. */
  elapsedMs: number;
  connected: number;
  subscribed: number;
  failed: number;
  open: number;
  /** Over the last progress interval (a worker that sent no report in it counts with its previous rate). */
  ticksPerSec: number;
  framesPerSec: number;
  bytesPerSec: number;
  /** Since the start. */
  gaps: number;
  missedTicks: number;
  /** `snap`s with `resync: true` since the start (announced resets, not gaps). */
  resyncs: number;
  /** Connections closed by the server or the network so far. */
  unexpectedCloses: number;
  /** Event-loop utilization of each worker thread over its last report (0..1). */
  workerElu: number[];
}

export interface LatencySummary {
  /** Ticks measured. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  url: string;
  /** Clients asked for. */
  clients: number;
  workers: number;
  /** Clients whose WebSocket opened. */
  clientsConnected: number;
  /** Clients that got the reply to their `sub`. */
  clientsSubscribed: number;
  clientsFailed: number;
  /** Clients still open when the window closed. */
  clientsOpenAtEnd: number;
  /** Time from start to every client subscribed (or the connect timeout), ms. */
  connectMs: number;
  warmupMs: number;
  /** Measurement window as the parent timed it, ms (each worker's own window is used for its rates). */
  windowMs: number;
  /** Ticks delivered in the window (sum of `upd` data lengths over all clients). */
  ticks: number;
  ticksPerSec: number;
  frames: number;
  framesPerSec: number;
  bytes: number;
  bytesPerSec: number;
  /** Sequence jumps in the window, and the ticks they skipped. */
  gaps: number;
  missedTicks: number;
  outOfOrder: number;
  /** Counts of the window. */
  window: Counters;
  /** Counts of the whole run (connect to close), warm-up included: gaps there are real too. */
  total: Counters;
  /** `Date.now()` at receipt − `tick.ts`, ms, over every tick of the window. */
  latencyMs: LatencySummary;
  /** Close codes of connections the server (or the network) closed before the end of the window. */
  closeCodes: Record<string, number>;
  /**
   * Close codes seen while closing after the window. Normally `{"1000": clients}`; a server close
   * that was already queued behind unread data (e.g. 4008 for a client that fell behind) shows
   * up here. Clients cut after the close timeout are not included (see `errors`).
   */
  closeCodesAtEnd: Record<string, number>;
  /** Distinct errors, `message (×count)`. */
  errors: string[];
  /** The first sequence anomalies seen (per worker, whole run). */
  gapSamples: GapSample[];
  /** CPU of this whole process (parent + workers) over the window. */
  loadgenCpu: { seconds: number; percent: number };
  /** Event-loop utilization of each worker thread over the window (1 = saturated). */
  workerElu: number[];
  /** With `stall`: the stalled clients, from the start of the window to the end of the drain. */
  stalled?: {
    clients: number;
    /** Counts from the start of the window to the end of the drain. */
    window: Counters;
    /** Whole run. */
    total: Counters;
    latencyMs: LatencySummary;
    closeCodes: Record<string, number>;
    clientsOpenAtEnd: number;
    gapSamples: GapSample[];
  };
  /** With `behaviour`: the misbehaving clients, over the same window. */
  misbehaving?: MisbehavingResult;
}

export interface MisbehavingResult {
  clients: number;
  ticksPerSec: number;
  window: Counters;
  total: Counters;
  latencyMs: LatencySummary;
  /** Close codes of server closes (each followed by a resume). */
  closeCodes: Record<string, number>;
  /** Event-loop utilization of their worker thread over the window. */
  elu: number;
}

const WORKER_REPORT_MS = 500;
const CLOSE_TIMEOUT_MS = 2000;
const FINAL_TIMEOUT_MS = 10_000;

/**
 * The compiled worker. From dist it is the sibling `worker.js`; from source (vitest) it is the
 * same file under dist/, which must have been built.
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const fromDist = here.endsWith('.js');
  const file = fileURLToPath(new URL(fromDist ? './worker.js' : '../../../dist/bench/src/loadgen/worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`load generator worker ${file} is missing: run "npm run build" first (npm test does)`);
  if (!fromDist) {
    const built = statSync(file).mtimeMs;
    for (const src of ['./worker.ts', './types.ts', './histogram.ts', './msgpack-header.ts', './centrifugo-protobuf.ts']) {
      const p = fileURLToPath(new URL(src, import.meta.url));
      if (existsSync(p) && statSync(p).mtimeMs > built) {
        process.emitWarning(`${p} is newer than ${file}: the load generator runs the stale build; run "npm run build"`);
      }
    }
  }
  return file;
}

interface WorkerSlot {
  worker: Worker;
  assigned: number;
  status: WorkerStatus;
  elu: number;
  /** Counter deltas reported since the last `onProgress`, and the time they cover. */
  pending: Counters;
  pendingMs: number;
  /** ticks/s, frames/s, bytes/s of the last progress interval with a report. */
  lastRates: [number, number, number];
  dead: boolean;
  final?: Extract<WorkerToParent, { type: 'final' }>;
  closed?: Extract<WorkerToParent, { type: 'closed' }>;
  /** A stall worker (see `LoadOptions.stall`). */
  stall: boolean;
  /** The misbehaving clients' worker (see `LoadOptions.behaviour`). */
  misbehaving: boolean;
}

function summarize(h: ReturnType<typeof newLatencyHistogram>): LatencySummary {
  const n = h.totalCount;
  const q = (p: number) => (n > 0 ? h.getValueAtPercentile(p) : NaN);
  return { count: n, p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: n > 0 ? h.maxValue : NaN, mean: n > 0 ? h.mean : NaN };
}

function misbehavingResult(s: WorkerSlot, windowMs: number, errors: Map<string, number>): MisbehavingResult {
  const f = s.final;
  const h = newLatencyHistogram();
  if (f) h.add(decodeFromCompressedBase64(f.histogram, 64));
  for (const [m, n] of Object.entries(f?.errors ?? {})) errors.set(`misbehaving: ${m}`, (errors.get(`misbehaving: ${m}`) ?? 0) + n);
  const secs = (f && f.windowMs > 0 ? f.windowMs : windowMs) / 1000;
  return {
    clients: s.assigned,
    ticksPerSec: f ? f.window.ticks / secs : NaN,
    window: f?.window ?? zeroCounters(),
    total: f?.total ?? zeroCounters(),
    latencyMs: summarize(h),
    closeCodes: f?.closeCodes ?? {},
    elu: f?.elu ?? NaN,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const t0 = Date.now();
  if (!(Number.isInteger(opts.clients) && opts.clients > 0)) throw new Error(`clients must be a positive integer, got ${opts.clients}`);
  if (!(opts.durationMs > 0)) throw new Error(`durationMs must be > 0, got ${opts.durationMs}`);
  const warmupMs = opts.warmupMs ?? 1000;
  const stagger = opts.connectStaggerMs ?? 2;
  const stalled = new Set(opts.stall?.clients ?? []);
  for (const i of stalled)
    if (!(Number.isInteger(i) && i >= 0 && i < opts.clients)) throw new Error(`stalled client index ${i} is not in 0..${opts.clients - 1}`);
  const behaviourOf = (i: number): ClientBehaviour | undefined => {
    const b = stalled.has(i) ? undefined : opts.behaviour?.(i);
    return b && (b.stall !== undefined || b.reconnectEveryMs !== undefined) ? b : undefined;
  };
  let nMisbehaving = 0;
  for (let i = 0; i < opts.clients; i++) if (behaviourOf(i)) nMisbehaving++;
  if (nMisbehaving > 0 && opts.kind !== undefined && opts.kind !== 'tickwire' && opts.kind !== 'tickwire-header') {
    throw new Error(`misbehaving clients need a tickwire client kind, not ${opts.kind}`);
  }
  const healthy = opts.clients - stalled.size - nMisbehaving;
  const nWorkers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), Math.max(1, healthy)));
  const topicsOf = typeof opts.topics === 'function' ? opts.topics : () => opts.topics as string[];
  const perWorker = Math.max(Math.ceil(healthy / nWorkers), stalled.size, nMisbehaving);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000 + perWorker * stagger;
  const file = workerFile();

  const errors = new Map<string, number>();
  const err = (m: string, n = 1) => errors.set(m, (errors.get(m) ?? 0) + n);
  const hookPromises: Promise<void>[] = [];
  const hook = (f: (() => void | Promise<void>) | undefined, name: string) => {
    if (!f) return;
    try {
      const p = f();
      if (p) hookPromises.push(p.catch((e: unknown) => void err(`${name}: ${String(e)}`)));
    } catch (e) {
      err(`${name}: ${String(e)}`);
    }
  };

  const slots: WorkerSlot[] = [];
  let phase: LoadPhase = 'connecting';
  let progressTimer: NodeJS.Timeout | undefined;
  const live = () => slots.filter((s) => !s.dead);
  const sum = (f: (s: WorkerSlot) => number) => slots.reduce((a, s) => a + f(s), 0);
  const broadcast = (m: ParentToWorker) => {
    for (const s of live()) s.worker.postMessage(m);
  };

  try {
    // --- start workers -------------------------------------------------------------------------
    const running = zeroCounters();
    let unexpectedCloses = 0;
    // Healthy clients round-robin over nWorkers; stalled ones in one extra worker, misbehaving ones in another.
    const assignments: WorkerConfig['clients'][] = Array.from({ length: nWorkers }, () => []);
    const stallClients: WorkerConfig['clients'] = [];
    const badClients: WorkerConfig['clients'] = [];
    let h = 0;
    for (let i = 0; i < opts.clients; i++) {
      const b = behaviourOf(i);
      if (stalled.has(i)) stallClients.push({ index: i, topics: topicsOf(i) });
      else if (b) badClients.push({ index: i, topics: topicsOf(i), ...b });
      else if (healthy > 0) assignments[h++ % nWorkers]!.push({ index: i, topics: topicsOf(i) });
    }
    const stallWorker = stallClients.length > 0 ? assignments.push(stallClients) - 1 : -1;
    const badWorker = badClients.length > 0 ? assignments.push(badClients) - 1 : -1;
    for (let w = 0; w < assignments.length; w++) {
      const clients = assignments[w]!;
      const isStall = w === stallWorker;
      const cfg: WorkerConfig = {
        workerId: w,
        url: opts.url,
        protocol: opts.protocol ?? 'tickwire.v1.msgpack',
        ...(opts.kind ? { kind: opts.kind } : {}),
        ...(opts.perMessageDeflate ? { perMessageDeflate: true } : {}),
        ...(opts.localAddresses?.length ? { localAddresses: opts.localAddresses } : {}),
        ...(isStall ? { stall: { drainMs: opts.stall!.drainMs } } : {}),
        clients,
        connectStaggerMs: stagger,
        reportIntervalMs: WORKER_REPORT_MS,
        closeTimeoutMs: CLOSE_TIMEOUT_MS,
      };
      const slot: WorkerSlot = {
        stall: isStall,
        misbehaving: w === badWorker,
        worker: new Worker(file, { workerData: cfg }),
        assigned: clients.length,
        status: { connected: 0, subscribed: 0, failed: 0, open: 0, settled: 0 },
        elu: 0,
        pending: zeroCounters(),
        pendingMs: 0,
        lastRates: [0, 0, 0],
        dead: false,
      };
      slots.push(slot);
      slot.worker.on('message', (m: WorkerToParent) => {
        switch (m.type) {
          case 'status':
            slot.status = m;
            return;
          case 'progress':
            slot.status = m;
            slot.elu = m.elu;
            addCounters(running, m.delta);
            addCounters(slot.pending, m.delta);
            slot.pendingMs += m.intervalMs;
            return;
          case 'final':
            slot.final = m;
            slot.status = m;
            return;
          case 'closed':
            slot.closed = m;
        }
      });
      slot.worker.on('error', (e: Error) => {
        err(`worker ${w} failed: ${e.stack ?? e.message}`);
        slot.dead = true;
      });
      slot.worker.on('exit', () => {
        slot.dead = true;
      });
    }

    if (opts.onProgress) {
      const onProgress = opts.onProgress;
      progressTimer = setInterval(() => {
        const now = Date.now();
        // Each worker's rate over the time its reports cover, summed.
        let ticksPerSec = 0;
        let framesPerSec = 0;
        let bytesPerSec = 0;
        for (const s of slots) {
          // A saturated worker can miss a report; its last known rate stands in until the next one.
          if (s.pendingMs > 0) {
            s.lastRates = [
              (s.pending.ticks * 1000) / s.pendingMs,
              (s.pending.frames * 1000) / s.pendingMs,
              (s.pending.bytes * 1000) / s.pendingMs,
            ];
          }
          ticksPerSec += s.lastRates[0];
          framesPerSec += s.lastRates[1];
          bytesPerSec += s.lastRates[2];
          s.pending = zeroCounters();
          s.pendingMs = 0;
        }
        // Until `stop`, every client that opened and is no longer open was closed by the other side.
        if (phase !== 'stopping') unexpectedCloses = sum((s) => s.status.connected) - sum((s) => s.status.open);
        try {
          onProgress({
            phase,
            elapsedMs: now - t0,
            connected: sum((s) => s.status.connected),
            subscribed: sum((s) => s.status.subscribed),
            failed: sum((s) => s.status.failed),
            open: sum((s) => s.status.open),
            ticksPerSec,
            framesPerSec,
            bytesPerSec,
            gaps: running.gaps,
            missedTicks: running.missedTicks,
            resyncs: running.resyncs,
            unexpectedCloses,
            workerElu: slots.map((s) => s.elu),
          });
        } catch (e) {
          err(`onProgress: ${String(e)}`);
        }
      }, opts.progressIntervalMs ?? 1000);
    }

    // --- connect + subscribe -------------------------------------------------------------------
    const settled = await until(() => live().every((s) => s.status.settled >= s.assigned), connectTimeoutMs);
    const connectMs = Date.now() - t0;
    if (!settled) err(`only ${sum((s) => s.status.subscribed)} of ${opts.clients} clients subscribed within ${connectTimeoutMs} ms`);
    if (sum((s) => s.status.connected) === 0) {
      throw new Error(`no client could connect to ${opts.url}: ${[...errors.keys()].join('; ') || 'no error reported'}`);
    }

    // --- warm-up, then the window --------------------------------------------------------------
    phase = 'warmup';
    await sleep(warmupMs);
    phase = 'measure';
    hook(opts.onMeasureStart, 'onMeasureStart');
    const cpu0 = process.cpuUsage();
    const w0 = Date.now();
    broadcast({ type: 'measure' });
    await sleep(opts.durationMs);
    broadcast({ type: 'stop' });
    const w1 = Date.now();
    const cpu = process.cpuUsage(cpu0);
    hook(opts.onMeasureEnd, 'onMeasureEnd');
    phase = 'stopping';

    // --- collect -------------------------------------------------------------------------------
    const finalTimeoutMs = FINAL_TIMEOUT_MS + (opts.stall?.drainMs ?? 0);
    if (!(await until(() => slots.every((s) => s.final || s.dead), finalTimeoutMs)))
      err(`a worker sent no result within ${finalTimeoutMs} ms`);
    await until(() => slots.every((s) => s.closed || s.dead || !s.final), CLOSE_TIMEOUT_MS + 2000);
    await Promise.all(hookPromises);

    const window = zeroCounters();
    const total = zeroCounters();
    const hist = newLatencyHistogram();
    const closeCodes: Record<string, number> = {};
    const closeCodesAtEnd: Record<string, number> = {};
    const gapSamples: GapSample[] = [];
    let ticksPerSec = 0;
    let framesPerSec = 0;
    let bytesPerSec = 0;
    const windowMs = w1 - w0;
    const sWindow = zeroCounters();
    const sTotal = zeroCounters();
    const sHist = newLatencyHistogram();
    const sCloseCodes: Record<string, number> = {};
    const sGapSamples: GapSample[] = [];
    let sOpen = 0;
    for (const s of slots) {
      const f = s.final;
      if (!f || s.misbehaving) continue;
      if (s.stall) {
        addCounters(sWindow, f.window);
        addCounters(sTotal, f.total);
        sHist.add(decodeFromCompressedBase64(f.histogram, 64));
        for (const [code, n] of Object.entries(f.closeCodes)) sCloseCodes[code] = (sCloseCodes[code] ?? 0) + n;
        for (const [m, n] of Object.entries(f.errors)) err(`stalled: ${m}`, n);
        sGapSamples.push(...f.gapSamples);
        sOpen += f.open;
        continue;
      }
      addCounters(window, f.window);
      addCounters(total, f.total);
      const secs = (f.windowMs > 0 ? f.windowMs : windowMs) / 1000;
      ticksPerSec += f.window.ticks / secs;
      framesPerSec += f.window.frames / secs;
      bytesPerSec += f.window.bytes / secs;
      hist.add(decodeFromCompressedBase64(f.histogram, 64));
      for (const [code, n] of Object.entries(f.closeCodes)) closeCodes[code] = (closeCodes[code] ?? 0) + n;
      for (const [m, n] of Object.entries(f.errors)) err(m, n);
      gapSamples.push(...f.gapSamples);
    }
    for (const s of slots) {
      if (!s.closed || s.stall || s.misbehaving) continue;
      for (const [code, n] of Object.entries(s.closed.closeCodes)) closeCodesAtEnd[code] = (closeCodesAtEnd[code] ?? 0) + n;
      if (s.closed.cut) err(`${s.closed.cut} client(s) did not close within ${CLOSE_TIMEOUT_MS} ms after the window and were cut`);
    }
    gapSamples.sort((a, b) => a.at - b.at);

    const count = hist.totalCount;
    const pct = (p: number) => (count > 0 ? hist.getValueAtPercentile(p) : NaN);
    const summary = summarize;
    const healthySlots = slots.filter((s) => !s.stall && !s.misbehaving);
    const misbehavingSlot = slots.find((s) => s.misbehaving);
    const misbehaving = misbehavingSlot ? misbehavingResult(misbehavingSlot, windowMs, errors) : undefined;
    return {
      url: opts.url,
      clients: opts.clients,
      workers: nWorkers,
      clientsConnected: sum((s) => s.status.connected),
      clientsSubscribed: sum((s) => s.status.subscribed),
      clientsFailed: sum((s) => s.status.failed),
      clientsOpenAtEnd: healthySlots.reduce((a, s) => a + (s.final?.open ?? 0), 0),
      connectMs,
      warmupMs,
      windowMs,
      ticks: window.ticks,
      ticksPerSec,
      frames: window.frames,
      framesPerSec,
      bytes: window.bytes,
      bytesPerSec,
      gaps: window.gaps,
      missedTicks: window.missedTicks,
      outOfOrder: window.outOfOrder,
      window,
      total,
      latencyMs: {
        count,
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        p999: pct(99.9),
        max: count > 0 ? hist.maxValue : NaN,
        mean: count > 0 ? hist.mean : NaN,
      },
      closeCodes,
      closeCodesAtEnd,
      errors: [...errors].map(([m, n]) => (n > 1 ? `${m} (×${n})` : m)),
      gapSamples,
      loadgenCpu: {
        seconds: (cpu.user + cpu.system) / 1e6,
        percent: windowMs > 0 ? ((cpu.user + cpu.system) / 1e3 / windowMs) * 100 : NaN,
      },
      workerElu: healthySlots.map((s) => s.final?.elu ?? NaN),
      ...(stallClients.length > 0
        ? {
            stalled: {
              clients: stallClients.length,
              window: sWindow,
              total: sTotal,
              latencyMs: summary(sHist),
              closeCodes: sCloseCodes,
              clientsOpenAtEnd: sOpen,
              gapSamples: sGapSamples.sort((a, b) => a.at - b.at),
            },
          }
        : {}),
      ...(misbehaving ? { misbehaving } : {}),
    };
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }
}

/** Healthy and misbehaving clients together (clients stalled for the whole window excluded). */
export function allClients(r: LoadResult): { window: Counters; total: Counters; ticksPerSec: number; closeCodes: Record<string, number> } {
  const m = r.misbehaving;
  const closeCodes = { ...r.closeCodes };
  for (const [code, n] of Object.entries(m?.closeCodes ?? {})) closeCodes[code] = (closeCodes[code] ?? 0) + n;
  return {
    window: addCounters(addCounters(zeroCounters(), r.window), m?.window ?? zeroCounters()),
    total: addCounters(addCounters(zeroCounters(), r.total), m?.total ?? zeroCounters()),
    ticksPerSec: r.ticksPerSec + (m?.ticksPerSec ?? 0),
    closeCodes,
  };
}
