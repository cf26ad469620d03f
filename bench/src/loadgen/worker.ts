/**
 * Load-generator worker thread: K protocol-v1 msgpack clients in one event loop.
 *
 * Each client connects (staggered), subscribes to its topics and checks every frame it gets:
 * per topic the first message must be `snap`, then each `upd` must start exactly at the next
 * sequence number. It counts frames, bytes, ticks, gaps (and the ticks they skipped),
 * out-of-order/duplicate data and protocol violations, and records `receive time - tick.ts` of
 * every tick into an HdrHistogram (ms).
 *
 * Started by index.ts (`runLoad`) from the compiled file dist/bench/src/loadgen/worker.js.
 * Parent → worker: `measure` (start of the measurement window: counters are snapshotted and the
 * histogram is reset), `stop` (end of the window: the worker posts `final`, closes its clients
 * and posts `closed`). Worker → parent: `status` on connection changes, `progress` every
 * `reportIntervalMs` (counter deltas).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { pack, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { newLatencyHistogram } from './histogram.js';
import { subCounters, zeroCounters, type Counters, type GapSample, type ParentToWorker, type WorkerConfig, type WorkerStatus, type WorkerToParent } from './types.js';

const MAX_GAP_SAMPLES = 20;
const MAX_RESYNC_SAMPLES = 5;
const MAX_ERROR_KINDS = 50;

interface TopicState {
  /** Sequence number the next `upd` must start at. */
  next: number;
  /** A throttled view (`topic@100ms`): forward seq jumps are by design, not gaps. */
  throttled: boolean;
}

interface Client {
  index: number;
  topics: string[];
  ws: WebSocket | undefined;
  opened: boolean;
  subscribed: boolean;
  settled: boolean;
  closed: boolean;
  state: Map<string, TopicState>;
}

const port = parentPort;
if (!port) throw new Error('loadgen worker.ts must run as a worker thread (see loadgen/index.ts)');
const cfg = workerData as WorkerConfig;

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
/** `tickwire.v1.msgpack+deflate`: each frame starts with a flag byte, 0x01 = raw DEFLATE follows. */
const sharedDeflate = cfg.protocol.endsWith('+deflate');
const c: Counters = zeroCounters();
let hist = newLatencyHistogram();
const closeCodes: Record<string, number> = {};
/** Close codes seen while closing at the end: our 1000 echoed, or a server close (e.g. 4008) that was queued behind data. */
const closeCodesAfterStop: Record<string, number> = {};
const errors: Record<string, number> = {};
const gapSamples: GapSample[] = [];
const status: WorkerStatus = { connected: 0, subscribed: 0, failed: 0, open: 0, settled: 0 };
const clients: Client[] = [];
/** Set on `stop`: closes after this are ours and are not recorded as close codes. */
let stopping = false;
let windowStart: { at: number; counters: Counters; elu: EventLoopUtilization } | undefined;
let lastReport = { ...c };
let lastReportAt = performance.now();
let lastReportElu = performance.eventLoopUtilization();

function post(msg: WorkerToParent): void {
  port!.postMessage(msg);
}

function recordError(what: string): void {
  const key = what.slice(0, 200);
  if (key in errors) errors[key]!++;
  else if (Object.keys(errors).length < MAX_ERROR_KINDS) errors[key] = 1;
  else errors['(other errors)'] = (errors['(other errors)'] ?? 0) + 1;
}

let resyncSamples = 0;
function sample(s: GapSample): void {
  // Announced resyncs are expected under conflation; keep a few, and room for real anomalies.
  if (s.kind === 'resync' && resyncSamples++ >= MAX_RESYNC_SAMPLES) return;
  if (gapSamples.length < MAX_GAP_SAMPLES) gapSamples.push(s);
}

let statusScheduled = false;
function scheduleStatus(): void {
  if (statusScheduled) return;
  statusScheduled = true;
  setImmediate(() => {
    statusScheduled = false;
    post({ type: 'status', ...status });
  });
}

function onFrame(cl: Client, data: Buffer, isBinary: boolean): void {
  // After the window, frames still queued in the socket are only read to reach the close frame.
  if (stopping) return;
  const now = Date.now();
  c.frames++;
  c.bytes += data.length;
  if (!isBinary) {
    c.badFrames++;
    return;
  }
  let m: Record<string, any>;
  try {
    let payload = data;
    if (sharedDeflate) {
      const flag = data[0];
      if (flag === 0) payload = data.subarray(1);
      else if (flag === 1) payload = inflateRawSync(data.subarray(1));
      else throw new Error(`unknown frame flag byte ${String(flag)}`);
    }
    m = unpackr.unpack(payload) as Record<string, any>;
  } catch (e) {
    c.badFrames++;
    recordError(`undecodable frame: ${(e as Error).message}`);
    return;
  }
  if (m === null || typeof m !== 'object') {
    c.badFrames++;
    return;
  }
  switch (m.op) {
    case 'upd': {
      const topic = m.topic as string;
      const seq = m.seq as number;
      const ticks = m.data as { ts: number }[] | undefined;
      const n = Array.isArray(ticks) ? ticks.length : 0;
      c.upds++;
      if (n === 0) c.emptyUpds++;
      let st = cl.state.get(topic);
      if (st === undefined) {
        c.updBeforeSnap++;
        sample({ at: now, client: cl.index, topic, expected: NaN, got: seq, len: n, kind: 'upd_before_snap' });
        st = { next: seq, throttled: topic.includes('@') };
        cl.state.set(topic, st);
      }
      if (seq === st.next) {
        st.next = seq + n;
      } else if (seq > st.next && st.throttled) {
        c.throttledSkippedTicks += seq - st.next;
        st.next = seq + n;
      } else if (seq > st.next) {
        c.gaps++;
        c.missedTicks += seq - st.next;
        sample({ at: now, client: cl.index, topic, expected: st.next, got: seq, len: n, kind: 'gap' });
        st.next = seq + n;
      } else {
        c.outOfOrder++;
        sample({ at: now, client: cl.index, topic, expected: st.next, got: seq, len: n, kind: 'out_of_order' });
        if (seq + n > st.next) st.next = seq + n;
      }
      c.ticks += n;
      // Latency of every tick, in ms. Ticks of one frame mostly share a ts (one feed batch),
      // so equal values are recorded as one run.
      let runLat = -1;
      let runCount = 0;
      for (let i = 0; i < n; i++) {
        let lat = Math.round(now - (ticks![i] as { ts: number }).ts);
        if (!(lat > 0)) lat = 0; // clock skew, or a missing/NaN ts
        if (lat === runLat) {
          runCount++;
        } else {
          if (runCount > 0) hist.recordValueWithCount(runLat, runCount);
          runLat = lat;
          runCount = 1;
        }
      }
      if (runCount > 0) hist.recordValueWithCount(runLat, runCount);
      return;
    }
    case 'snap': {
      c.snaps++;
      const topic = m.topic as string;
      const seq = m.seq as number;
      const st = cl.state.get(topic);
      if (m.resync === true) {
        // An announced reset (conflation of a slow consumer, or a resume that could not be served).
        c.resyncs++;
        if (st !== undefined) {
          if (seq >= st.next) c.resyncSkippedTicks += seq - st.next;
          sample({ at: now, client: cl.index, topic, expected: st.next, got: seq, len: 1, kind: 'resync' });
        }
      } else if (st !== undefined) {
        c.repeatedSnaps++;
        sample({ at: now, client: cl.index, topic, expected: st.next, got: seq, len: 1, kind: 'repeated_snap' });
      }
      if (st !== undefined) st.next = seq + 1;
      else cl.state.set(topic, { next: seq + 1, throttled: topic.includes('@') });
      return;
    }
    case 'hb':
      c.hbs++;
      return;
    case 'ack':
      c.acks++;
      markSubscribed(cl);
      return;
    case 'err':
      c.errReplies++;
      recordError(`server err ${String(m.code)}: ${String(m.msg)}`);
      markSubscribed(cl);
      return;
    case 'pong':
      return;
    default:
      c.badFrames++;
      recordError(`unknown op ${JSON.stringify(m.op)}`);
  }
}

function markSubscribed(cl: Client): void {
  if (cl.subscribed) return;
  cl.subscribed = true;
  status.subscribed++;
  markSettled(cl);
}

function markSettled(cl: Client): void {
  if (!cl.settled) {
    cl.settled = true;
    status.settled++;
  }
  scheduleStatus();
}

function connect(cl: Client): void {
  if (stopping) return;
  const ws = new WebSocket(cfg.url, [cfg.protocol], { perMessageDeflate: false, handshakeTimeout: 10_000 });
  cl.ws = ws;
  ws.on('open', () => {
    cl.opened = true;
    status.connected++;
    status.open++;
    scheduleStatus();
    ws.send(pack({ op: 'sub', id: cl.index + 1, topics: cl.topics }));
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => onFrame(cl, data, isBinary));
  ws.on('unexpected-response', (_req, res) => {
    recordError(`connect: HTTP ${res.statusCode}`);
    res.resume();
    ws.terminate();
  });
  ws.on('error', (err: Error) => {
    recordError(`${cl.opened ? 'socket' : 'connect'}: ${err.message}`);
  });
  ws.on('close', (code: number) => {
    if (cl.closed) return;
    cl.closed = true;
    if (!cl.opened) {
      status.failed++;
    } else {
      status.open--;
      const codes = stopping ? closeCodesAfterStop : closeCodes;
      codes[String(code)] = (codes[String(code)] ?? 0) + 1;
    }
    markSettled(cl);
    if (stopping) maybeAllClosed();
  });
}

// --- closing -----------------------------------------------------------------------------------

let closeWaiter: (() => void) | undefined;
function maybeAllClosed(): void {
  if (closeWaiter && clients.every((cl) => cl.closed || !cl.ws)) closeWaiter();
}

async function closeAll(): Promise<void> {
  for (const cl of clients) {
    if (!cl.ws || cl.closed) continue;
    if (cl.ws.readyState === WebSocket.OPEN) cl.ws.close(1000, 'load generator done');
    else cl.ws.terminate();
  }
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, cfg.closeTimeoutMs);
    closeWaiter = () => {
      clearTimeout(t);
      resolve();
    };
    maybeAllClosed();
  });
  const closedCleanly = clients.filter((cl) => cl.closed).length;
  let cut = 0;
  for (const cl of clients) {
    if (cl.ws && !cl.closed) {
      cl.ws.terminate();
      cut++;
    }
  }
  post({ type: 'closed', closedCleanly, cut, closeCodes: closeCodesAfterStop });
}

// --- main ----------------------------------------------------------------------------------------

for (const spec of cfg.clients) {
  clients.push({ index: spec.index, topics: spec.topics, ws: undefined, opened: false, subscribed: false, settled: false, closed: false, state: new Map() });
}
const connectTimers: NodeJS.Timeout[] = clients.map((cl, j) => setTimeout(() => connect(cl), j * cfg.connectStaggerMs));

const reportTimer = setInterval(() => {
  const delta = subCounters(c, lastReport);
  lastReport = { ...c };
  const now = performance.now();
  const intervalMs = now - lastReportAt;
  lastReportAt = now;
  const elu = performance.eventLoopUtilization(lastReportElu);
  lastReportElu = performance.eventLoopUtilization();
  post({ type: 'progress', delta, intervalMs, elu: elu.utilization, ...status });
}, cfg.reportIntervalMs);

port.on('message', (msg: ParentToWorker) => {
  if (msg.type === 'measure') {
    hist = newLatencyHistogram();
    windowStart = { at: Date.now(), counters: { ...c }, elu: performance.eventLoopUtilization() };
  } else if (msg.type === 'stop') {
    if (stopping) return;
    stopping = true;
    for (const t of connectTimers) clearTimeout(t);
    clearInterval(reportTimer);
    const at = Date.now();
    const start = windowStart ?? { at, counters: { ...c }, elu: performance.eventLoopUtilization() };
    post({
      type: 'final',
      windowMs: at - start.at,
      window: subCounters(c, start.counters),
      total: { ...c },
      histogram: encodeIntoCompressedBase64(hist),
      elu: performance.eventLoopUtilization(start.elu).utilization,
      closeCodes,
      errors,
      gapSamples,
      ...status,
    });
    void closeAll().then(() => {
      port.close();
    });
  }
});
