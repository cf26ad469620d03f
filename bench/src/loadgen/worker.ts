/**
 * Load-generator worker thread: K clients in one event loop.
 *
 * Each client connects (staggered), subscribes to its topics and checks every frame it gets:
 * per topic the first message must be `snap` (tickwire) — for the baselines, which have no
 * snapshot, the first `upd` starts the sequence — then each `upd` must start exactly at the next
 * sequence number. It counts frames, bytes, ticks, gaps (and the ticks they skipped),
 * out-of-order/duplicate data and protocol violations, and records `receive time - tick.ts` of
 * every tick into an HdrHistogram (ms).
 *
 * What a client speaks and decodes is its kind (`WorkerConfig.kind`, see types.ts): tickwire
 * msgpack (full decode, or a header-only check of `upd` frames), or one of the baselines of the
 * benchmark suite (raw uWS msgpack, `ws` JSON, Socket.IO, Centrifugo).
 *
 * Started by index.ts (`runLoad`) from the compiled file dist/bench/src/loadgen/worker.js.
 * Parent → worker: `measure` (start of the measurement window: counters are snapshotted and the
 * histogram is reset), `stop` (end of the window: the worker posts `final`, closes its clients
 * and posts `closed`). Worker → parent: `status` on connection changes, `progress` every
 * `reportIntervalMs` (counter deltas).
 *
 * A stall worker (`cfg.stall`) pauses each socket as soon as its client is subscribed (it stops
 * reading: the server sees a consumer that froze), resumes them at `stop`, keeps checking for
 * `stall.drainMs`, and only then posts `final`: what a stalled client receives after it resumes
 * is checked too.
 *
 * Misbehaving clients (`ClientSpec.stall` / `reconnectEveryMs`, tickwire kinds) run in a worker of
 * their own (index.ts puts them there): they stop reading periodically (`ws.pause()`), or close
 * and reconnect on a schedule resuming with `since`; when the server closes one, it comes back
 * after a second and resumes. Their burst after a stall then never delays the healthy clients.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';
import { decode as decodeMsgpack } from '@msgpack/msgpack';
import { expandCompact } from '../../../client/ts/src/compact.js';
import { DEFLATE_DICTIONARIES } from '../../../protocol/src/deflate-dictionaries.js';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { pack, Unpackr } from 'msgpackr';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { newLatencyHistogram } from './histogram.js';
import { encodeCommand, PONG, readReplies, readUpdHeadJson } from './centrifugo-protobuf.js';
import { readUpdHeader } from './msgpack-header.js';
import {
  subCounters,
  zeroCounters,
  type ClientKind,
  type ClientSpec,
  type Counters,
  type GapSample,
  type ParentToWorker,
  type WorkerConfig,
  type WorkerStatus,
  type WorkerToParent,
} from './types.js';

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
  spec: ClientSpec;
  ws: WebSocket | undefined;
  sio: IoSocket | undefined;
  /** Opened at least once. */
  opened: boolean;
  /** Its current socket is open. */
  isOpen: boolean;
  subscribed: boolean;
  settled: boolean;
  closed: boolean;
  state: Map<string, TopicState>;
  /** Centrifugo: subscribe replies still expected. */
  pendingSubs: number;
  /** The epoch of the last `snap`, for `since`. */
  epoch: string | undefined;
  /** Stall and reconnect timers of a misbehaving client. */
  timers: NodeJS.Timeout[];
}

const port = parentPort;
if (!port) throw new Error('loadgen worker.ts must run as a worker thread (see loadgen/index.ts)');
const cfg = workerData as WorkerConfig;
const kind: ClientKind = cfg.kind ?? 'tickwire';
/** Baselines have no snapshot: the first `upd` of a topic starts its sequence. */
const firstUpdStarts = kind !== 'tickwire' && kind !== 'tickwire-header';
/** Centrifugo's protobuf client protocol (the url says `?format=protobuf`). */
const protobufCentrifugo = kind === 'centrifugo-protobuf' || kind === 'centrifugo-protobuf-header';
const centrifugoHeaderOnly = kind === 'centrifugo-protobuf-header';
const utf8 = new TextDecoder();
/** `upd` frames read header-only (bench/src/loadgen/msgpack-header.ts). */
const headerOnly = kind === 'tickwire-header' || kind === 'uws-raw-header';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
/** `tickwire.v1.msgpack+deflate`: each frame starts with a flag byte, 0x01 = raw DEFLATE follows. */
const sharedDeflate = cfg.protocol.endsWith('+deflate');
/** `tickwire.v1.msgpack-compact+deflate.d1`: flag byte 0x00 stored, 1–4 = raw DEFLATE with that preset dictionary. */
const dictionaryDeflate = cfg.protocol.endsWith('+deflate.d1');
/** Compact frames (columns) are decoded whole and expanded, as the SDK does: their header is not an upd's. */
const compactFrames = cfg.protocol.includes('-compact');
const c: Counters = zeroCounters();
let hist = newLatencyHistogram();
const closeCodes: Record<string, number> = {};
/** Close codes seen while closing at the end: our 1000 echoed, or a server close (e.g. 4008) that was queued behind data. */
const closeCodesAfterStop: Record<string, number> = {};
const errors: Record<string, number> = {};
const gapSamples: GapSample[] = [];
/** TCP bytes read by sockets that are closed (open ones are read from their socket). */
let closedWireBytes = 0;
const status: WorkerStatus = { connected: 0, subscribed: 0, failed: 0, open: 0, settled: 0 };
const clients: Client[] = [];
/** Set on `stop` (after the drain, for a stall worker): frames after this are not counted, closes are ours. */
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

// --- the checks, common to every kind --------------------------------------------------------------

/** Records `n` ticks of one latency, in ms. */
function recordLatency(now: number, ts: number, n: number): void {
  let lat = Math.round(now - ts);
  if (!(lat > 0)) lat = 0; // clock skew, or a missing/NaN ts
  hist.recordValueWithCount(lat, n);
}

/** Sequence check of one `upd` (`n` ticks from `seq`); latency is recorded by the caller. */
function onUpdSeq(cl: Client, now: number, topic: string, seq: number, n: number): void {
  c.upds++;
  if (n === 0) c.emptyUpds++;
  let st = cl.state.get(topic);
  if (st === undefined) {
    if (!firstUpdStarts) {
      c.updBeforeSnap++;
      sample({ at: now, client: cl.index, topic, expected: NaN, got: seq, len: n, kind: 'upd_before_snap' });
    }
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
}

/** A fully decoded `upd`: sequence check and the latency of every tick. */
function onUpd(cl: Client, now: number, topic: string, seq: number, ticks: { ts: number }[] | undefined): void {
  const n = Array.isArray(ticks) ? ticks.length : 0;
  onUpdSeq(cl, now, topic, seq, n);
  // Ticks of one frame mostly share a ts (one feed batch), so equal values are recorded as one run.
  let runLat = -1;
  let runCount = 0;
  for (let i = 0; i < n; i++) {
    let lat = Math.round(now - (ticks![i] as { ts: number }).ts);
    if (!(lat > 0)) lat = 0;
    if (lat === runLat) {
      runCount++;
    } else {
      if (runCount > 0) hist.recordValueWithCount(runLat, runCount);
      runLat = lat;
      runCount = 1;
    }
  }
  if (runCount > 0) hist.recordValueWithCount(runLat, runCount);
}

function onSnap(cl: Client, now: number, topic: string, seq: number, resync: boolean, epoch: unknown): void {
  c.snaps++;
  if (typeof epoch === 'string') cl.epoch = epoch;
  const st = cl.state.get(topic);
  if (resync) {
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
}

/** A decoded protocol message (tickwire, and the baselines that speak its shapes). */
function onMessage(cl: Client, now: number, m: Record<string, unknown>): void {
  switch (m.op) {
    case 'upd':
      return onUpd(cl, now, m.topic as string, m.seq as number, m.data as { ts: number }[] | undefined);
    case 'snap':
      return onSnap(cl, now, m.topic as string, m.seq as number, m.resync === true, m.epoch);
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
    case 'shutdown': // the gateway's notice before it closes with 1001
      return;
    default:
      c.badFrames++;
      recordError(`unknown op ${JSON.stringify(m.op)}`);
  }
}

// --- decoding, per kind ----------------------------------------------------------------------------

function onFrame(cl: Client, data: Buffer, isBinary: boolean): void {
  // After the window, frames still queued in the socket are only read to reach the close frame.
  if (stopping) return;
  c.frames++;
  c.bytes += data.length;
  const upds = c.upds;
  decodeFrame(cl, Date.now(), data, isBinary);
  if (c.upds > upds) c.updFrames++;
}

function decodeFrame(cl: Client, now: number, data: Buffer, isBinary: boolean): void {
  if (kind === 'ws-json') return onJsonFrame(cl, now, data, isBinary);
  if (kind === 'centrifugo') return onCentrifugoFrame(cl, now, data, isBinary);
  if (protobufCentrifugo) return onCentrifugoProtobufFrame(cl, now, data, isBinary);
  if (!isBinary) {
    c.badFrames++;
    return;
  }
  let payload = data;
  try {
    if (sharedDeflate) {
      const flag = data[0];
      if (flag === 0) payload = data.subarray(1);
      else if (flag === 1) payload = inflateRawSync(data.subarray(1));
      else throw new Error(`unknown frame flag byte ${String(flag)}`);
    } else if (dictionaryDeflate) {
      const flag = data[0] as number;
      const dictionary = DEFLATE_DICTIONARIES[flag];
      if (flag === 0) payload = data.subarray(1);
      else if (dictionary) payload = inflateRawSync(data.subarray(1), { dictionary });
      else throw new Error(`unknown frame flag byte ${String(flag)}`);
    }
    if (compactFrames) {
      onMessage(cl, now, expandCompact(decodeMsgpack(payload)) as Record<string, unknown>);
      return;
    }
    if (headerOnly) {
      const h = readUpdHeader(payload);
      if (h !== null) {
        onUpdSeq(cl, now, h.topic, h.seq, h.n);
        // Every tick of the frame is recorded with the first tick's latency (the oldest).
        if (h.n > 0) recordLatency(now, h.ts, h.n);
        return;
      }
    }
    const m = unpackr.unpack(payload) as Record<string, unknown>;
    if (m === null || typeof m !== 'object') {
      c.badFrames++;
      return;
    }
    onMessage(cl, now, m);
  } catch (e) {
    c.badFrames++;
    recordError(`undecodable frame: ${(e as Error).message}`);
  }
}

function onJsonFrame(cl: Client, now: number, data: Buffer, isBinary: boolean): void {
  if (isBinary) {
    c.badFrames++;
    return;
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(data.toString()) as Record<string, unknown>;
  } catch (e) {
    c.badFrames++;
    recordError(`undecodable frame: ${(e as Error).message}`);
    return;
  }
  if (m === null || typeof m !== 'object') {
    c.badFrames++;
    return;
  }
  onMessage(cl, now, m);
}

/**
 * Centrifugo's JSON protocol (v2): one frame holds one or more newline-separated replies. `{}` is
 * the server's ping (answered with `{}`); `{"push":{"channel","pub":{"data"}}}` a publication,
 * whose data is the `{op:"upd",topic,seq,data:[tick]}` object of the feeder; `{"id":N,...}` a
 * reply to our connect (id 1) or subscribe (id ≥ 2) command.
 */
/** The fields of a Centrifugo reply the worker reads; the rest of it is ignored. */
interface CentrifugoReply {
  push?: { pub?: { data?: Record<string, unknown> } };
  id?: unknown;
  error?: unknown;
}

function onCentrifugoFrame(cl: Client, now: number, data: Buffer, isBinary: boolean): void {
  if (isBinary) {
    c.badFrames++;
    return;
  }
  for (const line of data.toString().split('\n')) {
    if (line === '') continue;
    let m: CentrifugoReply;
    try {
      m = JSON.parse(line) as CentrifugoReply;
    } catch (e) {
      c.badFrames++;
      recordError(`undecodable frame: ${(e as Error).message}`);
      continue;
    }
    if (m.push?.pub?.data) {
      onMessage(cl, now, m.push.pub.data);
    } else if (typeof m.id === 'number') {
      onCentrifugoReply(cl, m.id, m.error ? JSON.stringify(m.error) : undefined);
    } else if (Object.keys(m).length === 0) {
      c.hbs++;
      cl.ws?.send('{}');
    }
  }
}

/** The reply to our connect (id 1: subscribe to every topic) or to a subscribe (id ≥ 2). */
function onCentrifugoReply(cl: Client, id: number, error: string | undefined): void {
  if (error !== undefined) {
    c.errReplies++;
    recordError(`centrifugo error ${error}`);
  }
  if (id === 1) {
    if (protobufCentrifugo) cl.ws?.send(Buffer.concat(cl.topics.map((channel, i) => encodeCommand(i + 2, { subscribe: channel }))));
    else cl.topics.forEach((channel, i) => cl.ws?.send(JSON.stringify({ id: i + 2, subscribe: { channel } })));
  } else if (--cl.pendingSubs === 0) {
    c.acks++;
    markSubscribed(cl);
  }
}

/**
 * Centrifugo's protobuf protocol (`?format=protobuf`): binary frames of length-delimited replies
 * (centrifugo-protobuf.ts); a publication's data is the feeder's JSON object, parsed as such.
 */
function onCentrifugoProtobufFrame(cl: Client, now: number, data: Buffer, isBinary: boolean): void {
  if (!isBinary) {
    c.badFrames++;
    return;
  }
  try {
    readReplies(data, (r) => {
      if (r.pub && centrifugoHeaderOnly) {
        const h = readUpdHeadJson(r.pub.data);
        if (h === undefined) throw new Error('publication without seq or ts');
        onUpdSeq(cl, now, r.pub.channel, h.seq, 1);
        recordLatency(now, h.ts, 1);
      } else if (r.pub) onMessage(cl, now, JSON.parse(utf8.decode(r.pub.data)) as Record<string, unknown>);
      else if (r.ping) {
        c.hbs++;
        cl.ws?.send(PONG);
      } else if (r.id > 0) onCentrifugoReply(cl, r.id, r.error ? JSON.stringify(r.error) : undefined);
    });
  } catch (e) {
    c.badFrames++;
    recordError(`undecodable frame: ${(e as Error).message}`);
  }
}

function markSubscribed(cl: Client): void {
  if (cl.subscribed) return;
  cl.subscribed = true;
  status.subscribed++;
  // A stall worker's clients stop reading as soon as they are subscribed (a consumer that froze
  // right away never lets the kernel grow its receive buffer: the server sees the stall at once).
  if (cfg.stall) cl.ws?.pause();
  markSettled(cl);
}

function markSettled(cl: Client): void {
  if (!cl.settled) {
    cl.settled = true;
    status.settled++;
  }
  scheduleStatus();
}

function onOpen(cl: Client): void {
  if (!cl.opened) status.connected++;
  cl.opened = true;
  cl.isOpen = true;
  status.open++;
  scheduleStatus();
}

const misbehaves = (cl: Client) => cl.spec.stall !== undefined || cl.spec.reconnectEveryMs !== undefined;

/** TCP bytes read by a `ws` socket so far. */
function bytesRead(ws: WebSocket | undefined): number {
  return (ws as unknown as { _socket?: { bytesRead: number } } | undefined)?._socket?.bytesRead ?? 0;
}

/** Updates `c.wireBytes`; called before the counters are read. */
function syncWireBytes(): void {
  let b = closedWireBytes;
  for (const cl of clients) if (cl.isOpen) b += bytesRead(cl.ws);
  c.wireBytes = b;
}

/** `ws`: the socket that closed (a socket this client replaced itself is ignored). */
function onClosed(cl: Client, code: string, ws?: WebSocket): void {
  if (ws !== undefined && ws !== cl.ws) return;
  if (cl.closed) return;
  cl.closed = true;
  const wasOpen = cl.isOpen;
  if (wasOpen) {
    cl.isOpen = false;
    closedWireBytes += bytesRead(ws);
    status.open--;
    const codes = stopping ? closeCodesAfterStop : closeCodes;
    codes[code] = (codes[code] ?? 0) + 1;
  } else if (!cl.opened) {
    status.failed++;
  }
  markSettled(cl);
  if (stopping) maybeAllClosed();
  // A misbehaving client that the server closed (e.g. 4008) comes back and resumes.
  else if (wasOpen && misbehaves(cl)) cl.timers.push(setTimeout(() => connect(cl, true), 1000));
}

/** A misbehaving client's scheduled reconnect: drop the socket (its close is ours), connect again, resume. */
function reconnect(cl: Client): void {
  if (stopping) return;
  const old = cl.ws;
  cl.ws = undefined;
  if (old) {
    old.removeAllListeners('open');
    old.removeAllListeners('message');
    old.removeAllListeners('close');
    old.on('error', () => undefined);
    old.terminate();
  }
  if (cl.isOpen) {
    closedWireBytes += bytesRead(old);
    cl.isOpen = false;
    status.open--;
  }
  c.reconnects++;
  connect(cl, true);
}

/** The `sub` of a tickwire client; a resuming one asks for what follows the last tick it has of every topic. */
function subRequest(cl: Client, resume: boolean): Record<string, unknown> {
  const sub: Record<string, unknown> = { op: 'sub', id: cl.index + 1, topics: cl.topics };
  if (resume && cl.epoch !== undefined && cl.state.size > 0) {
    const since: Record<string, { epoch: string; seq: number }> = {};
    for (const [t, st] of cl.state) since[t] = { epoch: cl.epoch, seq: st.next - 1 };
    sub.since = since;
    c.resumedTopics += cl.state.size;
  } else {
    // A new connection without `since` starts every topic with a plain snap again.
    cl.state.clear();
  }
  return sub;
}

/** Stops reading for `forMs` every `forMs + everyMs`, from `firstAfterMs` after `startMs`. */
function scheduleStalls(cl: Client, startMs: number): void {
  const st = cl.spec.stall;
  if (!st) return;
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
  cl.timers.push(setTimeout(loop, startMs + (st.firstAfterMs ?? st.everyMs)));
}

function localAddress(cl: Client): string | undefined {
  const a = cfg.localAddresses;
  return a && a.length > 0 ? a[cl.index % a.length] : undefined;
}

function connect(cl: Client, resume = false): void {
  if (stopping) return;
  cl.closed = false;
  if (kind === 'socketio') return connectSocketIo(cl);
  const laddr = localAddress(cl);
  const protocols =
    kind === 'tickwire' || kind === 'tickwire-header' || kind === 'uws-raw' || kind === 'uws-raw-header' ? [cfg.protocol] : [];
  const ws = new WebSocket(cfg.url, protocols, {
    perMessageDeflate: cfg.perMessageDeflate ?? false,
    handshakeTimeout: 10_000,
    ...(laddr ? { localAddress: laddr } : {}),
  });
  cl.ws = ws;
  ws.on('open', () => {
    onOpen(cl);
    if (kind === 'ws-json') {
      ws.send(JSON.stringify({ op: 'sub', id: cl.index + 1, topics: cl.topics }));
    } else if (kind === 'centrifugo' || protobufCentrifugo) {
      cl.pendingSubs = cl.topics.length;
      ws.send(protobufCentrifugo ? encodeCommand(1, { connect: true }) : JSON.stringify({ id: 1, connect: {} }));
    } else {
      ws.send(pack(subRequest(cl, resume)));
    }
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
  ws.on('close', (code: number) => onClosed(cl, String(code), ws));
}

/** Socket.IO: websocket transport only, one connection per client (no multiplexing), no reconnection. */
function connectSocketIo(cl: Client): void {
  const laddr = localAddress(cl);
  const s = io(cfg.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 10_000,
    perMessageDeflate: cfg.perMessageDeflate ?? false,
    ...(laddr ? { localAddress: laddr } : {}),
  } as unknown as Parameters<typeof io>[1]);
  cl.sio = s;
  s.on('connect', () => {
    onOpen(cl);
    // Payload bytes of every engine.io message packet (the socket.io-encoded string).
    s.io.engine.on('data', (d: string | Buffer) => {
      if (!stopping) c.bytes += typeof d === 'string' ? Buffer.byteLength(d) : d.length;
    });
    s.emit('sub', { topics: cl.topics }, () => {
      c.acks++;
      markSubscribed(cl);
    });
  });
  s.on('upd', (m: { topic: string; seq: number; data: { ts: number }[] }) => {
    if (stopping) return;
    c.frames++;
    c.updFrames++;
    onUpd(cl, Date.now(), m.topic, m.seq, m.data);
  });
  s.on('connect_error', (err: Error) => {
    recordError(`connect: ${err.message}`);
    onClosed(cl, 'connect_error');
  });
  s.on('disconnect', (reason: string) => onClosed(cl, reason));
}

// --- stalling ------------------------------------------------------------------------------------

function pauseAll(): void {
  for (const cl of clients) cl.ws?.pause();
}

function resumeAll(): void {
  for (const cl of clients) cl.ws?.resume();
}

// --- closing -----------------------------------------------------------------------------------

let closeWaiter: (() => void) | undefined;
function maybeAllClosed(): void {
  if (closeWaiter && clients.every((cl) => cl.closed || (!cl.ws && !cl.sio))) closeWaiter();
}

async function closeAll(): Promise<void> {
  for (const cl of clients) {
    if (cl.closed) continue;
    if (cl.sio) {
      cl.sio.disconnect();
      continue;
    }
    if (!cl.ws) continue;
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
    if (cl.closed) continue;
    if (cl.ws) {
      cl.ws.terminate();
      cut++;
    } else if (cl.sio) {
      cl.sio.io.engine?.close();
      cut++;
    }
  }
  post({ type: 'closed', closedCleanly, cut, closeCodes: closeCodesAfterStop });
}

// --- main ----------------------------------------------------------------------------------------

for (const spec of cfg.clients) {
  clients.push({
    index: spec.index,
    topics: spec.topics,
    spec,
    ws: undefined,
    sio: undefined,
    opened: false,
    isOpen: false,
    subscribed: false,
    settled: false,
    closed: false,
    state: new Map(),
    pendingSubs: 0,
    epoch: undefined,
    timers: [],
  });
}
const connectTimers: NodeJS.Timeout[] = clients.map((cl, j) => setTimeout(() => connect(cl), j * cfg.connectStaggerMs));
clients.forEach((cl, j) => {
  scheduleStalls(cl, j * cfg.connectStaggerMs);
  const every = cl.spec.reconnectEveryMs;
  if (every) cl.timers.push(setInterval(() => reconnect(cl), every));
});

const reportTimer = setInterval(() => {
  syncWireBytes();
  const delta = subCounters(c, lastReport);
  lastReport = { ...c };
  const now = performance.now();
  const intervalMs = now - lastReportAt;
  lastReportAt = now;
  const elu = performance.eventLoopUtilization(lastReportElu);
  lastReportElu = performance.eventLoopUtilization();
  post({ type: 'progress', delta, intervalMs, elu: elu.utilization, ...status });
}, cfg.reportIntervalMs);

let stopRequested = false;

function finish(): void {
  if (stopping) return;
  stopping = true;
  for (const t of connectTimers) clearTimeout(t);
  clearInterval(reportTimer);
  for (const cl of clients) {
    for (const t of cl.timers) clearTimeout(t); // clears intervals too
    // A client stopped in mid-stall reads again, to reach its close frame.
    if (cl.spec.stall) cl.ws?.resume();
  }
  syncWireBytes();
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
    ...(cfg.stall ? { stalled: true } : {}),
    ...status,
  });
  void closeAll().then(() => {
    port!.close();
  });
}

port.on('message', (msg: ParentToWorker) => {
  if (msg.type === 'measure') {
    hist = newLatencyHistogram();
    syncWireBytes();
    windowStart = { at: Date.now(), counters: { ...c }, elu: performance.eventLoopUtilization() };
    if (cfg.stall) pauseAll(); // those not subscribed yet too
  } else if (msg.type === 'stop') {
    if (stopRequested) return;
    stopRequested = true;
    if (cfg.stall) {
      // Read again, and check what arrives (backlog, resync snaps, live data) for drainMs.
      resumeAll();
      setTimeout(finish, cfg.stall.drainMs);
    } else {
      finish();
    }
  }
});
