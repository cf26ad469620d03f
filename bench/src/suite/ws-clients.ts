/**
 * A small load runner over ws-clients-worker.ts (worker threads of `ws` clients). Same phases
 * as bench/src/loadgen (connect → warm-up → window → close), for what runLoad cannot do:
 * permessage-deflate clients, TCP wire bytes, and stalling/reconnecting clients.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { newLatencyHistogram } from '../loadgen/histogram.js';
import type { LatencySummary } from '../loadgen/index.js';
import { suiteModule } from './proc.js';
import { sleep } from './stats.js';
import { zeroClientsCounters, type ClientSpec, type ClientsCounters, type ClientsWorkerConfig, type ClientsWorkerMsg } from './ws-clients-worker.js';

export interface ClientsOptions {
  url: string;
  protocol?: string;
  perMessageDeflate?: boolean;
  clients: ClientSpec[];
  workers: number;
  warmupMs: number;
  durationMs: number;
  connectStaggerMs?: number;
  connectTimeoutMs?: number;
  /** Awaited before the window opens / after it closes. */
  onMeasureStart?: () => void | Promise<void>;
  onMeasureEnd?: () => void | Promise<void>;
  /** Called every second during the window with the elapsed ms. */
  onTick?: (elapsedMs: number) => void;
}

export interface ClientsResult {
  clients: number;
  subscribed: number;
  failed: number;
  windowMs: number;
  window: ClientsCounters;
  total: ClientsCounters;
  ticksPerSec: number;
  /** TCP bytes per delivered tick. */
  wireBytesPerTick: number;
  /** Latency of well-behaved clients, and of stalling/reconnecting ones. */
  latencyMs: LatencySummary;
  chaosLatencyMs: LatencySummary;
  /** Event-loop utilisation of the well-behaved clients' threads, and of the misbehaving clients' thread. */
  workerElu: number[];
  chaosWorkerElu?: number;
  closeCodes: Record<string, number>;
  errors: string[];
}

function summary(h: ReturnType<typeof newLatencyHistogram>): LatencySummary {
  const n = h.totalCount;
  const p = (q: number) => (n > 0 ? h.getValueAtPercentile(q) : NaN);
  return { count: n, p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: n > 0 ? h.maxValue : NaN, mean: n > 0 ? h.mean : NaN };
}

export async function runClients(o: ClientsOptions): Promise<ClientsResult> {
  const file = suiteModule('ws-clients-worker');
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  // Well-behaved clients are spread over `workers` threads; stalling/reconnecting clients get a
  // thread of their own, so that the burst a stalled client reads when it resumes does not delay
  // the well-behaved clients' event loop (and their latency figures).
  const steady = o.clients.filter((c) => !c.stall && !c.reconnectEveryMs);
  const chaos = o.clients.filter((c) => c.stall || c.reconnectEveryMs);
  const nSteady = Math.max(1, Math.min(o.workers, steady.length));
  const groups: ClientSpec[][] = Array.from({ length: nSteady }, (_, i) => steady.filter((_, j) => j % nSteady === i));
  if (chaos.length) groups.push(chaos);
  const nW = groups.length;
  const slots: { w: Worker; n: number; st: { subscribed: number; failed: number; open: number }; final?: Extract<ClientsWorkerMsg, { type: 'final' }>; closed: boolean; dead: boolean }[] = [];
  const errors = new Map<string, number>();
  try {
    for (let i = 0; i < nW; i++) {
      const mine = groups[i] as ClientSpec[];
      const cfg: ClientsWorkerConfig = { workerId: i, url: o.url, protocol: o.protocol ?? 'tickwire.v1.msgpack', perMessageDeflate: o.perMessageDeflate ?? false, clients: mine, connectStaggerMs: o.connectStaggerMs ?? 2 };
      const slot = { w: new Worker(file, { workerData: { kind: 'tickwire-ws-clients', cfg } }), n: mine.length, st: { subscribed: 0, failed: 0, open: 0 }, closed: false, dead: false } as (typeof slots)[number];
      slot.w.on('message', (m: ClientsWorkerMsg) => {
        if (m.type === 'status') slot.st = m;
        else if (m.type === 'final') slot.final = m;
        else if (m.type === 'closed') slot.closed = true;
      });
      slot.w.on('error', (e) => {
        errors.set(`worker ${i}: ${e.message}`, 1);
        slot.dead = true;
      });
      slot.w.on('exit', () => (slot.dead = true));
      slots.push(slot);
    }
    const deadline = Date.now() + (o.connectTimeoutMs ?? 15_000 + o.clients.length * (o.connectStaggerMs ?? 2));
    while (Date.now() < deadline && !slots.every((s) => s.dead || s.st.subscribed + s.st.failed >= s.n)) await sleep(20);
    const subscribed = slots.reduce((a, s) => a + s.st.subscribed, 0);
    if (subscribed === 0) throw new Error(`no client subscribed at ${o.url}: ${[...errors.keys()].join('; ')}`);
    await sleep(o.warmupMs);
    await o.onMeasureStart?.();
    for (const s of slots) if (!s.dead) s.w.postMessage({ type: 'measure' });
    const t0 = Date.now();
    while (Date.now() - t0 < o.durationMs) {
      await sleep(Math.min(1000, o.durationMs - (Date.now() - t0)));
      o.onTick?.(Date.now() - t0);
    }
    for (const s of slots) if (!s.dead) s.w.postMessage({ type: 'stop' });
    const windowMs = Date.now() - t0;
    await o.onMeasureEnd?.();
    const fin = Date.now() + 10_000;
    while (Date.now() < fin && !slots.every((s) => s.dead || s.final)) await sleep(20);
    const close = Date.now() + 3000;
    while (Date.now() < close && !slots.every((s) => s.dead || s.closed)) await sleep(20);

    const window = zeroClientsCounters();
    const total = zeroClientsCounters();
    const h = newLatencyHistogram();
    const ch = newLatencyHistogram();
    const closeCodes: Record<string, number> = {};
    let ticksPerSec = 0;
    for (const s of slots) {
      const f = s.final;
      if (!f) continue;
      for (const k of Object.keys(window) as (keyof ClientsCounters)[]) {
        window[k] += f.window[k];
        total[k] += f.total[k];
      }
      ticksPerSec += f.window.ticks / (f.windowMs / 1000);
      h.add(decodeFromCompressedBase64(f.histogram, 64));
      ch.add(decodeFromCompressedBase64(f.chaosHistogram, 64));
      for (const [k, v] of Object.entries(f.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
      for (const [k, v] of Object.entries(f.errors)) errors.set(k, (errors.get(k) ?? 0) + v);
    }
    return {
      clients: o.clients.length,
      subscribed,
      failed: slots.reduce((a, s) => a + s.st.failed, 0),
      windowMs,
      window,
      total,
      ticksPerSec,
      wireBytesPerTick: window.ticks > 0 ? window.wireBytes / window.ticks : NaN,
      latencyMs: summary(h),
      chaosLatencyMs: summary(ch),
      workerElu: slots.slice(0, nSteady).map((s) => s.final?.elu ?? NaN),
      ...(chaos.length ? { chaosWorkerElu: slots[nSteady]?.final?.elu ?? NaN } : {}),
      closeCodes,
      errors: [...errors].map(([m, n]) => (n > 1 ? `${m} (×${n})` : m)),
    };
  } finally {
    await Promise.all(slots.map((s) => s.w.terminate().catch(() => undefined)));
  }
}
