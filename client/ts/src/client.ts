/**
 * The tickwire client: subscriptions with per-topic continuity checks, resume after reconnects,
 * requests with ids, and the connection status. The socket lifecycle itself lives in
 * {@link Connection}; this module is the protocol on top of it.
 */
import { AsyncQueue } from './async-queue.js';
import { DEFAULT_BACKOFF, validateBackoff, type BackoffOptions } from './backoff.js';
import { SUBPROTOCOLS, type InflateRaw } from './codec.js';
import { CONNECT_ERROR_CODES, type ConnectFailure } from './connect-failure.js';
import { Connection, type ReconnectPolicy } from './connection.js';
import { TickwireError } from './errors.js';
import { SseSocket, sseEndpointOf, type FetchLike } from './sse-socket.js';
import { fetchSnapshot, httpEndpointOf, snapshotEndpointOf, type Snapshot } from './snapshot.js';
import { bookTopic, OrderBook, type BookOptions, type BookOwner } from './book.js';
import { CandleStream, candleInterval, fetchCandles, type Candle, type CandleOwner, type CandlesOptions } from './candles.js';
import { Subscription, type SubscriptionListener, type SubscriptionOwner, type SubscriptionSlot } from './subscription.js';
import type {
  DecodedMessage,
  Format,
  ResumePosition,
  ResyncReason,
  ServerMessage,
  Stats,
  Status,
  SubscriptionEvent,
  Tick,
  TickOf,
  Timers,
  TransportMode,
  WebSocketConstructor,
} from './types.js';

/** Options of {@link TickwireClient}. Only `url` is required. */
export interface TickwireClientOptions {
  /** Gateway endpoint, e.g. `ws://127.0.0.1:9001/v1`. */
  url: string;
  /**
   * Wire encoding. Default `msgpack`. `msgpack+deflate` also offers plain msgpack, so a gateway
   * without shared compression still accepts the connection (see the `open` status).
   * `msgpack-compact` carries market ticks as integer columns (a third of msgpack's bytes at a few ticks a frame);
   * the SDK hands out the same tick objects. `msgpack-compact+deflate` compresses those frames once
   * for all subscribers with a preset dictionary (the smallest on the wire; it also offers
   * `msgpack-compact` and `msgpack`). Both deflate formats inflate with `DecompressionStream` unless
   * `inflateRaw` is given.
   */
  format?: Format;
  /**
   * WebSocket constructor. Default `globalThis.WebSocket` (browsers, Node ≥ 22). In Node 20 pass
   * `WebSocket` from the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Reconnect with exponential backoff and full jitter (defaults: initialDelayMs 500,
   * maxDelayMs 30 000, factor 2, resetAfterMs 5000, maxAttempts Infinity), or `false` to never
   * reconnect.
   */
  reconnect?: Partial<ReconnectPolicy> | false;
  /**
   * With no frame at all (data or heartbeat) for this long, the link is considered dead: the
   * socket is dropped and the client reconnects. Default 4000 (twice the gateway's default
   * heartbeat interval of 2000 ms); set it to twice the gateway's `heartbeatIntervalMs`. 0 disables.
   */
  heartbeatTimeoutMs?: number;
  /** A connection attempt not open after this long is abandoned and retried. Default 10 000. 0 disables. */
  connectTimeoutMs?: number;
  /** Most topics per `sub` request (the gateway's `maxTopicsPerRequest`, default 256); larger resubscriptions are split. */
  maxTopicsPerRequest?: number;
  /**
   * Most events one subscription iterator may buffer; past it, its oldest ticks are dropped and
   * reported by a `gap` (reason `overflow`). Default 100 000.
   */
  maxBufferedEvents?: number;
  /** Raw-DEFLATE decompressor for `msgpack+deflate`. Default: the standard `DecompressionStream('deflate-raw')`. */
  inflateRaw?: InflateRaw;
  /** Clock and timers (tests inject fakes). Default: the global ones and `performance.now()`. */
  timers?: Timers;
  /** Uniform random in [0, 1) for the backoff jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * Transport. Default `auto`: WebSocket, falling back to Server-Sent Events (`GET /v1/sse`,
   * for networks whose proxies block WebSocket) after `fallbackAfter` consecutive WebSocket
   * attempts that fail without opening (refused, reset, or not open within `connectTimeoutMs`).
   * While on SSE the client probes WebSocket (first after 1–2 s, then backoff up to 60 s, with
   * jitter) and moves back as soon as a probe opens, resuming every topic with `since`; both
   * moves show in the status (`transport`). `websocket` never uses SSE; `sse` never WebSocket.
   * On SSE the wire format is always JSON (the events are the same messages).
   */
  transport?: TransportMode;
  /** auto: consecutive failed WebSocket attempts before SSE is tried. Default 3. */
  fallbackAfter?: number;
  /** auto, while on SSE: backoff of the WebSocket probes. Default `{ initialDelayMs: 2000, maxDelayMs: 60000, factor: 2 }`. */
  probe?: Partial<BackoffOptions>;
  /**
   * SSE endpoint. Default: from `url` (`ws://H/v1` → `http://H/v1/sse`, `wss` → `https`); an
   * `access_token` query parameter of `url` is sent as `Authorization: Bearer` instead.
   */
  sseUrl?: string;
  /** Extra headers of SSE requests (e.g. `{ authorization: 'Bearer <jwt>' }`). */
  sseHeaders?: Record<string, string>;
  /** `fetch` for SSE (streaming body). Default `globalThis.fetch` (browsers, Node ≥ 18). */
  fetch?: FetchLike;
}

/**
 * Options of {@link TickwireClient.connect}: how long the first connection may take, and what to
 * do when it cannot be made.
 */
export interface ConnectOptions {
  /**
   * Reject when no connection opened within this many ms (the client is then closed). Default
   * 10 000. Meanwhile transient failures (refused, reset, no answer, HTTP 5xx/429) are retried
   * with the reconnect backoff. `Infinity` waits as long as the reconnect policy allows.
   */
  timeoutMs?: number;
  /**
   * `fail-fast` (default): a terminal answer (an HTTP server that is not a tickwire endpoint,
   * such as a wrong path; credentials or origin refused with 401/403) rejects at once with the
   * gateway's reason. `forever`: for long-lived clients that must come up whenever the gateway
   * does; every failure is retried with backoff, `timeoutMs` is ignored and the promise settles
   * only when a connection opens or `close()` is called.
   */
  retry?: 'fail-fast' | 'forever';
}

/** Where the client stands on one topic. */
export interface TopicState {
  topic: string;
  /** `<topic>@<interval>`: a conflated view whose seq jumps, never resumed with `since`. */
  throttled: boolean;
  /** The server acknowledged the topic on the current connection and no recovery is in progress. */
  live: boolean;
  /** Epoch of the last delivered tick (undefined before the first snapshot). */
  epoch: string | undefined;
  /** Seq of the last delivered tick (undefined before the first snapshot). */
  seq: number | undefined;
}

/** The status as a stream: `current`, plus `for await (const s of client.status)` for every later change. */
export interface StatusStream extends AsyncIterable<Status> {
  readonly current: Status;
}

interface TopicEntry {
  readonly topic: string;
  readonly throttled: boolean;
  readonly subs: Set<SubscriptionSlot>;
  /** Id of the `sub` request (on the current socket) that covers this topic; undefined = not sent yet. */
  subId: number | undefined;
  /** That request was acknowledged: messages of the topic are accepted. */
  acked: boolean;
  /** A gap was seen: waiting for the fresh snapshot of the resubscription. */
  recovering: boolean;
  /** Why the topic is recovering: the reason its fresh snapshot's `resync` event gives. */
  recoverReason: 'gap' | 'checksum';
  epoch: string | undefined;
  seq: number | undefined;
  tick: Tick | undefined;
  /** Upstream position of that tick, when the gateway gave one (lets another instance resume it). */
  src: string | undefined;
  off: number | undefined;
}

type Pending =
  | { op: 'sub'; topics: Set<string> }
  | { op: 'unsub'; resolve: () => void; reject: (e: unknown) => void }
  | { op: 'ping'; sentAt: number; resolve: (rtt: number) => void; reject: (e: unknown) => void };

const noop = (): void => {};

function defaultTimers(): Timers {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
    now: perf ? () => perf.now() : () => Date.now(),
  };
}

/**
 * A tickwire market-data client for browsers and Node.
 *
 * ```ts
 * const client = new TickwireClient({ url: 'ws://127.0.0.1:9001/v1', WebSocket }); // WebSocket from 'ws' in Node 20
 * await client.connect();
 * for await (const ev of client.subscribe('trade.BTC-USD')) {
 *   if (ev.type === 'tick') console.log(ev.seq, ev.tick.px);
 * }
 * ```
 *
 * Guarantees per subscription: a `snap` first; then `tick`s whose seq increase by exactly one
 * (raw topics) within an epoch; any break of continuity is announced by a `resync` (and, when
 * the SDK itself detected it, a `gap` before it); a `moved` renumbers the stream without a break
 * (it continues on another gateway instance). After a reconnect the client resumes every topic
 * with `since`, so a gateway that still has the missed ticks replays them and the stream just
 * continues.
 */
export class TickwireClient {
  private readonly conn: Connection;
  private readonly timers: Timers;
  private readonly url: string;
  /** What `snapshot` requests with: the fetch and headers of the SSE options. */
  private readonly http: Pick<TickwireClientOptions, 'fetch' | 'sseHeaders'>;
  private readonly maxTopicsPerRequest: number;
  private readonly topics = new Map<string, TopicEntry>();
  private readonly requests = new Map<number, Pending>();
  private nextId = 1;
  /** Topics subscribed while open, sent together at the end of the current task. */
  private readonly toSend = new Set<string>();
  private flushScheduled = false;
  private statusNow: Status = { state: 'idle' };
  private readonly statusListeners = new Set<(s: Status) => void>();
  private readonly statusQueues = new Set<AsyncQueue<Status>>();
  private readonly errorListeners = new Set<(e: TickwireError) => void>();
  private connected: Promise<void> | undefined;
  /** close() was called: subscriptions end normally rather than with an error. */
  private closedByUser = false;
  private resolveConnected: () => void = noop;
  private rejectConnected: (e: Error) => void = noop;
  private readonly owner: SubscriptionOwner;

  /** Current status, and every later change as an async iterator (ends after `closed`). */
  readonly status: StatusStream;

  constructor(opts: TickwireClientOptions) {
    if (typeof opts?.url !== 'string' || opts.url === '') throw new TypeError('tickwire: options.url is required');
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== 'function')
      throw new TypeError("tickwire: no global WebSocket; pass options.WebSocket (in Node 20: import { WebSocket } from 'ws')");
    const format = opts.format ?? 'msgpack';
    if (!Object.keys(SUBPROTOCOLS).includes(format)) throw new TypeError(`tickwire: unknown format ${JSON.stringify(format)}`);
    const transport = opts.transport ?? 'auto';
    if (transport !== 'auto' && transport !== 'websocket' && transport !== 'sse')
      throw new TypeError(`tickwire: unknown transport ${JSON.stringify(transport)}`);
    const openSse = transport === 'websocket' ? undefined : sseOpener(opts);
    if (transport === 'sse' && !openSse) throw new TypeError('tickwire: transport "sse" needs fetch (options.fetch or globalThis.fetch)');
    this.timers = opts.timers ?? defaultTimers();
    this.url = opts.url;
    this.http = { fetch: opts.fetch, sseHeaders: opts.sseHeaders };
    this.maxTopicsPerRequest = Math.max(1, opts.maxTopicsPerRequest ?? 256);
    let reconnect: ReconnectPolicy | false = false;
    if (opts.reconnect !== false) {
      const r = opts.reconnect ?? {};
      reconnect = {
        ...validateBackoff({
          ...DEFAULT_BACKOFF,
          ...stripUndefined({ initialDelayMs: r.initialDelayMs, maxDelayMs: r.maxDelayMs, factor: r.factor }),
        }),
        resetAfterMs: r.resetAfterMs ?? 5000,
        maxAttempts: r.maxAttempts ?? Infinity,
      };
    }
    this.conn = new Connection(
      {
        url: opts.url,
        format,
        WebSocket: WS,
        reconnect,
        heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 4000,
        connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
        timers: this.timers,
        random: opts.random ?? Math.random,
        ...(opts.inflateRaw ? { inflateRaw: opts.inflateRaw } : {}),
        transport,
        ...(openSse ? { openSse } : {}),
        fallbackAfter: Math.max(1, opts.fallbackAfter ?? 3),
        probe: validateBackoff({ initialDelayMs: 2000, maxDelayMs: 60_000, factor: 2, ...stripUndefined(opts.probe ?? {}) }),
      },
      {
        onStatus: (s) => this.statusChanged(s),
        onOpen: () => this.resubscribeAll(),
        onMessage: (m) => this.handle(m),
        onDown: (reason) => this.down(reason),
        onFrameError: (e) => this.emitError(new TickwireError('protocol_error', e.message)),
      },
    );
    const maxBufferedEvents = opts.maxBufferedEvents ?? 100_000;
    this.owner = {
      maxBufferedEvents,
      release: (sub) => this.release(sub),
      listenerError: (e) => this.listenerError(e),
    };
    const statusNow = () => this.statusNow;
    this.status = {
      get current() {
        return statusNow();
      },
      [Symbol.asyncIterator]: () => this.statusIterator(),
    };
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /**
   * Starts connecting (and reconnecting as needed). Resolves when the connection is first open.
   * Calling it again returns the same promise (later options are ignored).
   *
   * Rejects with a {@link TickwireError} saying why, and closes the client, when no connection
   * opened: `connect_refused` ("connection refused at ws://…"), `not_tickwire` ("HTTP 200 from
   * ws://…/ is not a tickwire endpoint; the path is /v1"), `auth_refused` (the gateway's reason
   * for its 401/403), `connect_timeout` ("no answer within N ms from ws://…"), `connect_failed`
   * (anything else); `closed` when `close()` came first. Defaults: `timeoutMs` 10 000,
   * `retry: 'fail-fast'` (see {@link ConnectOptions}). In browsers the WebSocket API hides the
   * HTTP status of a refused upgrade, so a wrong path or refused token shows as
   * `connect_failed` (1006) and is retried until `timeoutMs`.
   */
  connect(opts: ConnectOptions = {}): Promise<void> {
    if (!this.connected) {
      if (this.statusNow.state === 'closed') return Promise.reject(new TickwireError('closed', 'the client is closed; create a new one'));
      const retry = opts.retry ?? 'fail-fast';
      if (retry !== 'fail-fast' && retry !== 'forever') throw new TypeError(`tickwire: unknown retry ${JSON.stringify(retry)}`);
      const timeoutMs = opts.timeoutMs ?? 10_000;
      if (!(timeoutMs > 0)) throw new RangeError(`tickwire: timeoutMs must be > 0 (got ${timeoutMs})`);
      let timer: unknown;
      const stop = (): void => {
        if (timer !== undefined) this.timers.clearTimeout(timer);
        timer = undefined;
      };
      this.connected = new Promise<void>((resolve, reject) => {
        this.resolveConnected = () => {
          stop();
          resolve();
        };
        this.rejectConnected = (e) => {
          stop();
          reject(e);
        };
      });
      this.connected.catch(noop);
      this.conn.failFast = retry === 'fail-fast';
      if (retry === 'fail-fast' && Number.isFinite(timeoutMs)) {
        timer = this.timers.setTimeout(() => {
          timer = undefined;
          if (this.statusNow.state === 'open' || this.statusNow.state === 'closed') return;
          const err = this.connectError(this.conn.lastFailure, timeoutMs);
          this.rejectConnected(err);
          void this.conn.close(1000, err.message);
        }, timeoutMs);
      }
      this.conn.connect();
    }
    return this.connected;
  }

  /** The rejection of a first connect that failed; after `timeoutMs`, a refusal seen meanwhile says more than "no answer". */
  private connectError(f: ConnectFailure | undefined, timeoutMs?: number): TickwireError {
    const url = this.url;
    if (!f) return new TickwireError(CONNECT_ERROR_CODES.timeout, `no answer within ${timeoutMs} ms from ${url}`);
    const suffix = timeoutMs !== undefined ? ` (gave up after ${timeoutMs} ms)` : '';
    let msg: string;
    if (f.kind === 'timeout' && timeoutMs !== undefined) msg = `no answer within ${timeoutMs} ms from ${url}`;
    else msg = f.message.includes(url) ? f.message + suffix : `${f.message} at ${url}${suffix}`;
    return new TickwireError(CONNECT_ERROR_CODES[f.kind], msg, undefined, f.closeCode);
  }

  /**
   * Closes the client for good (code 1000): subscriptions and status iterators end, pending
   * requests reject with `closed`. Resolves when the socket has closed (at most ~1 s).
   */
  close(): Promise<void> {
    this.closedByUser = true;
    return this.conn.close();
  }

  // --- subscriptions ---------------------------------------------------------------------------

  /**
   * Subscribes to a topic (`trade.<SYMBOL>`, `quote.<SYMBOL>`, or a throttled view such as
   * `quote.BTC-USD@100ms`). Works before `connect()` and while reconnecting: the request goes
   * out when the connection is open. Several subscriptions to one topic share one server
   * subscription; a later one starts with a `snap` of the last tick the client has.
   *
   * @param listener called synchronously with every event, in order.
   */
  subscribe<T extends string>(topic: T, listener?: SubscriptionListener<TickOf<T>>): Subscription<TickOf<T>> {
    if (typeof topic !== 'string' || topic === '') throw new TypeError('tickwire: topic must be a non-empty string');
    if (this.statusNow.state === 'closed') throw new TickwireError('closed', 'the client is closed; create a new one', [topic]);
    const sub = new Subscription<TickOf<T>>(topic, this.owner, listener);
    let e = this.topics.get(topic);
    if (!e) {
      e = {
        topic,
        throttled: topic.includes('@'),
        subs: new Set(),
        subId: undefined,
        acked: false,
        recovering: false,
        recoverReason: 'gap',
        epoch: undefined,
        seq: undefined,
        tick: undefined,
        src: undefined,
        off: undefined,
      };
      this.topics.set(topic, e);
      this.queueSub(topic);
    }
    e.subs.add(sub);
    if (e.acked) sub._ready();
    if (e.epoch !== undefined && !e.recovering) {
      // A book's last message is a change set, not the book: the newcomer needs a fresh snapshot
      // from the server (the others see it as the next state, or as a resync that replaces theirs).
      if (isFoldTopic(topic)) this.refresh(e);
      else {
        sub._started = true;
        sub._deliver({ type: 'snap', topic, epoch: e.epoch, seq: e.seq as number, tick: e.tick as TickOf<T> });
      }
    }
    return sub;
  }

  /**
   * Unsubscribes a topic: every subscription to it ends. Resolves when the server acknowledged
   * (at once when not connected).
   */
  unsubscribe(topic: string): Promise<void> {
    const e = this.topics.get(topic);
    if (!e) return Promise.resolve();
    for (const s of e.subs) s._finish();
    return this.dropTopic(e);
  }

  /** The client's position on a topic, or undefined when not subscribed. */
  topicState(topic: string): TopicState | undefined {
    const e = this.topics.get(topic);
    if (!e) return undefined;
    return { topic, throttled: e.throttled, live: e.acked && !e.recovering, epoch: e.epoch, seq: e.seq };
  }

  /** The subscribed topics. */
  get subscribedTopics(): string[] {
    return [...this.topics.keys()];
  }

  // --- requests --------------------------------------------------------------------------------

  /** Application-level ping. Resolves with the round-trip time in ms; rejects when not connected or the connection is lost first. */
  ping(): Promise<number> {
    const id = this.newId();
    return new Promise<number>((resolve, reject) => {
      const sentAt = this.timers.now();
      if (!this.conn.send({ op: 'ping', id }))
        return reject(new TickwireError('not_connected', `cannot ping while ${this.statusNow.state}`));
      this.requests.set(id, { op: 'ping', sentAt, resolve, reject });
    });
  }

  /**
   * Each topic's current snap in one HTTP request (GET /v1/snapshot, derived from `url`:
   * `ws(s)://H/v1` → `http(s)://H/v1/snapshot`, its `access_token` sent as `Authorization: Bearer`,
   * with `sseHeaders`), without connecting. Topics the gateway cannot answer are in `errors`
   * with the reason; a refused request (token, limit) rejects with a {@link TickwireError}.
   */
  snapshot(topics: readonly string[], opts: { timeoutMs?: number } = {}): Promise<Snapshot> {
    const f = this.httpFetch();
    if (f === undefined) {
      return Promise.reject(new TickwireError('not_supported', 'snapshot needs fetch (options.fetch or globalThis.fetch)'));
    }
    const endpoint = snapshotEndpointOf(this.url);
    const headers = { ...endpoint.headers, ...this.http.sseHeaders };
    return fetchSnapshot(f, { url: endpoint.url, headers }, topics, opts.timeoutMs ?? 10_000);
  }

  /**
   * Closed candles of a candle topic (`candle.1m.BTC-USD`), oldest first: at most `limit`
   * (default 500), all before `before` (a bucket time, ms) when given. One HTTP request
   * (GET /v1/candles, found and authenticated as for {@link snapshot}), without connecting. A
   * refused request (`bad_topic`, `unauthorized`, …) rejects with a {@link TickwireError}.
   */
  candleHistory(topic: string, opts: { limit?: number; before?: number; timeoutMs?: number } = {}): Promise<Candle[]> {
    candleInterval(topic);
    const f = this.httpFetch();
    if (f === undefined)
      return Promise.reject(new TickwireError('not_supported', 'candle history needs fetch (options.fetch or globalThis.fetch)'));
    const endpoint = httpEndpointOf(this.url, 'candles');
    const headers = { ...endpoint.headers, ...this.http.sseHeaders };
    const q = {
      limit: opts.limit ?? 500,
      timeoutMs: opts.timeoutMs ?? 10_000,
      ...(opts.before !== undefined ? { before: opts.before } : {}),
    };
    return fetchCandles(f, { url: endpoint.url, headers }, topic, q);
  }

  /**
   * Candles of `topic` (`candle.<1s|1m|5m|15m|1h|1d>.<SYMBOL>`) as one ordered stream: the last
   * `history` closed candles, then the live ones, with no bucket twice or out of order at the
   * seam. See {@link CandleStream} and {@link CandleEvent}.
   *
   * ```ts
   * for await (const ev of client.candles('candle.1m.BTC-USD', { history: 500 })) {
   *   if (ev.type === 'candle') chart.update(ev.candle); // same t again: the open candle grew
   * }
   * ```
   */
  candles(topic: string, opts: CandlesOptions = {}): CandleStream {
    candleInterval(topic);
    const history = opts.history ?? 0;
    if (!Number.isSafeInteger(history) || history < 0) throw new TypeError(`tickwire: history must be an integer ≥ 0 (got ${history})`);
    const owner: CandleOwner = {
      subscribe: (t, listener) => this.subscribe(t, listener),
      history: (t, limit) => this.candleHistory(t, { limit, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) }),
    };
    return new CandleStream(topic, owner, history);
  }

  /**
   * A maintained, checksum-verified order book of `symbol` (topic `book.<SYMBOL>[:depth][@<throttle>ms]`).
   * Works before `connect()`, like {@link subscribe}. See {@link OrderBook}.
   *
   * ```ts
   * const book = client.book('BTC-USD', { depth: 10, throttle: 100 });
   * for await (const b of book) console.log(b.seq, b.bestBid, b.bestAsk, b.spread);
   * ```
   */
  book(symbol: string, opts: BookOptions = {}): OrderBook {
    const owner: BookOwner = {
      subscribe: (t, listener) => this.subscribe(t, listener),
      resync: (t) => this.resyncTopic(t),
      listenerError: (e) => this.listenerError(e),
    };
    return new OrderBook(bookTopic(symbol, opts), owner);
  }

  /**
   * Subscribes to `stats.<SYMBOL>`: rolling 24-hour statistics ({@link Stats}), updated at most
   * once a second. The same as `subscribe(\`stats.${symbol}\`, listener)`.
   */
  stats(symbol: string, listener?: SubscriptionListener<Stats>): Subscription<Stats> {
    return this.subscribe(`stats.${symbol}` as const, listener);
  }

  /** The fetch for HTTP requests: `options.fetch`, else the global one; undefined when there is none. */
  private httpFetch(): FetchLike | undefined {
    const own = this.http.fetch;
    const global = (globalThis as { fetch?: FetchLike }).fetch;
    // The global fetch is called through globalThis: some browsers refuse it detached from its object.
    return own ?? (global && ((url, init) => (globalThis as unknown as { fetch: FetchLike }).fetch(url, init)));
  }

  // --- status & errors -------------------------------------------------------------------------

  /** Calls `cb` on every status change. Returns a function that removes it. */
  onStatus(cb: (s: Status) => void): () => void {
    this.statusListeners.add(cb);
    return () => this.statusListeners.delete(cb);
  }

  /**
   * Calls `cb` with problems that belong to no request: an `err` from the server without a
   * known id, an undecodable frame (`protocol_error`; the client reconnects), an exception
   * thrown by a listener (`listener_error`). Returns a function that removes it.
   */
  onError(cb: (e: TickwireError) => void): () => void {
    this.errorListeners.add(cb);
    return () => this.errorListeners.delete(cb);
  }

  private statusIterator(): AsyncIterableIterator<Status> {
    const q = new AsyncQueue<Status>(Infinity, () => this.statusQueues.delete(q));
    if (this.statusNow.state === 'closed') {
      q.push(this.statusNow);
      q.end();
    } else this.statusQueues.add(q);
    return q;
  }

  private statusChanged(s: Status): void {
    this.statusNow = s;
    if (s.state === 'open') this.resolveConnected();
    for (const cb of [...this.statusListeners]) {
      try {
        cb(s);
      } catch (e) {
        this.listenerError(e);
      }
    }
    for (const q of this.statusQueues) q.push(s);
    if (s.state === 'closed') this.closed(s);
  }

  private closed(s: Extract<Status, { state: 'closed' }>): void {
    for (const q of this.statusQueues) q.end();
    this.statusQueues.clear();
    const byClient = this.closedByUser;
    const err = new TickwireError('closed', `connection closed: ${s.code} ${s.reason}`, undefined, s.code);
    // Closed before the first open for a reason of its own (not close()): say why it never connected.
    const failure = this.conn.lastFailure;
    this.rejectConnected(!byClient && failure ? this.connectError(failure) : err);
    this.failRequests(err);
    for (const e of this.topics.values()) for (const sub of e.subs) sub._finish(byClient ? undefined : err);
    this.topics.clear();
    this.toSend.clear();
  }

  private emitError(e: TickwireError): void {
    for (const cb of [...this.errorListeners]) {
      try {
        cb(e);
      } catch {
        // an error handler that throws has nowhere left to report to
      }
    }
  }

  private listenerError(e: unknown): void {
    if (this.errorListeners.size > 0) {
      const err = new TickwireError('listener_error', `a listener threw: ${(e as Error)?.message ?? String(e)}`);
      (err as { cause?: unknown }).cause = e;
      this.emitError(err);
      return;
    }
    // Like an EventEmitter listener: surface it, outside the client's own call stack.
    queueMicrotask(() => {
      throw e;
    });
  }

  // --- connection events -----------------------------------------------------------------------

  private newId(): number {
    const id = this.nextId;
    this.nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
    return id;
  }

  /** The socket is open: one `sub` (per `maxTopicsPerRequest` topics) for everything, resuming with `since`. */
  private resubscribeAll(): void {
    this.toSend.clear();
    const all = [...this.topics.values()];
    for (let i = 0; i < all.length; i += this.maxTopicsPerRequest) {
      const chunk = all.slice(i, i + this.maxTopicsPerRequest);
      const since: Record<string, ResumePosition> = {};
      let resumable = 0;
      for (const e of chunk) {
        if (e.throttled || e.recovering || e.epoch === undefined || e.seq === undefined) continue;
        // A resumed stream has no snapshot, and a subscription still waiting for its first needs one.
        if (![...e.subs].every((s) => s._started)) continue;
        since[e.topic] =
          e.src !== undefined && e.off !== undefined
            ? { epoch: e.epoch, seq: e.seq, src: e.src, off: e.off }
            : { epoch: e.epoch, seq: e.seq };
        resumable++;
      }
      this.sendSub(chunk, resumable > 0 ? since : undefined);
    }
  }

  private sendSub(entries: TopicEntry[], since?: Record<string, ResumePosition>): void {
    if (entries.length === 0) return;
    const id = this.newId();
    const topics = entries.map((e) => e.topic);
    for (const e of entries) {
      e.subId = id;
      e.acked = false;
    }
    this.requests.set(id, { op: 'sub', topics: new Set(topics) });
    if (!this.conn.send(since ? { op: 'sub', id, topics, since } : { op: 'sub', id, topics })) {
      this.requests.delete(id);
      for (const e of entries) e.subId = undefined;
    }
  }

  private queueSub(topic: string): void {
    if (this.conn.state.kind !== 'open') return; // sent by resubscribeAll when the socket opens
    this.toSend.add(topic);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const entries: TopicEntry[] = [];
      for (const t of this.toSend) {
        const e = this.topics.get(t);
        if (e && e.subId === undefined) entries.push(e);
      }
      this.toSend.clear();
      for (let i = 0; i < entries.length; i += this.maxTopicsPerRequest) this.sendSub(entries.slice(i, i + this.maxTopicsPerRequest));
    });
  }

  /** The socket is gone: nothing sent on it will be answered. */
  private down(reason: string): void {
    this.failRequests(new TickwireError('connection_lost', `connection lost: ${reason}`));
    for (const e of this.topics.values()) {
      e.subId = undefined;
      e.acked = false;
    }
    this.toSend.clear();
  }

  private failRequests(err: TickwireError): void {
    const reqs = [...this.requests.values()];
    this.requests.clear();
    for (const r of reqs) {
      if (r.op === 'ping') r.reject(err);
      // The server forgets a connection's subscriptions with it, so an unsub is done either way.
      else if (r.op === 'unsub') r.resolve();
    }
  }

  private release(sub: SubscriptionSlot): Promise<void> {
    sub._finish();
    const e = this.topics.get(sub.topic);
    if (!e || !e.subs.delete(sub) || e.subs.size > 0) return Promise.resolve();
    return this.dropTopic(e);
  }

  private dropTopic(e: TopicEntry): Promise<void> {
    this.topics.delete(e.topic);
    this.toSend.delete(e.topic);
    if (e.subId === undefined) return Promise.resolve(); // never sent on this socket
    return this.sendUnsub(e.topic);
  }

  private sendUnsub(topic: string): Promise<void> {
    const id = this.newId();
    return new Promise<void>((resolve, reject) => {
      if (!this.conn.send({ op: 'unsub', id, topics: [topic] })) return resolve();
      this.requests.set(id, { op: 'unsub', resolve, reject });
    });
  }

  // --- server messages -------------------------------------------------------------------------

  private handle(m: DecodedMessage): void {
    switch (m.op) {
      case 'upd':
        return this.onUpd(m);
      case 'snap':
        return this.onSnap(m);
      case 'ack':
        return this.onAck(m);
      case 'err':
        return this.onErr(m);
      case 'pong': {
        const r = this.requests.get(m.id);
        if (r?.op !== 'ping') return;
        this.requests.delete(m.id);
        r.resolve(this.timers.now() - r.sentAt);
        return;
      }
      case 'shutdown':
        // Leave before the 1001 instead of after it plus a backoff delay: nothing is lost (the
        // gateway flushed before the notice, and subscriptions resume), and the reconnect lands
        // on a healthy instance while this one drains.
        return this.conn.reconnectNow(`server shutting down${m.msg ? `: ${m.msg}` : ''}`);
      case 'hb': // liveness only: the connection's watchdog counts every frame
      case 'unknown': // a later protocol version's message: ignored
        return;
    }
  }

  private onAck(m: Extract<ServerMessage, { op: 'ack' }>): void {
    const r = this.requests.get(m.id);
    if (!r) return;
    this.requests.delete(m.id);
    if (r.op === 'unsub') return r.resolve();
    if (r.op !== 'sub') return;
    for (const t of m.topics) {
      const e = this.topics.get(t);
      if (!e || e.subId !== m.id) continue;
      e.acked = true;
      for (const s of e.subs) s._ready();
    }
  }

  private onErr(m: Extract<ServerMessage, { op: 'err' }>): void {
    const r = m.id === undefined ? undefined : this.requests.get(m.id);
    const err = new TickwireError(m.code, m.msg, m.topics);
    if (!r) return this.emitError(err);
    if (r.op === 'ping' || r.op === 'unsub') {
      this.requests.delete(m.id as number);
      return r.reject(err);
    }
    // sub: the listed topics failed (all of the request's when none are listed); an ack for the
    // others may follow.
    // The gateway cuts the names it lists to 64 characters.
    const listed = m.topics;
    const failed = listed ? [...r.topics].filter((t) => listed.some((f) => f === t || (f.length >= 64 && t.startsWith(f)))) : [...r.topics];
    for (const t of failed) {
      r.topics.delete(t);
      const e = this.topics.get(t);
      if (!e || e.subId !== m.id) continue;
      this.topics.delete(t);
      const topicErr = new TickwireError(m.code, m.msg, [t]);
      for (const s of e.subs) s._finish(topicErr);
    }
    if (r.topics.size === 0) this.requests.delete(m.id as number);
  }

  private onSnap(m: Extract<ServerMessage, { op: 'snap' }>): void {
    const e = this.topics.get(m.topic);
    if (!e || !e.acked) return; // not (or no longer) ours on this socket
    const previous: ResumePosition | undefined = e.epoch !== undefined && e.seq !== undefined ? { epoch: e.epoch, seq: e.seq } : undefined;
    // What this snapshot means for a consumer that already has `previous`.
    let kind: 'start' | 'same' | 'next' | 'moved' | ResyncReason;
    if (!previous) kind = 'start';
    else if (e.recovering) kind = e.recoverReason;
    // Another instance (another epoch) renumbered the very tick we had, found by its upstream
    // position: nothing was skipped, only the numbering changed.
    else if (m.resync !== true && m.epoch !== previous.epoch && m.src !== undefined && m.src === e.src && m.off === e.off) kind = 'moved';
    // A new epoch (the gateway restarted) is named `epoch` whether or not the server also flagged
    // the snapshot: the Python SDK names it the same (ResyncReason.EPOCH).
    else if (m.epoch !== previous.epoch) kind = 'epoch';
    else if (m.resync === true) kind = 'server';
    else if (m.seq === previous.seq) kind = 'same';
    else if (m.seq === previous.seq + 1 || (e.throttled && m.seq > previous.seq)) kind = 'next';
    else kind = 'snapshot';
    e.epoch = m.epoch;
    e.seq = m.seq;
    e.tick = m.data;
    e.src = m.src;
    e.off = m.off;
    e.recovering = false;
    let shared: SubscriptionEvent | undefined;
    if (kind === 'next') shared = { type: 'tick', topic: m.topic, seq: m.seq, tick: m.data };
    else if (kind === 'moved') shared = { type: 'moved', topic: m.topic, epoch: m.epoch, seq: m.seq, previous: previous as ResumePosition };
    else if (kind !== 'start' && kind !== 'same')
      shared = { type: 'resync', topic: m.topic, epoch: m.epoch, seq: m.seq, tick: m.data, reason: kind, previous };
    let snap: SubscriptionEvent | undefined;
    for (const s of e.subs) {
      if (!s._started) {
        s._started = true;
        s._deliver((snap ??= { type: 'snap', topic: m.topic, epoch: m.epoch, seq: m.seq, tick: m.data }));
      } else if (shared) s._deliver(shared);
    }
  }

  private onUpd(m: Extract<ServerMessage, { op: 'upd' }>): void {
    const e = this.topics.get(m.topic);
    if (!e || !e.acked || e.recovering) return;
    if (e.seq === undefined) {
      // An upd before any snapshot: there is no starting point to continue from.
      this.emitError(
        new TickwireError('protocol_error', `upd for ${m.topic} (seq ${m.seq}) before its snapshot; resubscribing`, [m.topic]),
      );
      return this.recover(e);
    }
    const expected = e.seq + 1;
    if (e.throttled ? m.seq < expected : m.seq !== expected) {
      const gap: SubscriptionEvent = { type: 'gap', topic: m.topic, expected, got: m.seq, reason: 'seq' };
      for (const s of e.subs) if (s._started) s._deliver(gap);
      return this.recover(e);
    }
    const data = m.data;
    // The offset belongs to the frame's last tick; if delivery stops before it, the entry is
    // gone or recovering and its position is not used.
    e.off = m.off;
    if (m.off === undefined) e.src = undefined;
    for (let i = 0; i < data.length; i++) {
      const tick = data[i] as Tick;
      const seq = m.seq + i;
      e.seq = seq;
      e.tick = tick;
      const ev: SubscriptionEvent = { type: 'tick', topic: m.topic, seq, tick };
      for (const s of e.subs) if (s._started) s._deliver(ev);
      if (e.recovering || this.topics.get(m.topic) !== e) return; // a listener unsubscribed or the client closed
    }
  }

  /**
   * Asks again for a topic's snapshot (`unsub` then `sub` without `since`), for a subscription that
   * joined a topic whose last tick is no starting point. Not a break of continuity: the
   * subscriptions already started see the snapshot as a continuation or a resync, as any snapshot.
   */
  private refresh(e: TopicEntry): void {
    // Not sent yet on this socket: the sub that goes out carries no since (see resubscribeAll).
    if (this.conn.state.kind !== 'open' || e.subId === undefined) return;
    e.acked = false;
    e.subId = undefined;
    void this.sendUnsub(e.topic);
    this.sendSub([e]);
  }

  /**
   * Restarts a topic's stream for an order book whose checksum failed: its fresh snap is a
   * `resync` with reason `checksum` for every subscription of the topic. No-op while the topic
   * is already recovering or no longer subscribed.
   */
  private resyncTopic(topic: string): void {
    const e = this.topics.get(topic);
    if (e && !e.recovering) this.recover(e, 'checksum');
  }

  /** Restarts a topic's stream: `unsub` then `sub` (without `since`); its fresh snap is a `resync` with reason `reason`. */
  private recover(e: TopicEntry, reason: 'gap' | 'checksum' = 'gap'): void {
    e.recovering = true;
    e.recoverReason = reason;
    e.acked = false;
    e.subId = undefined;
    if (this.conn.state.kind !== 'open') return; // resubscribeAll will do it
    void this.sendUnsub(e.topic);
    this.sendSub([e]);
  }
}

/**
 * Topics whose messages are changes folded into a state (order books): a subscription can start
 * only from the server's snapshot, never from the client's last message. The kind registry says
 * so (`semanticsOf`), but it is not imported here, to keep it out of the browser bundle.
 */
function isFoldTopic(topic: string): boolean {
  return topic.startsWith('book.');
}

/** Opens the SSE link for the client's options, or undefined when there is no fetch to run it on. */
function sseOpener(opts: TickwireClientOptions): (() => SseSocket) | undefined {
  const f = opts.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof f !== 'function') return undefined;
  const fetch: FetchLike = opts.fetch ?? ((url, init) => (globalThis as unknown as { fetch: FetchLike }).fetch(url, init));
  let derived: ReturnType<typeof sseEndpointOf>;
  try {
    derived = sseEndpointOf(opts.url);
  } catch {
    return undefined; // not a URL: the WebSocket constructor reports it
  }
  const url = opts.sseUrl ?? derived.url;
  const headers = { ...derived.headers, ...opts.sseHeaders };
  return () => new SseSocket({ url, fetch, headers });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
