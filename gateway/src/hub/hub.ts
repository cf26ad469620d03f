import type { WireCodec } from '../../../protocol/src/codec.js';
import { History, HistoryStore, type HistoryExport } from './history.js';
import { ANNOUNCE_TOPIC, parseSubscription } from '../../../protocol/src/topics.js';
import type { Payload, SourcePosition } from '../../../protocol/src/ticks.js';
import type { TopicKind } from '../../../protocol/src/kinds.js';
import { Waiting, type WaitingLimits, type WaitingStats, type WaitLimit } from './waiting.js';

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
 * cannot get the same ticks twice.
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

/** One topic's state as a replica needs it: the newest tick and the history with its seqs. */
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

interface TopicState<S> {
  readonly name: string;
  readonly kind: TopicKind;
  /** Sequence number of the newest tick accepted (flushed or pending). 0 = none yet. */
  seq: number;
  /** The newest *flushed* tick, with sequence number `seq - pending.length`; what a snap carries. */
  last: Payload | undefined;
  /** Ticks accepted since the last flush, consecutive, ending at `seq`. */
  pending: Payload[];
  readonly subs: Set<S>;
  /** Subscribers fanned out one by one: those without `viaTopic` (all of them when flush gets no TopicDelivery). */
  readonly direct: Set<S>;
  /** Live `viaTopic` subscribers per codec id, reached by one `TopicDelivery.publish` per frame. */
  readonly live: number[];
  /**
   * Subscribers that joined before the topic had any flushed tick; they get a snap, not an upd.
   * The value says whether that snap is a resync (the subscriber asked to resume).
   */
  awaiting: Map<S, boolean> | undefined;
  /** Snap frames of `last`, index codec*2 + (resync ? 1 : 0); emptied whenever `last` changes. */
  snap: (Uint8Array | undefined)[];
  /** Resume history (ticks with arrival times and offsets), from the topic's first tick on. */
  hist: History | undefined;
  /** Throttled views of this topic that have subscribers. */
  throttles: Map<number, ThrottleState<S>> | undefined;
  /**
   * The one upstream stream all of this epoch's ticks of the topic came from (see
   * SourcePosition); undefined before the first tick, null once a tick came without a position or
   * from another stream: positions are then never offered for this topic in this epoch, because
   * another instance could interleave the streams differently.
   */
  src: string | null | undefined;
  /** Upstream offsets of `pending` and of `last` (those of history are in `hist`). */
  pendingOff: number[];
  lastOff: number;
  /** Subscribers resuming another instance's position that this hub has not reached yet. */
  parked: Map<S, { since: ResumePoint; deadline: number }> | undefined;
}

/** A conflated view `<topic>@<interval>`: at most one tick per interval, the latest. */
interface ThrottleState<S> {
  readonly name: string;
  readonly base: TopicState<S>;
  readonly intervalMs: number;
  readonly subs: Set<S>;
  readonly direct: Set<S>;
  readonly live: number[];
  /** The tick last sent to the view's subscribers, and its seq; what a snap of the view carries. */
  lastTick: Payload | undefined;
  lastSeq: number;
  /** Hub time at which the next update may go out. */
  nextDue: number;
  awaiting: Set<S> | undefined;
  snap: (Uint8Array | undefined)[];
}

/**
 * The hub: topic registry, last-value cache, sequence numbers, history, per-flush batching,
 * throttled views and subscriber sets. Pure and single-threaded: no sockets, no timers, no I/O;
 * time comes in through `flush(deliver, now, topics)`. The source calls `publish`, the transport calls
 * `subscribe`/`unsubscribe` and drives `flush` on its own schedule.
 *
 * Guarantees, per topic and per subscriber:
 * - sequence numbers are assigned at `publish`, consecutive from 1 within `epoch`;
 * - the first frame a subscriber gets for a topic is a snap (from `subscribe`, or from the flush
 *   that brings the topic's first tick), or, on a served resume, the upd continuing right after
 *   the client's `seq`; from then on each upd starts right after the previous frame: no gap, no
 *   overlap. When continuity cannot be kept the snap says so (`resync: true`);
 * - each flush encodes a topic's pending ticks at most once per codec in use (split into frames
 *   of at most `maxTicksPerFrame`), and every subscriber of that codec gets the same bytes: one
 *   `TopicDelivery.publish` per frame for the live `viaTopic` ones, one `Deliver` call for others;
 *   a derived codec (shared deflate) transforms the base codec's bytes, once;
 * - a tick for a topic nobody watches costs one map lookup and a few field writes.
 */
export class Hub<S extends HubSubscriber> {
  readonly epoch: string;
  /** The resume history of every topic, within one byte budget. */
  readonly history: HistoryStore;
  private readonly waiting: Waiting<S, ResumePoint>;
  readonly stats: HubStats;
  private readonly topics = new Map<string, TopicState<S>>();
  private readonly throttles = new Map<string, ThrottleState<S>>();
  private dirty: TopicState<S>[] = [];
  /** Topics with parked subscribers, whose deadlines every flush checks. */
  private readonly parkedTopics = new Set<TopicState<S>>();
  private readonly codecs: readonly WireCodec[];
  private readonly opts: HubOptions;
  private subscriptionCount = 0;
  /** Hub clock: the `now` of the last flush. Publishing reads it instead of a clock per tick. */
  private now = 0;

  constructor(opts: HubOptions) {
    this.opts = opts;
    this.epoch = opts.epoch;
    this.codecs = opts.codecs;
    this.history = new HistoryStore({ minWindowMs: opts.historyMinWindowMs, budgetBytes: opts.historyBudgetBytes });
    this.waiting = new Waiting(opts.waiting ?? { perConnection: Infinity, perIp: Infinity, total: Infinity });
    this.stats = { ticksIn: 0, ticksFlushed: 0, framesEncoded: 0, bytesEncoded: 0, deliveries: 0, flushes: 0, resumes: 0, crossResumes: 0, resyncs: 0, waiting: this.waiting.stats };
  }

  /**
   * Accepts one tick and returns the sequence number it got. `topic` must be a valid topic name
   * and `tick` of its kind: sources validate before publishing; the hub trusts them so as not to
   * check twice per tick. `src` and `off` give the tick's upstream position when the source has
   * one (Kafka); offsets of one `src` must increase strictly.
   */
  publish(topic: string, tick: Payload, src?: string, off?: number): number {
    const t = this.topics.get(topic) ?? this.createTopic(topic);
    this.accept(t, ++t.seq, tick, src, off);
    return t.seq;
  }

  /**
   * Accepts a tick that another hub of the same epoch already sequenced (a worker's replica of
   * the primary's hub), so that every replica assigns the same seq to the same tick. A seq at or
   * below the topic's newest is a tick the replica already has (from `importState`) and is
   * ignored: returns false. A seq past the next one means ticks never reached this replica:
   * its subscribers of the topic get a snap flagged `resync` at the next flush instead of a
   * silent jump, and resume cannot reach back across the gap.
   */
  publishSequenced(topic: string, seq: number, tick: Payload, src?: string, off?: number): boolean {
    const t = this.topics.get(topic) ?? this.createTopic(topic);
    if (seq <= t.seq) return false;
    if (seq > t.seq + 1) this.skipTo(t, seq - 1);
    t.seq = seq;
    this.accept(t, seq, tick, src, off);
    return true;
  }

  /**
   * The last value and history of every topic that has data, for a replica's `importState`.
   * Pending ticks (accepted, not yet flushed) are included: a replica has no subscriber that
   * has seen them, and its own feed skips them as duplicates.
   */
  exportState(): HubState {
    const topics: TopicSnapshot[] = [];
    for (const t of this.topics.values()) {
      if (t.seq === 0) continue;
      const pendingLast = t.pending.length > 0;
      topics.push({
        topic: t.name,
        seq: t.seq,
        last: pendingLast ? (t.pending[t.pending.length - 1] as Payload) : (t.last as Payload),
        history: t.hist?.export() ?? { chunks: [] },
        src: t.src,
        lastOff: typeof t.src === 'string' && pendingLast ? (t.pendingOff[t.pendingOff.length - 1] as number) : t.lastOff,
      });
    }
    return { epoch: this.epoch, now: this.now, topics };
  }

  /**
   * Loads another hub's `exportState` into this one, which must have the same epoch and no
   * topic with data yet (a freshly started replica). Afterwards snaps, `position`, `topicInfo`
   * and resumes answer as the exporting hub did.
   */
  importState(state: HubState): void {
    if (state.epoch !== this.epoch) throw new Error(`hub: state of epoch ${state.epoch} imported into epoch ${this.epoch}`);
    // Imported arrival times are the exporter's clock: ours must not be behind them, or new ticks
    // would look older than imported ones.
    this.now = Math.max(this.now, state.now);
    for (const s of state.topics) {
      const t = this.topics.get(s.topic) ?? this.createTopic(s.topic);
      if (t.seq !== 0) throw new Error(`hub: importState into topic ${s.topic} that already has data`);
      t.seq = s.seq;
      t.last = s.last;
      t.src = s.src;
      t.lastOff = s.lastOff;
      (t.hist = this.history.create(t.name, t.kind)).import(s.history, s.seq + 1);
    }
    this.history.sortByAge();
  }

  private accept(t: TopicState<S>, seq: number, tick: Payload, src: string | undefined, off: number | undefined): void {
    this.stats.ticksIn++;
    const positioned = t.src !== null && this.track(t, src, off);
    (t.hist ??= this.history.create(t.name, t.kind)).append(seq, tick, this.now, positioned ? off : undefined);
    if (t.subs.size === 0 && t.pending.length === 0 && t.throttles === undefined) {
      t.last = tick;
      if (positioned) t.lastOff = off as number;
      if (t.snap.length) t.snap = [];
      return;
    }
    if (t.pending.length === 0) this.dirty.push(t);
    t.pending.push(tick);
    if (positioned) t.pendingOff.push(off as number);
  }

  /** Keeps `t.src` naming the single upstream stream of the topic; false once there is none. */
  private track(t: TopicState<S>, src: string | undefined, off: number | undefined): boolean {
    if (src === undefined || off === undefined) t.src = null;
    else if (t.src === undefined) t.src = src;
    else if (t.src !== src) t.src = null;
    return typeof t.src === 'string';
  }

  /**
   * Moves a topic past a gap to `seq`: what was pending becomes the last value unsent (it could
   * not be followed consecutively), every subscriber waits for a resync snap, and history
   * before the gap is no longer used for resume.
   */
  private skipTo(t: TopicState<S>, seq: number): void {
    if (t.pending.length) t.last = t.pending[t.pending.length - 1];
    if (typeof t.src === 'string' && t.pendingOff.length) t.lastOff = t.pendingOff[t.pendingOff.length - 1] as number;
    t.pending = [];
    t.pendingOff = [];
    t.snap = [];
    t.seq = seq;
    t.hist?.restart(seq + 1);
    this.resyncAll(t);
  }

  private resyncAll(t: TopicState<S>): void {
    if (t.subs.size === 0) return;
    // Everyone waits for a resync snap: live subscribers stop being live (no publish reaches
    // them until the snap went out, see TopicDelivery); parked ones are settled by position.
    const awaiting = (t.awaiting ??= new Map());
    for (const sub of t.subs) {
      if (t.parked?.has(sub)) continue;
      if (sub.viaTopic && !awaiting.has(sub)) t.live[sub.codec] = (t.live[sub.codec] as number) - 1;
      awaiting.set(sub, true);
    }
  }

  /**
   * A topic whose frames could not be encoded (a payload no codec can write got past ingest, or a
   * bug): instead of the exception ending the process, its unflushed ticks are dropped (with the
   * last value too when that cannot be encoded either), resume cannot reach back across them, and
   * every subscriber gets a snap flagged `resync`, of the last value or of the next tick.
   */
  private unflushable(t: TopicState<S>, err: unknown): void {
    this.opts.onFlushError?.(err, t.name);
    t.pending = [];
    t.pendingOff = [];
    t.snap = [];
    t.hist?.restart(t.seq + 1);
    if (t.last !== undefined) {
      try {
        for (const c of this.codecs) this.snapFrame(t, c.id, true);
      } catch {
        t.last = undefined;
        t.snap = [];
      }
    }
    this.resyncAll(t);
    if (t.last !== undefined && t.awaiting !== undefined) this.dirty.push(t);
  }

  /**
   * The upstream of these topics restarted (TickSink.upstreamReset): nobody can vouch for
   * continuity across it. Each topic with data skips one seq, so a replica sees the same gap, and
   * its subscribers get a `resync` snap of the last value at the next flush (flush first, so
   * pending ticks go out as upd). Its upstream positions stop: offsets of the new upstream would
   * repeat the old ones under the same `src`, so no resume may be found by them in this epoch.
   */
  upstreamReset(topics: readonly string[]): void {
    for (const name of topics) {
      const t = this.topics.get(name);
      if (t === undefined || t.seq === 0) continue;
      const queued = t.pending.length > 0;
      this.skipTo(t, t.seq + 1);
      t.src = null;
      if (!queued && t.awaiting !== undefined) this.dirty.push(t);
    }
  }

  /**
   * Subscribes `sub` to a topic or throttled view. With `since`, tries to resume from history
   * (plain topics only) and falls back to a snap flagged `resync`.
   */
  subscribe(sub: S, name: string, since?: ResumePoint): SubscribeResult {
    const p = parseSubscription(name);
    if (!p) return { kind: 'invalid' };
    // A topic gets its state with its first tick (createTopic); the broadcast topic is always there.
    const t = this.topics.get(p.base) ?? (p.base === ANNOUNCE_TOPIC ? this.createTopic(p.base) : undefined);
    const deadline = this.now + (this.opts.positionWaitMs ?? 3000);
    if (t === undefined) {
      const w = this.waiting.add(sub, name, { since, deadline });
      if (w === 'duplicate') return { kind: 'duplicate' };
      if (w !== 'ok') return { kind: 'refused', limit: w };
      this.subscriptionCount++;
      // What attach will answer on the data-less topic it is adopted into (see createTopic).
      const fromStart = since !== undefined && since.epoch === this.epoch && since.seq === 0 && p.intervalMs === undefined;
      return fromStart ? { kind: 'frames', frames: [], resync: false } : { kind: 'pending' };
    }
    return this.attach(sub, t, name, p.intervalMs, since, deadline);
  }

  private attach(sub: S, t: TopicState<S>, name: string, intervalMs: number | undefined, since: ResumePoint | undefined, deadline: number): SubscribeResult {
    if (intervalMs !== undefined) return this.subscribeThrottle(sub, t, name, intervalMs);
    if (t.subs.has(sub)) return { kind: 'duplicate' };
    this.subscriptionCount++;
    const moved = since !== undefined && since.epoch !== this.epoch ? this.resumeElsewhere(t, sub.codec, since) : undefined;
    if (moved === 'wait') {
      // Not live until settleParked hands it its frames.
      addSub(t, sub, false);
      (t.parked ??= new Map()).set(sub, { since: since as ResumePoint, deadline });
      this.parkedTopics.add(t);
      return { kind: 'pending' };
    }
    if (t.last === undefined) {
      // Resuming from seq 0 of this epoch means "seen nothing yet": every tick comes as upd from
      // seq 1, pending ones included. Any other resume point names data the gateway does not
      // have (another epoch), so the first snap, whenever it comes, is a reset and says so.
      if (since !== undefined && since.epoch === this.epoch && since.seq === 0) {
        addSub(t, sub, true);
        return { kind: 'frames', frames: [], resync: false };
      }
      addSub(t, sub, false);
      (t.awaiting ??= new Map()).set(sub, since !== undefined);
      return { kind: 'pending' };
    }
    addSub(t, sub, true);
    if (since === undefined) return { kind: 'frames', frames: [this.snapFrame(t, sub.codec, false)], resync: false };
    const frames = moved ?? this.replay(t, sub.codec, since);
    if (frames) {
      this.stats.resumes++;
      if (moved) this.stats.crossResumes++;
      return { kind: 'frames', frames, resync: false };
    }
    this.stats.resyncs++;
    return { kind: 'frames', frames: [this.snapFrame(t, sub.codec, true)], resync: true };
  }

  /**
   * A resume point of another epoch (another instance, or this one before a restart), found by
   * its upstream position: a snap of the client's own last tick in this epoch's numbering (same
   * `src`/`off`, so the client knows nothing was skipped), then the replay of every later tick.
   * 'wait' while this hub has not reached the position yet; undefined when it cannot be served.
   */
  private resumeElsewhere(t: TopicState<S>, codecId: number, since: ResumePoint): Uint8Array[] | 'wait' | undefined {
    if (since.src === undefined || since.off === undefined || t.src === null) return undefined;
    if (t.src !== undefined && t.src !== since.src) return undefined;
    if (t.last === undefined || since.off > t.lastOff) return 'wait';
    const seq = this.seqAtOffset(t, since.off);
    if (seq === undefined) return undefined;
    const rest = this.replay(t, codecId, { epoch: this.epoch, seq });
    if (!rest) return undefined;
    const codec = this.codecs[codecId] as WireCodec;
    const tick = (t.hist as History).tick(seq);
    return [this.count(codec.encodeSnap(t.name, t.kind, seq, this.epoch, tick, false, { src: t.src as string, off: since.off })), ...rest];
  }

  /** The seq of the flushed tick at upstream offset `off` still in history (binary search: offsets increase with seq). */
  private seqAtOffset(t: TopicState<S>, off: number): number | undefined {
    const h = t.hist;
    if (h === undefined) return undefined;
    // Only what history holds: never before a replica's gap, which restarted it.
    let lo = Math.max(1, h.first);
    let hi = Math.min(t.seq - t.pending.length, h.last);
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const o = h.offOf(mid);
      if (o === off) return mid;
      if (o < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /**
   * Serves parked subscribers whose position this hub has reached (or that waited too long: a
   * resync snap, or a flagged first snap when the topic still has no data).
   */
  private settleParked(t: TopicState<S>, deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    const parked = t.parked as Map<S, { since: ResumePoint; deadline: number }>;
    for (const [sub, p] of parked) {
      const r = this.resumeElsewhere(t, sub.codec, p.since);
      if (r === 'wait' && now < p.deadline) continue;
      parked.delete(sub);
      if (Array.isArray(r)) {
        this.stats.resumes++;
        this.stats.crossResumes++;
        for (const f of r) deliver(sub, f);
        this.stats.deliveries += r.length;
        this.nowLive(t, sub, topics);
      } else if (t.last === undefined) (t.awaiting ??= new Map()).set(sub, true);
      else {
        this.stats.resyncs++;
        this.stats.deliveries++;
        deliver(sub, this.snapFrame(t, sub.codec, true));
        this.nowLive(t, sub, topics);
      }
    }
    if (parked.size === 0) {
      t.parked = undefined;
      this.parkedTopics.delete(t);
    }
  }

  /** Returns false when `sub` was not subscribed to `name`. */
  unsubscribe(sub: S, name: string): boolean {
    const p = parseSubscription(name);
    if (!p) return false;
    const t = this.topics.get(p.base);
    if (!t) {
      if (!this.waiting.remove(sub, name)) return false;
      this.subscriptionCount--;
      return true;
    }
    if (p.intervalMs !== undefined) {
      const v = this.throttles.get(name);
      if (!v || !v.subs.has(sub)) return false;
      removeSub(v, sub, v.awaiting?.delete(sub) === true);
      this.subscriptionCount--;
      if (v.subs.size === 0) {
        this.throttles.delete(name);
        t.throttles?.delete(v.intervalMs);
        if (t.throttles?.size === 0) t.throttles = undefined;
      }
    } else {
      if (!t.subs.has(sub)) return false;
      // Awaiting and parked subscribers are not live yet (see TopicDelivery).
      removeSub(t, sub, t.awaiting?.delete(sub) === true || t.parked?.has(sub) === true);
      this.subscriptionCount--;
      if (t.parked?.delete(sub) && t.parked.size === 0) {
        t.parked = undefined;
        this.parkedTopics.delete(t);
      }
    }
    // A topic a client named but that never had data is forgotten once nobody watches it, so
    // clients cannot grow the registry by subscribing to made-up symbols.
    if (t.subs.size === 0 && t.seq === 0 && t.throttles === undefined) this.topics.delete(t.name);
    return true;
  }

  /**
   * A snap of the newest flushed tick of `name` flagged `resync: true`, for a subscriber whose
   * stream was interrupted (slow-consumer conflation). Undefined while the topic has no data.
   */
  resyncFrame(name: string, codecId: number): Uint8Array | undefined {
    const v = this.throttles.get(name);
    if (v) return v.lastTick === undefined ? undefined : (this.stats.resyncs++, this.throttleSnap(v, codecId, true));
    const t = this.topics.get(name);
    if (!t || t.last === undefined) return undefined;
    this.stats.resyncs++;
    return this.snapFrame(t, codecId, true);
  }

  /**
   * Encodes every topic with pending ticks once per codec in use and hands each subscriber its
   * frames, in sequence order; then sends throttled views that are due. Returns topics flushed.
   * Without `topics`, every subscriber (`viaTopic` or not) gets its frames through `deliver`.
   */
  flush(deliver: Deliver<S>, now: number, topics?: TopicDelivery<S>): number {
    this.now = now;
    const dirty = this.dirty;
    const stats = this.stats;
    if (dirty.length > 0) {
      this.dirty = [];
      stats.flushes++;
      for (const t of dirty) {
        try {
          this.flushTopic(t, deliver, topics);
        } catch (e) {
          this.unflushable(t, e);
        }
      }
    }
    if (this.parkedTopics.size > 0) for (const t of this.parkedTopics) this.settleParked(t, deliver, now, topics);
    if (this.throttles.size > 0) for (const v of this.throttles.values()) this.flushThrottle(v, deliver, now, topics);
    return dirty.length;
  }

  /**
   * What a snap of `name` (a topic or a throttled view) sent now would carry, for GET /v1/snapshot;
   * undefined while it has no flushed tick. A view nobody follows carries its topic's newest tick.
   */
  snapshot(name: string): { seq: number; epoch: string; data: Payload; src?: string; off?: number } | undefined {
    const v = this.throttles.get(name);
    if (v?.lastTick !== undefined) return { seq: v.lastSeq, epoch: this.epoch, data: v.lastTick };
    const at = name.indexOf('@');
    const t = this.topics.get(at === -1 ? name : name.slice(0, at));
    if (!t || t.last === undefined) return undefined;
    const snap = { seq: t.seq - t.pending.length, epoch: this.epoch, data: t.last };
    return typeof t.src === 'string' && at === -1 ? { ...snap, src: t.src, off: t.lastOff } : snap;
  }

  /** Where a subscriber that has seen everything flushed so far stands: a `since` that replays nothing. */
  position(topic: string): ResumePoint {
    const t = this.topics.get(topic);
    return { epoch: this.epoch, seq: t ? t.seq - t.pending.length : 0 };
  }

  /** True when ticks are waiting for a flush. */
  get hasPending(): boolean {
    return this.dirty.length > 0;
  }

  /** Every topic that has data, with the newest sequence number a subscriber can have seen. */
  topicInfo(): TopicInfo[] {
    const out: TopicInfo[] = [];
    for (const t of this.topics.values()) {
      if (t.last === undefined) continue;
      out.push({ topic: t.name, seq: t.seq - t.pending.length, epoch: this.epoch, ts: typeof t.last.ts === 'number' ? t.last.ts : 0 });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  get topicCount(): number {
    return this.topics.size;
  }

  get subscriptions(): number {
    return this.subscriptionCount;
  }

  /** Subscriptions waiting for the first tick of their topic (included in `subscriptions`). */
  get waitingCount(): number {
    return this.waiting.stats.current;
  }

  private flushTopic(t: TopicState<S>, deliver: Deliver<S>, topics: TopicDelivery<S> | undefined): void {
    const n = t.pending.length;
    const awaiting = t.awaiting;
    const parked = t.parked;
    // The topic's first data: who waited for it gets all of it, not only its newest tick.
    const first = t.last === undefined && n > 1 ? t.pending : undefined;
    const firstOffs = t.pendingOff;
    if (t.subs.size > 0) {
      const frames: (Uint8Array[] | undefined)[] = [];
      if (topics !== undefined) {
        const live = t.live;
        for (let c = 0; c < live.length; c++) {
          const count = live[c] as number;
          if (count === 0) continue;
          const fs = frames[c] ?? this.updFrames(t, c, frames);
          for (let i = 0; i < fs.length; i++) topics.publish(t.name, c, fs[i] as Uint8Array, count);
          this.stats.deliveries += count * fs.length;
        }
      }
      for (const sub of topics !== undefined ? t.direct : t.subs) {
        if (awaiting !== undefined && awaiting.has(sub)) continue;
        if (parked !== undefined && parked.has(sub)) continue;
        const fs = frames[sub.codec] ?? this.updFrames(t, sub.codec, frames);
        for (let i = 0; i < fs.length; i++) deliver(sub, fs[i] as Uint8Array);
        this.stats.deliveries += fs.length;
      }
    }
    // n is 0 only for a topic queued twice in one flush (publishSequenced past a gap).
    if (n > 0) {
      t.last = t.pending[n - 1];
      t.pending = [];
      if (typeof t.src === 'string') t.lastOff = t.pendingOff[n - 1] as number;
      if (t.pendingOff.length > 0) t.pendingOff = [];
      t.snap = [];
      this.stats.ticksFlushed += n;
    }
    if (awaiting !== undefined) {
      // Each subscriber leaves `awaiting` once live, so if encoding throws (see unflushable) the
      // map still says exactly who is not live yet.
      const fromFirst: (Uint8Array[] | undefined)[] = [];
      for (const [sub, resync] of awaiting) {
        if (resync) this.stats.resyncs++;
        if (first !== undefined && !resync) {
          const fs = (fromFirst[sub.codec] ??= this.fromFirst(t, sub.codec, first, firstOffs));
          for (let i = 0; i < fs.length; i++) deliver(sub, fs[i] as Uint8Array);
          this.stats.deliveries += fs.length;
        } else {
          deliver(sub, this.snapFrame(t, sub.codec, resync));
          this.stats.deliveries++;
        }
        this.nowLive(t, sub, topics);
        awaiting.delete(sub);
      }
      if (t.awaiting === awaiting) t.awaiting = undefined;
    }
  }

  /**
   * For subscribers that waited for a topic's first data, flushed now: a snap of its first tick,
   * then the others as upd, so none of the ticks that came after they subscribed is folded away.
   */
  private fromFirst(t: TopicState<S>, codecId: number, ticks: Payload[], offs: number[]): Uint8Array[] {
    const codec = this.codecs[codecId] as WireCodec;
    const firstSeq = t.seq - ticks.length + 1;
    const src = typeof t.src === 'string' ? t.src : undefined;
    const pos = src === undefined ? undefined : { src, off: offs[0] as number };
    const out = [this.count(codec.encodeSnap(t.name, t.kind, firstSeq, this.epoch, ticks[0] as Payload, false, pos))];
    for (let from = 1; from < ticks.length; from += this.opts.maxTicksPerFrame) {
      const to = Math.min(from + this.opts.maxTicksPerFrame, ticks.length);
      out.push(this.count(codec.encodeUpd(t.name, t.kind, firstSeq + from, ticks, from, to, src === undefined ? undefined : offs[to - 1])));
    }
    return out;
  }

  /** After its first snap went out through `deliver`: a `viaTopic` subscriber joins the per-topic path. */
  private nowLive(a: TopicState<S> | ThrottleState<S>, sub: S, topics: TopicDelivery<S> | undefined): void {
    if (!sub.viaTopic) return;
    a.live[sub.codec] = (a.live[sub.codec] as number) + 1;
    topics?.live(sub, a.name);
  }

  private flushThrottle(v: ThrottleState<S>, deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    const t = v.base;
    const seq = t.seq - t.pending.length;
    if (t.last === undefined || seq <= v.lastSeq || now < v.nextDue) return;
    v.lastTick = t.last;
    v.lastSeq = seq;
    v.snap = [];
    v.nextDue = now + v.intervalMs;
    const awaiting = v.awaiting;
    v.awaiting = undefined;
    const frames: (Uint8Array | undefined)[] = [];
    const frame = (c: number): Uint8Array => (frames[c] ??= this.count((this.codecs[c] as WireCodec).encodeUpd(v.name, t.kind, seq, [t.last as Payload], 0, 1)));
    if (topics !== undefined) {
      for (let c = 0; c < v.live.length; c++) {
        const count = v.live[c] as number;
        if (count === 0) continue;
        topics.publish(v.name, c, frame(c), count);
        this.stats.deliveries += count;
      }
    }
    for (const sub of topics !== undefined ? v.direct : v.subs) {
      if (awaiting !== undefined && awaiting.has(sub)) continue;
      deliver(sub, frame(sub.codec));
      this.stats.deliveries++;
    }
    if (awaiting !== undefined) {
      for (const sub of awaiting) {
        deliver(sub, this.throttleSnap(v, sub.codec, false));
        this.nowLive(v, sub, topics);
      }
      this.stats.deliveries += awaiting.size;
    }
  }

  private subscribeThrottle(sub: S, t: TopicState<S>, name: string, intervalMs: number): SubscribeResult {
    let v = this.throttles.get(name);
    if (!v) {
      const seq = t.seq - t.pending.length;
      v = { name, base: t, intervalMs, subs: new Set(), direct: new Set(), live: this.codecs.map(() => 0), lastTick: t.last, lastSeq: t.last === undefined ? 0 : seq, nextDue: this.now + intervalMs, awaiting: undefined, snap: [] };
      this.throttles.set(name, v);
      (t.throttles ??= new Map()).set(intervalMs, v);
    }
    if (v.subs.has(sub)) return { kind: 'duplicate' };
    this.subscriptionCount++;
    addSub(v, sub, v.lastTick !== undefined);
    if (v.lastTick === undefined) {
      (v.awaiting ??= new Set()).add(sub);
      return { kind: 'pending' };
    }
    return { kind: 'frames', frames: [this.throttleSnap(v, sub.codec, false)], resync: false };
  }

  /** The upd frames that take a client from `since` to the newest flushed tick, or undefined. */
  private replay(t: TopicState<S>, codecId: number, since: ResumePoint): Uint8Array[] | undefined {
    const flushed = t.seq - t.pending.length;
    const { historyMaxAgeMs, maxTicksPerFrame } = this.opts;
    if (since.epoch !== this.epoch || !Number.isSafeInteger(since.seq) || since.seq < 0 || since.seq > flushed) return undefined;
    const from = since.seq + 1;
    if (from > flushed) return [];
    const h = t.hist;
    if (h === undefined || !h.holds(from, flushed)) return undefined;
    if (this.now - h.atOf(from) > historyMaxAgeMs) return undefined;
    const ticks = h.ticks(from, flushed);
    const codec = this.codecs[codecId] as WireCodec;
    const positioned = typeof t.src === 'string';
    const out: Uint8Array[] = [];
    for (let i = 0; i < ticks.length; i += maxTicksPerFrame) {
      const to = Math.min(i + maxTicksPerFrame, ticks.length);
      out.push(this.count(codec.encodeUpd(t.name, t.kind, from + i, ticks, i, to, positioned ? h.offOf(from + to - 1) : undefined)));
    }
    return out;
  }

  /** Per topic with history: how far back (hub clock) a resume reaches, and the ticks held. */
  historyWindows(): { topic: string; ms: number; ticks: number }[] {
    const out: { topic: string; ms: number; ticks: number }[] = [];
    for (const t of this.topics.values()) if (t.hist !== undefined) out.push({ topic: t.name, ms: t.hist.windowMs(this.now), ticks: t.hist.count });
    return out;
  }

  private createTopic(name: string): TopicState<S> {
    const p = parseSubscription(name);
    if (!p || p.intervalMs !== undefined) throw new Error(`hub: invalid topic ${JSON.stringify(name)}`);
    const t: TopicState<S> = {
      name,
      kind: p.kind,
      seq: 0,
      last: undefined,
      pending: [],
      subs: new Set(),
      direct: new Set(),
      live: this.codecs.map(() => 0),
      awaiting: undefined,
      snap: [],
      hist: undefined,
      throttles: undefined,
      src: undefined,
      pendingOff: [],
      lastOff: -1,
      parked: undefined,
    };
    this.topics.set(name, t);
    // Subscriptions that waited for this topic's first tick join it as if they subscribed now.
    for (const [view, subs] of this.waiting.take(name)) {
      const interval = view === name ? undefined : parseSubscription(view)?.intervalMs;
      for (const [sub, w] of subs) {
        this.subscriptionCount--;
        this.attach(sub, t, view, interval, w.since, w.deadline);
      }
    }
    return t;
  }

  private snapFrame(t: TopicState<S>, codecId: number, resync: boolean): Uint8Array {
    const key = codecId * 2 + (resync ? 1 : 0);
    const cached = t.snap[key];
    if (cached) return cached;
    const codec = this.codecs[codecId] as WireCodec;
    const pos = typeof t.src === 'string' ? { src: t.src, off: t.lastOff } : undefined;
    const frame = this.count(codec.encodeSnap(t.name, t.kind, t.seq - t.pending.length, this.epoch, t.last as Payload, resync, pos));
    t.snap[key] = frame;
    return frame;
  }

  private throttleSnap(v: ThrottleState<S>, codecId: number, resync: boolean): Uint8Array {
    const key = codecId * 2 + (resync ? 1 : 0);
    const cached = v.snap[key];
    if (cached) return cached;
    const codec = this.codecs[codecId] as WireCodec;
    const frame = this.count(codec.encodeSnap(v.name, v.base.kind, v.lastSeq, this.epoch, v.lastTick as Payload, resync));
    v.snap[key] = frame;
    return frame;
  }

  /** Encodes the pending ticks for one codec, reusing the base codec's frames for a derived one. */
  private updFrames(t: TopicState<S>, codecId: number, cache: (Uint8Array[] | undefined)[]): Uint8Array[] {
    const codec = this.codecs[codecId] as WireCodec;
    let out: Uint8Array[];
    if (codec.derive) {
      const baseId = codec.derive.base.id;
      const base = cache[baseId] ?? this.updFrames(t, baseId, cache);
      out = base.map((f) => this.count(codec.derive!.transform(f)));
    } else {
      const ticks = t.pending;
      const firstSeq = t.seq - ticks.length + 1;
      const offs = typeof t.src === 'string' ? t.pendingOff : undefined;
      out = [];
      for (let from = 0; from < ticks.length; from += this.opts.maxTicksPerFrame) {
        const to = Math.min(from + this.opts.maxTicksPerFrame, ticks.length);
        out.push(this.count(codec.encodeUpd(t.name, t.kind, firstSeq + from, ticks, from, to, offs?.[to - 1])));
      }
    }
    cache[codecId] = out;
    return out;
  }

  private count(frame: Uint8Array): Uint8Array {
    this.stats.framesEncoded++;
    this.stats.bytesEncoded += frame.length;
    return frame;
  }
}

/** Who receives what: `live` says whether a `viaTopic` subscriber is reached by publish right away. */
function addSub<S extends HubSubscriber>(a: { subs: Set<S>; direct: Set<S>; live: number[] }, sub: S, live: boolean): void {
  a.subs.add(sub);
  if (!sub.viaTopic) a.direct.add(sub);
  else if (live) a.live[sub.codec] = (a.live[sub.codec] as number) + 1;
}

function removeSub<S extends HubSubscriber>(a: { subs: Set<S>; direct: Set<S>; live: number[] }, sub: S, wasAwaiting: boolean): void {
  a.subs.delete(sub);
  if (!sub.viaTopic) a.direct.delete(sub);
  else if (!wasAwaiting) a.live[sub.codec] = (a.live[sub.codec] as number) - 1;
}
