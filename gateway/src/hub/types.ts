import type { BookUnits } from '../../../protocol/src/book.js';
import type { WireCodec } from '../../../protocol/src/codec.js';
import type { HistoryExport } from './history.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import type { WaitingLimits, WaitingStats, WaitLimit } from './waiting.js';

/** What the hub needs to know about a subscriber: which codec its frames are encoded with. */
export interface HubSubscriber {
  /** Index into the hub's codec list (WireCodec.id). */
  readonly codec: number;
  /**
   * True when the transport fans this subscriber's live frames out per topic (`TopicDelivery`):
   * once live on a topic (its snap or replay sent), it gets that topic's upd frames only through
   * `TopicDelivery.publish`, never one by one. Absent or false: every frame comes through `Deliver`.
   */
  readonly viaTopic?: boolean;
  /** The client's IP: waiting subscriptions (topics with no data yet) are bounded per IP. */
  readonly remote?: string;
}

/** Receives one encoded frame for one subscriber. Called synchronously inside `flush`. */
export type Deliver<S extends HubSubscriber> = (sub: S, frame: Uint8Array) => void;

/**
 * Per-topic delivery for `viaTopic` subscribers, called synchronously inside `flush`.
 *
 * `publish(name, codec, frame, subscribers)` is one frame for every subscriber of `name` (a topic
 * or throttled view) with that codec that is live on it, `subscribers` of them; the transport owns that membership and joins a
 * subscriber when the hub says it is live: right after the frames `subscribe` returned were sent
 * (kind `frames`), or when `flush` calls `live(sub, name)` after handing it its first snap through
 * `Deliver`. A subscriber still awaiting its first snap is never reached by `publish`, so it
 * cannot get the same ticks twice. `Hub.stateOf(sub, name) === 'live'` is that membership as the
 * hub keeps it (its subscriber records), for a transport that would rather read it than copy it.
 */
export interface TopicDelivery<S extends HubSubscriber> {
  publish(name: string, codec: number, frame: Uint8Array, subscribers: number): void;
  live(sub: S, name: string): void;
}

export interface HubOptions {
  /** Identifies this run of the stream; sequence numbers restart at 1 in a new epoch. */
  epoch: string;
  codecs: readonly WireCodec[];
  maxTicksPerFrame: number;
  /** Every topic keeps at least the ticks a client away this long (hub clock) needs for resume... */
  historyMinWindowMs: number;
  /** ...within this many bytes of history over all topics (see HistoryStore: what gives way). */
  historyBudgetBytes: number;
  /** Ticks older than this (by hub clock) are not used for resume. */
  historyMaxAgeMs: number;
  /**
   * A resume from another instance whose position this hub has not reached yet waits this long
   * (hub clock) for it before falling back to a resync snap. Default 3000.
   */
  positionWaitMs?: number;
  /** Bounds on subscriptions to topics that have no data yet (see Waiting). Default: unbounded. */
  waiting?: WaitingLimits;
  /** A topic's frames could not be encoded (see `unflushable`); the error is reported here. */
  onFlushError?: (err: unknown, topic: string) => void;
  /**
   * How a topic's snapshot and throttled views are made (see TopicSemantics). Default: `last`/`latest`
   * for every topic; `fold`/`merge` for kinds with a fold adapter (fold.ts), refused for others (semantics.ts).
   */
  semantics?: (topic: string) => TopicSemantics;
  /** A symbol's tick and lot sizes, the units of order-book checksums. Default: DEFAULT_BOOK_UNITS for every symbol. */
  unitsOf?: (symbol: string) => BookUnits;
}

/**
 * What a snap of a topic carries, `last`: its newest tick, or `fold`: a state every update is applied
 * to (an order book); what a throttled view sends per interval, `latest`: the newest tick, or
 * `merge`: the updates of the interval merged into one.
 */
export interface TopicSemantics {
  snapshot: 'last' | 'fold';
  throttle: 'latest' | 'merge';
}

export interface TopicInfo {
  topic: string;
  /** Sequence number of the newest tick a subscriber can have seen. */
  seq: number;
  epoch: string;
  /** `ts` of that tick. */
  ts: number;
}

/**
 * Where a resuming client says it stopped (`since` in protocol.md): the epoch and seq it had and,
 * when the gateway gave them, that tick's upstream position, which another instance can find.
 */
export interface ResumePoint {
  epoch: string;
  seq: number;
  src?: string;
  off?: number;
}

export type SubscribeResult =
  /**
   * Subscribed; send these frames now, in order: a snap (flagged `resync` when a resume could not
   * be served), or the replayed upd frames of a resume (possibly none: already up to date). A
   * `viaTopic` subscriber is live on the topic from then on (see TopicDelivery).
   */
  | { kind: 'frames'; frames: Uint8Array[]; resync: boolean }
  /** Subscribed to a topic with no tick yet: the snap comes from the flush of its first tick. */
  | { kind: 'pending' }
  /** Was already subscribed; nothing changes and nothing is sent again. */
  | { kind: 'duplicate' }
  /** Not subscribed: the topic has no data yet and `limit` of waiting subscriptions is reached. */
  | { kind: 'refused'; limit: WaitLimit }
  /** Not a topic or throttled view name. */
  | { kind: 'invalid' };

/** One topic's state as a replica needs it: the newest tick (and folded state) and the history with its seqs. */
export interface TopicSnapshot {
  topic: string;
  /** Sequence number of `last`. */
  seq: number;
  last: Payload;
  /** Consecutive history ending at `seq` (compact chunks, with arrival times and offsets). */
  history: HistoryExport;
  /** The topic's upstream stream (see TopicState.src), and the offset of `last` when it has one. */
  src: string | null | undefined;
  lastOff: number;
  /** Snapshot `fold`: the state at `seq` (FoldState.snapshot), which a replica loads. */
  fold?: Payload;
}

/** Everything a replica hub needs to serve snaps and resumes exactly as the source hub would. */
export interface HubState {
  epoch: string;
  /** The exporting hub's clock: a replica's clock never runs behind the arrival times it imports. */
  now: number;
  topics: TopicSnapshot[];
}

export interface HubStats {
  ticksIn: number;
  ticksFlushed: number;
  framesEncoded: number;
  bytesEncoded: number;
  deliveries: number;
  flushes: number;
  /** Subscriptions resumed from history without a snapshot (includes `crossResumes`). */
  resumes: number;
  /** Of those, resumes of a position from another instance (epoch), found by upstream position. */
  crossResumes: number;
  /** Snapshots sent with `resync: true` (failed resumes and slow-consumer conflation). */
  resyncs: number;
  /** Subscriptions waiting for their topic's first tick, and those refused by a waiting limit. */
  waiting: WaitingStats;
}
