/**
 * Public types of the tickwire client SDK: wire messages (protocol v1, docs/protocol.md), ticks,
 * subscription events and connection status.
 *
 * @packageDocumentation
 */
import type { ServerMessage as WireServerMessage, SinceEntry } from '../../../protocol/src/messages.js';
import type { QuoteTick, StatsTick, Tick, TradeTick } from '../../../protocol/src/ticks.js';
import type { Candle } from './candles.js';

// ---------------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------------

// The tick shapes are the protocol's own (protocol/src/ticks.ts), re-exported rather than copied.
export type { TradeTick, QuoteTick, Tick } from '../../../protocol/src/ticks.js';

/** `stats.<SYMBOL>`: rolling 24-hour statistics of a symbol, derived by the gateway from its 1-minute candles. */
export type Stats = StatsTick;

/**
 * The tick type of a topic name, computed from its prefix: `TickOf<'trade.BTC-USD'>` is
 * {@link TradeTick}, `TickOf<'quote.AAPL@100ms'>` is {@link QuoteTick}, `candle.…` is
 * {@link Candle}, `stats.…` is {@link Stats}, any other string is {@link Tick}. (Book topics carry
 * a snapshot and change sets of different shapes: use {@link TickwireClient.book}.)
 */
export type TickOf<T extends string> = T extends `trade.${string}`
  ? TradeTick
  : T extends `quote.${string}`
    ? QuoteTick
    : T extends `candle.${string}`
      ? Candle
      : T extends `stats.${string}`
        ? Stats
        : Tick;

// ---------------------------------------------------------------------------------------------
// Wire messages (protocol v1)
// ---------------------------------------------------------------------------------------------

/**
 * `since` entry of a `sub`: the epoch and the seq of the last tick the client processed and, when
 * the gateway sent them (Kafka source), that tick's upstream position `src`/`off`, with which
 * another gateway instance can continue the stream (docs/protocol.md#resume-on-another-instance).
 */
export type ResumePosition = SinceEntry;

/** Client → server messages (protocol/src/messages.ts). `id` is echoed by the server's reply. */
export type { ClientMessage } from '../../../protocol/src/messages.js';

/**
 * Server → client messages the SDK understands: the protocol's (protocol/src/messages.ts), read
 * leniently where a later server may say more: an `err` code this SDK does not know, a `resync`
 * flag written as `false`, a `shutdown` without `msg`.
 *
 * `shutdown`: the gateway is draining (graceful shutdown) and will close this connection with 1001
 * shortly. The client reconnects at once, with no backoff: a load balancer already routes the new
 * connection to another instance (the draining one reports not ready), and subscriptions resume.
 */
export type ServerMessage = Lenient<WireServerMessage>;

type Lenient<M> = M extends { op: 'err' }
  ? Omit<M, 'code'> & { code: string }
  : M extends { op: 'snap' }
    ? Omit<M, 'resync'> & { resync?: boolean }
    : M extends { op: 'shutdown' }
      ? Omit<M, 'msg'> & { msg?: string }
      : M;

/**
 * A well-formed message whose `op` this SDK does not know (a later protocol version). The client
 * ignores it, so that new server messages never break old clients.
 */
export interface UnknownServerMessage {
  op: 'unknown';
  /** The `op` the server sent. */
  serverOp: string;
  raw: Record<string, unknown>;
}

export type DecodedMessage = ServerMessage | UnknownServerMessage;

/** The encodings of protocol v1. */
export type Format = 'msgpack' | 'json' | 'msgpack+deflate' | 'msgpack-compact' | 'msgpack-compact+deflate';

// ---------------------------------------------------------------------------------------------
// Subscription events
// ---------------------------------------------------------------------------------------------

/** Why a {@link ResyncEvent} happened. */
export type ResyncReason =
  /** The server flagged its snapshot `resync: true` (a resume it could not serve, or conflation of a slow connection). */
  | 'server'
  /** A snapshot from a new epoch (the gateway restarted): sequence numbers started again. */
  | 'epoch'
  /** The SDK saw a sequence gap ({@link GapEvent}) and resubscribed; this is the fresh snapshot. */
  | 'gap'
  /** An order book ({@link OrderBook}) on this topic failed its checksum and resubscribed; this is the fresh snapshot. */
  | 'checksum'
  /** A snapshot in the same epoch that does not continue from the last tick the client had (ticks were skipped). */
  | 'snapshot';

/**
 * First event of every subscription: the topic's last tick, the starting point of the stream.
 * `seq` is the sequence number of `tick`.
 */
export interface SnapEvent<T extends object = Tick> {
  type: 'snap';
  topic: string;
  epoch: string;
  seq: number;
  tick: T;
}

/**
 * One tick. For a raw topic, `seq` is exactly the previous event's `seq + 1`; for a throttled
 * topic (`<topic>@100ms`), `seq` only increases (jumps are the ticks the throttle skipped).
 */
export interface TickEvent<T extends object = Tick> {
  type: 'tick';
  topic: string;
  seq: number;
  tick: T;
}

/**
 * Continuity is broken: ticks between the previous event and this one were missed. Treat `tick`
 * as a new starting point (like a snapshot); ticks continue from `seq + 1`.
 */
export interface ResyncEvent<T extends object = Tick> {
  type: 'resync';
  topic: string;
  epoch: string;
  seq: number;
  tick: T;
  reason: ResyncReason;
  /** Where the client was before the resync (epoch and seq of the last tick it delivered). */
  previous: ResumePosition | undefined;
}

/**
 * Ticks `expected` .. `got - 1` of the topic will not be delivered (the Python SDK's `Gap`).
 *
 * - `reason: 'seq'`: the SDK saw an `upd` whose seq is not `expected` (a correct server never does
 *   this). The SDK drops the stream of this topic and resubscribes; a {@link ResyncEvent} with
 *   reason `'gap'` follows, and until then no tick of this topic is delivered.
 * - `reason: 'overflow'`: this subscription's iterator fell `maxBufferedEvents` behind, so its
 *   oldest ticks were dropped (other events never are); `got` is the seq of the next event it
 *   yields, and ticks continue from there. Only this iterator is affected.
 */
export interface GapEvent {
  type: 'gap';
  topic: string;
  /** The seq that should have come next (last delivered + 1). */
  expected: number;
  /** The seq of the `upd` that arrived (`seq`), or of the next event this iterator yields (`overflow`). */
  got: number;
  reason: 'seq' | 'overflow';
}

/**
 * The stream continues on another gateway instance (after a reconnect through a load balancer)
 * with nothing missed and nothing repeated, but numbered in that instance's `epoch`: the tick
 * the client had last is `seq` there, so the next {@link TickEvent} has `seq + 1`.
 */
export interface MovedEvent {
  type: 'moved';
  topic: string;
  epoch: string;
  seq: number;
  /** Epoch and seq of the same last tick on the previous instance. */
  previous: ResumePosition;
}

/** Everything a subscription delivers, in order. Discriminate on `type`. */
export type SubscriptionEvent<T extends object = Tick> = SnapEvent<T> | TickEvent<T> | ResyncEvent<T> | GapEvent | MovedEvent;

// ---------------------------------------------------------------------------------------------
// Connection status
// ---------------------------------------------------------------------------------------------

/**
 * The state of the client's link, one discriminated union (`state`). Transitions:
 * `idle → connecting → open → reconnecting → connecting → … → closed`. `closed` is final.
 */
export type Status =
  /** Created, `connect()` not called yet. */
  | { state: 'idle' }
  /** A link is being opened, over `transport`. */
  | { state: 'connecting'; transport: TransportKind }
  /**
   * Connected over `transport`; `subprotocol` is the one the server chose (e.g.
   * `tickwire.v1.msgpack`), always `tickwire.v1.json` on SSE.
   */
  | { state: 'open'; subprotocol: string; transport: TransportKind }
  /**
   * The link was lost; the next attempt (1 for the first after a stable connection) starts in
   * `delayMs`. `reason` says why the link was lost.
   */
  | { state: 'reconnecting'; attempt: number; delayMs: number; reason: string; code?: number }
  /**
   * Final. `terminal` is true when the close code says reconnecting would not help (`normal`,
   * `message_too_big`, …, see {@link closeCodeReconnects}); false when the client gave up for
   * another reason (reconnect disabled or attempts exhausted on a retryable code). `close()`
   * reports code 1000, reason `"closed by client"`.
   */
  | { state: 'closed'; code: number; reason: string; terminal: boolean };

export type StatusState = Status['state'];

/** The link in use: a WebSocket, or the Server-Sent Events fallback (`GET /v1/sse`). */
export type TransportKind = 'websocket' | 'sse';

/**
 * Which transports the client may use: `websocket` or `sse` only, or `auto` (WebSocket, and SSE
 * when WebSocket cannot connect; see `TickwireClientOptions.transport`).
 */
export type TransportMode = 'auto' | TransportKind;

// ---------------------------------------------------------------------------------------------
// WebSocket (structural, so that the browser's and `ws`'s both fit)
// ---------------------------------------------------------------------------------------------

/**
 * An event handler slot, its parameter checked bivariantly (method syntax) like the DOM's own handlers: a handler that
 * takes either implementation's richer event (`MessageEvent`, `ws`'s `CloseEvent`, ...) fits the SDK's narrow one.
 */
export type EventHandler<E> = { bivariant(ev: E): void }['bivariant'];

/**
 * The part of the WebSocket API the SDK uses. The browser's `WebSocket` and `ws`'s both fit.
 * The SDK reads only `data` (message) and `code`/`reason` (close) of the events.
 */
export interface WebSocketLike {
  readonly protocol: string;
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: EventHandler<unknown> | null;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<unknown> | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

// ---------------------------------------------------------------------------------------------
// Timers (injectable for deterministic tests)
// ---------------------------------------------------------------------------------------------

/** The clock and timers the client uses. Defaults to the global ones; tests inject fakes. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Monotonic milliseconds (for RTT and connection age). */
  now(): number;
}
