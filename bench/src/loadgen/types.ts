/**
 * Messages and counters shared by the load generator's parent (index.ts) and its worker threads
 * (worker.ts). Types only: nothing here exists at run time.
 */

/**
 * What a client speaks and decodes (see bench/README.md, "Client kinds"):
 * - `tickwire`: protocol v1 msgpack, every frame fully decoded with msgpackr (default);
 * - `tickwire-header`: protocol v1 msgpack, `upd` frames read only up to `op`, `topic`, `seq`,
 *   the length of `data` and the first tick's `ts` (a cheap check for throughput runs); other
 *   frames fully decoded;
 * - `uws-raw`: the raw uWS baseline: msgpack `{op:"upd",topic,seq,data:[tick]}`, fully decoded;
 *   no `snap` (the first `upd` of a topic starts its sequence);
 * - `uws-raw-header`: the same, `upd` frames read header-only like `tickwire-header`;
 * - `ws-json`: the plain `ws` baseline: JSON text frames `{op:"upd",topic,seq,data:[tick]}`,
 *   every frame `JSON.parse`d; no `snap`;
 * - `socketio`: the Socket.IO baseline through socket.io-client (websocket transport only):
 *   `upd` events with the same object; no `snap`;
 * - `centrifugo`: Centrifugo's JSON client protocol; publications carry the same object;
 * - `centrifugo-protobuf`: Centrifugo's protobuf client protocol (url `...?format=protobuf`), read by
 *   a small hand decoder (centrifugo-protobuf.ts); each publication's data is that JSON object;
 * - `centrifugo-protobuf-header`: the same, each publication's JSON read only up to its `seq` and
 *   its first tick's `ts` (centrifugo-protobuf.ts `readUpdHeadJson`), as `tickwire-header` reads
 *   tickwire's frames: for runs at rates a full parse of every publication cannot keep up with.
 *
 * Independently of its kind, a tickwire client may misbehave on purpose (`ClientBehaviour`).
 */
export type ClientKind =
  | 'tickwire'
  | 'tickwire-header'
  | 'uws-raw'
  | 'uws-raw-header'
  | 'ws-json'
  | 'socketio'
  | 'centrifugo'
  | 'centrifugo-protobuf'
  | 'centrifugo-protobuf-header';

/**
 * A client that misbehaves on purpose (the soak, the slow-consumer sweep); tickwire kinds only.
 * - `stall`: stops reading for `forMs`, then reads for `everyMs`, and so on; the first stall starts
 *   `firstAfterMs` (default `everyMs`) after its connect is scheduled;
 * - `reconnectEveryMs`: closes and reconnects this often, resuming its topics with `since`.
 * Either kind also comes back (after 1 s, resuming) when the server closes it.
 */
export interface ClientBehaviour {
  stall?: { everyMs: number; forMs: number; firstAfterMs?: number };
  reconnectEveryMs?: number;
}

/** One client of a worker: its global index, its topics, and how it misbehaves (if it does). */
export interface ClientSpec extends ClientBehaviour {
  index: number;
  topics: string[];
}

/** What one worker thread is asked to do (its `workerData`). */
export interface WorkerConfig {
  workerId: number;
  url: string;
  /** WebSocket subprotocol offered, e.g. `tickwire.v1.msgpack`. */
  protocol: string;
  /** Client kind; `tickwire` when absent. */
  kind?: ClientKind;
  /** Offer permessage-deflate (ws clients only); default false. */
  perMessageDeflate?: boolean;
  /** Source addresses (127.0.0.x) the clients of this worker bind to, round-robin. */
  localAddresses?: string[];
  /**
   * A stall worker: its clients stop reading (socket paused) from the moment they are subscribed
   * until `stop`, then read again and keep checking for `drainMs` before the worker reports `final`.
   */
  stall?: { drainMs: number };
  /** The clients this worker owns. */
  clients: ClientSpec[];
  /** Delay between two consecutive connects of this worker, in ms. */
  connectStaggerMs: number;
  /** Period of `progress` messages, in ms. */
  reportIntervalMs: number;
  /** How long to wait for clients to close after `stop` before cutting them, in ms. */
  closeTimeoutMs: number;
}

/** Event counts of one worker (cumulative, a delta, or a measurement window). */
export interface Counters {
  /** Binary frames received (every op). */
  frames: number;
  /** Payload bytes of those frames (WebSocket framing excluded). */
  bytes: number;
  /** TCP bytes read (`ws` kinds: WebSocket framing and permessage-deflate included; 0 for Socket.IO). */
  wireBytes: number;
  /** `upd` messages received (one per frame, except Centrifugo's: several publications can share a frame). */
  upds: number;
  /** Frames that carried at least one `upd`: what ticks per frame is counted over. */
  updFrames: number;
  /** Ticks delivered: sum of `data.length` over `upd` frames. */
  ticks: number;
  snaps: number;
  hbs: number;
  acks: number;
  /** `err` replies from the server. */
  errReplies: number;
  /** `upd` whose seq is past the expected next one (each jump counts once). */
  gaps: number;
  /** Ticks skipped by those jumps. */
  missedTicks: number;
  /** `upd` whose seq is before the expected next one (duplicate or reordered data). */
  outOfOrder: number;
  /** `upd` of a topic before its `snap`. */
  updBeforeSnap: number;
  /** A second `snap` of a topic on the same connection without `resync: true`. */
  repeatedSnaps: number;
  /** `snap` with `resync: true` (slow-consumer conflation, failed resume): an announced reset. */
  resyncs: number;
  /** Ticks skipped by those resyncs (the snap's seq minus the expected next seq). */
  resyncSkippedTicks: number;
  /** Ticks skipped by design on throttled views (`topic@100ms`); not gaps. */
  throttledSkippedTicks: number;
  /** `upd` with an empty or missing `data` array. */
  emptyUpds: number;
  /** Frames that could not be decoded, were not maps, were text, or had an unknown op. */
  badFrames: number;
  /** Misbehaving clients (`ClientBehaviour`): their scheduled reconnects, topics resumed with `since`, stalls. */
  reconnects: number;
  resumedTopics: number;
  stalls: number;
}

export const COUNTER_KEYS: readonly (keyof Counters)[] = [
  'frames',
  'bytes',
  'wireBytes',
  'upds',
  'updFrames',
  'ticks',
  'snaps',
  'hbs',
  'acks',
  'errReplies',
  'gaps',
  'missedTicks',
  'outOfOrder',
  'updBeforeSnap',
  'repeatedSnaps',
  'resyncs',
  'resyncSkippedTicks',
  'throttledSkippedTicks',
  'emptyUpds',
  'badFrames',
  'reconnects',
  'resumedTopics',
  'stalls',
];

export function zeroCounters(): Counters {
  const c = {} as Counters;
  for (const k of COUNTER_KEYS) c[k] = 0;
  return c;
}

export function addCounters(into: Counters, c: Counters): Counters {
  for (const k of COUNTER_KEYS) into[k] += c[k];
  return into;
}

export function subCounters(a: Counters, b: Counters): Counters {
  const c = zeroCounters();
  for (const k of COUNTER_KEYS) c[k] = a[k] - b[k];
  return c;
}

/** One observed sequence jump, kept as evidence (the first few per worker). */
export interface GapSample {
  /** Epoch ms when the frame was received. */
  at: number;
  client: number;
  topic: string;
  expected: number;
  got: number;
  /** Ticks in the frame that showed the jump. */
  len: number;
  kind: 'gap' | 'out_of_order' | 'upd_before_snap' | 'repeated_snap' | 'resync';
}

/** Connection state of a worker's clients. */
export interface WorkerStatus {
  /** Clients whose WebSocket opened (ever). */
  connected: number;
  /** Clients that got their `ack` (or an `err` reply) to the `sub`. */
  subscribed: number;
  /** Clients that never opened (refused, timed out). */
  failed: number;
  /** Clients open right now. */
  open: number;
  /** Clients whose setup is over: subscribed, failed, or closed before their `ack`. */
  settled: number;
}

export type WorkerToParent =
  | ({ type: 'status' } & WorkerStatus)
  | ({ type: 'progress'; delta: Counters; /** Time the delta covers, ms. */ intervalMs: number; elu: number } & WorkerStatus)
  | ({
      type: 'final';
      /** Measurement window as the worker saw it (from `measure` to `stop`), ms. */
      windowMs: number;
      window: Counters;
      /** Since the worker started. */
      total: Counters;
      /** Latency histogram of the window, `encodeIntoCompressedBase64`. */
      histogram: string;
      /** Event-loop utilization of this worker thread over the window (0..1). */
      elu: number;
      /** Close codes of connections the server (or the network) closed before `stop`. */
      closeCodes: Record<string, number>;
      /** Error messages (connect failures, socket errors), with counts. */
      errors: Record<string, number>;
      gapSamples: GapSample[];
      /** Set by a stall worker. */
      stalled?: boolean;
    } & WorkerStatus)
  | {
      type: 'closed';
      closedCleanly: number;
      /** Clients that had not closed after `closeTimeoutMs` and were terminated. */
      cut: number;
      /** Close codes seen while closing (our own 1000 echoed back, or a server close that was queued behind data). */
      closeCodes: Record<string, number>;
    };

export type ParentToWorker = { type: 'measure' } | { type: 'stop' };
