/**
 * Worker thread of ws-clients.ts: K tickwire clients (package `ws`) in one event loop, with
 * what the shared load generator (bench/src/loadgen) does not offer:
 *
 * - standard permessage-deflate (`perMessageDeflate: true`), for the tuning matrix;
 * - wire bytes as TCP bytes read (`socket.bytesRead`: WebSocket framing and compression included),
 *   so plain, permessage-deflate and shared-deflate frames are compared on the same footing;
 * - misbehaving clients for the soak: clients that stop reading for a while (`ws.pause()`), and
 *   clients that reconnect periodically and resume with `since`.
 *
 * Per client and topic it checks that `upd` frames continue the sequence (gaps counted; `snap`
 * with `resync: true` counted as an announced reset), and records `Date.now() - tick.ts` of every
 * tick of well-behaved clients into the load generator's latency histogram (ms).
 *
 * Parent → worker: `measure`, `stop`. Worker → parent: `status`, `final`, `closed`.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { pack, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { newLatencyHistogram } from '../loadgen/histogram.js';

export interface ClientSpec {
  index: number;
  topics: string[];
  /** Stops reading for `forMs`, then reads for `everyMs`, and so on; the first stall starts `firstAfterMs` (default `everyMs`) after the connect. */
  stall?: { everyMs: number; forMs: number; firstAfterMs?: number };
  /** Closes and reconnects every this many ms, resuming with `since`. */
  reconnectEveryMs?: number;
}

export interface ClientsWorkerConfig {
  workerId: number;
  url: string;
  protocol: string;
  perMessageDeflate: boolean;
  clients: ClientSpec[];
  connectStaggerMs: number;
}

export interface ClientsCounters {
  frames: number;
  /** Payload bytes as the application got them (after permessage-deflate, before shared-deflate inflation). */
  payloadBytes: number;
  /** TCP bytes read (framing and compression included). */
  wireBytes: number;
  ticks: number;
  /** Ticks of well-behaved clients only (no stall, no reconnect). */
  steadyTicks: number;
  upds: number;
  snaps: number;
  resyncs: number;
  resyncSkippedTicks: number;
  gaps: number;
  missedTicks: number;
  outOfOrder: number;
  badFrames: number;
  reconnects: number;
  resumedTopics: number;
  stalls: number;
  errReplies: number;
}

export type ClientsWorkerMsg =
  | { type: 'status'; subscribed: number; failed: number; open: number }
  | { type: 'final'; windowMs: number; window: ClientsCounters; total: ClientsCounters; histogram: string; chaosHistogram: string; elu: number; closeCodes: Record<string, number>; errors: Record<string, number> }
  | { type: 'closed' };

export function zeroClientsCounters(): ClientsCounters {
  return { frames: 0, payloadBytes: 0, wireBytes: 0, ticks: 0, steadyTicks: 0, upds: 0, snaps: 0, resyncs: 0, resyncSkippedTicks: 0, gaps: 0, missedTicks: 0, outOfOrder: 0, badFrames: 0, reconnects: 0, resumedTopics: 0, stalls: 0, errReplies: 0 };
}

// Everything below runs only inside the worker thread.
if (parentPort && (workerData as { kind?: string } | undefined)?.kind === 'tickwire-ws-clients') main();

function main(): void {
  const port = parentPort!;
  const cfg = (workerData as { cfg: ClientsWorkerConfig }).cfg;
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
  const sharedDeflate = cfg.protocol.endsWith('+deflate');
  const c = zeroClientsCounters();
  let hist = newLatencyHistogram();
  let chaosHist = newLatencyHistogram();
  const closeCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let stopping = false;
  let closedWireBytes = 0;
  const err = (m: string) => {
    const k = m.slice(0, 160);
    errors[k] = (errors[k] ?? 0) + 1;
  };

  interface Cl {
    spec: ClientSpec;
    ws: WebSocket | undefined;
    subscribed: boolean;
    failed: boolean;
    open: boolean;
    steady: boolean;
    /** topic → next expected seq, and the epoch, for `since`. */
    next: Map<string, number>;
    epoch: string | undefined;
    timers: NodeJS.Timeout[];
  }
  const clients: Cl[] = cfg.clients.map((spec) => ({ spec, ws: undefined, subscribed: false, failed: false, open: false, steady: !spec.stall && !spec.reconnectEveryMs, next: new Map(), epoch: undefined, timers: [] }));

  const status = () => {
    let subscribed = 0;
    let failed = 0;
    let open = 0;
    for (const cl of clients) {
      if (cl.subscribed) subscribed++;
      if (cl.failed) failed++;
      if (cl.open) open++;
    }
    port.postMessage({ type: 'status', subscribed, failed, open } satisfies ClientsWorkerMsg);
  };
  let statusQueued = false;
  const queueStatus = () => {
    if (statusQueued) return;
    statusQueued = true;
    setTimeout(() => {
      statusQueued = false;
      status();
    }, 50);
  };

  const wireBytes = () => {
    let b = closedWireBytes;
    for (const cl of clients) {
      if (!cl.open) continue; // a closed socket's bytes are in closedWireBytes
      const s = (cl.ws as unknown as { _socket?: { bytesRead: number } } | undefined)?._socket;
      if (s) b += s.bytesRead;
    }
    return b;
  };

  function onFrame(cl: Cl, data: Buffer): void {
    if (stopping) return;
    const now = Date.now();
    c.frames++;
    c.payloadBytes += data.length;
    let m: Record<string, any>;
    try {
      let payload = data;
      if (sharedDeflate) payload = data[0] === 1 ? inflateRawSync(data.subarray(1)) : data.subarray(1);
      m = unpackr.unpack(payload) as Record<string, any>;
    } catch (e) {
      c.badFrames++;
      err(`undecodable: ${(e as Error).message}`);
      return;
    }
    switch (m.op) {
      case 'upd': {
        const ticks = m.data as { ts: number }[];
        const n = ticks.length;
        const exp = cl.next.get(m.topic);
        if (exp !== undefined) {
          if (m.seq > exp) {
            c.gaps++;
            c.missedTicks += m.seq - exp;
          } else if (m.seq < exp) c.outOfOrder++;
        }
        cl.next.set(m.topic, m.seq + n);
        c.upds++;
        c.ticks += n;
        const h = cl.steady ? hist : chaosHist;
        if (cl.steady) c.steadyTicks += n;
        for (let i = 0; i < n; i++) {
          let lat = Math.round(now - (ticks[i] as { ts: number }).ts);
          if (!(lat > 0)) lat = 0;
          h.recordValue(lat);
        }
        return;
      }
      case 'snap': {
        c.snaps++;
        cl.epoch = m.epoch as string;
        const exp = cl.next.get(m.topic);
        if (m.resync === true) {
          c.resyncs++;
          if (exp !== undefined && m.seq >= exp) c.resyncSkippedTicks += m.seq - exp;
        }
        cl.next.set(m.topic, (m.seq as number) + 1);
        return;
      }
      case 'ack':
        if (!cl.subscribed) {
          cl.subscribed = true;
          queueStatus();
        }
        return;
      case 'err':
        c.errReplies++;
        err(`server err ${String(m.code)}: ${String(m.msg)}`);
        return;
      case 'hb':
      case 'pong':
        return;
      default:
        c.badFrames++;
    }
  }

  function connect(cl: Cl, resume: boolean): void {
    if (stopping) return;
    const ws = new WebSocket(cfg.url, [cfg.protocol], { perMessageDeflate: cfg.perMessageDeflate, handshakeTimeout: 10_000 });
    cl.ws = ws;
    ws.on('open', () => {
      cl.open = true;
      queueStatus();
      const sub: Record<string, unknown> = { op: 'sub', id: cl.spec.index + 1, topics: cl.spec.topics };
      if (resume && cl.epoch !== undefined) {
        const since: Record<string, { epoch: string; seq: number }> = {};
        for (const [t, next] of cl.next) since[t] = { epoch: cl.epoch, seq: next - 1 };
        sub.since = since;
        c.resumedTopics += cl.next.size;
      }
      ws.send(pack(sub));
    });
    ws.on('message', (d: Buffer) => onFrame(cl, d));
    ws.on('error', (e: Error) => err(`${cl.open ? 'socket' : 'connect'}: ${e.message}`));
    ws.on('unexpected-response', (_q, res) => {
      err(`connect: HTTP ${res.statusCode}`);
      res.resume();
      ws.terminate();
    });
    ws.on('close', (code: number) => {
      if (ws !== cl.ws) return;
      const s = (ws as unknown as { _socket?: { bytesRead: number } })._socket;
      if (s && cl.open) closedWireBytes += s.bytesRead;
      const wasOpen = cl.open;
      cl.open = false;
      if (!wasOpen) {
        cl.failed = true;
      } else if (!stopping) {
        closeCodes[String(code)] = (closeCodes[String(code)] ?? 0) + 1;
        // A misbehaving client (soak) that the server closed comes back and resumes.
        if (!cl.steady) cl.timers.push(setTimeout(() => connect(cl, true), 1000));
      }
      queueStatus();
    });
  }

  function reconnect(cl: Cl): void {
    if (stopping) return;
    const old = cl.ws;
    cl.ws = undefined;
    // Detach: the close of the old socket is ours, not the server's.
    if (old) {
      old.removeAllListeners('message');
      const s = (old as unknown as { _socket?: { bytesRead: number } })._socket;
      if (s && cl.open) closedWireBytes += s.bytesRead;
      old.removeAllListeners('close');
      old.on('error', () => undefined);
      old.terminate();
    }
    cl.open = false;
    c.reconnects++;
    connect(cl, true);
  }

  clients.forEach((cl, j) => {
    cl.timers.push(setTimeout(() => connect(cl, false), j * cfg.connectStaggerMs));
    const st = cl.spec.stall;
    if (st) {
      const loop = () => {
        if (stopping) return;
        cl.ws?.pause();
        c.stalls++;
        cl.timers.push(
          setTimeout(() => {
            cl.ws?.resume();
            cl.timers.push(setTimeout(loop, st.everyMs));
          }, st.forMs),
        );
      };
      cl.timers.push(setTimeout(loop, j * cfg.connectStaggerMs + (st.firstAfterMs ?? st.everyMs)));
    }
    if (cl.spec.reconnectEveryMs) {
      const every = cl.spec.reconnectEveryMs;
      const iv = setInterval(() => reconnect(cl), every);
      cl.timers.push(iv as unknown as NodeJS.Timeout);
    }
  });

  let start: { at: number; c: ClientsCounters; wire: number; elu: EventLoopUtilization } | undefined;
  port.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      hist = newLatencyHistogram();
      chaosHist = newLatencyHistogram();
      start = { at: Date.now(), c: { ...c }, wire: wireBytes(), elu: performance.eventLoopUtilization() };
    } else if (m.type === 'stop' && !stopping) {
      const at = Date.now();
      const s = start ?? { at, c: { ...c }, wire: wireBytes(), elu: performance.eventLoopUtilization() };
      const total = { ...c, wireBytes: wireBytes() };
      const window = zeroClientsCounters();
      for (const k of Object.keys(window) as (keyof ClientsCounters)[]) window[k] = total[k] - (k === 'wireBytes' ? s.wire : s.c[k]);
      stopping = true;
      port.postMessage({
        type: 'final',
        windowMs: at - s.at,
        window,
        total,
        histogram: encodeIntoCompressedBase64(hist),
        chaosHistogram: encodeIntoCompressedBase64(chaosHist),
        elu: performance.eventLoopUtilization(s.elu).utilization,
        closeCodes,
        errors,
      } satisfies ClientsWorkerMsg);
      for (const cl of clients) {
        for (const t of cl.timers) clearTimeout(t);
        for (const t of cl.timers) clearInterval(t);
        cl.ws?.resume();
        if (cl.ws && cl.ws.readyState === WebSocket.OPEN) cl.ws.close(1000);
        else cl.ws?.terminate();
      }
      setTimeout(() => {
        for (const cl of clients) cl.ws?.terminate();
        port.postMessage({ type: 'closed' } satisfies ClientsWorkerMsg);
        port.close();
      }, 500);
    }
  });
}
