import { ANNOUNCE_TOPIC, parseSubscription } from '../../../protocol/src/topics.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import { dropUnflushable, skipTo } from './continuity.js';
import { NO_UNITS } from './fold.js';
import { loseFold } from './folding.js';
import { TopicFlush } from './flush.js';
import { Frames } from './frames.js';
import { HistoryStore } from './history.js';
import { Positions, track } from './positions.js';
import { historyWindowsOf, newHubStats, snapshotOf, topicInfoOf, type SnapshotAnswer } from './queries.js';
import { checkImport, exportState, importTopic, sequencedStep } from './replica.js';
import { checkSemantics } from './semantics.js';
import { liveState, type Members, type MemberState } from './subscribers.js';
import { flushedSeq, newTopic, type TopicState } from './topic.js';
import type { Deliver, HubOptions, HubState, HubStats, HubSubscriber, ResumePoint, SubscribeResult } from './types.js';
import type { TopicDelivery, TopicInfo } from './types.js';
import { Views } from './views.js';
import { Waiting } from './waiting.js';

export type { Deliver, HubOptions, HubState, HubStats, HubSubscriber, ResumePoint, SubscribeResult } from './types.js';
export type { TopicDelivery, TopicInfo, TopicSemantics, TopicSnapshot } from './types.js';
export type { MemberState } from './subscribers.js';

/**
 * The hub: topic registry, last-value cache, sequence numbers and per-flush batching, composed
 * with resume history (history.ts), throttled views (views.ts), upstream positions and parked
 * resumes (positions.ts), worker replicas (replica.ts) and one subscriber record per topic
 * (subscribers.ts). Pure and single-threaded: no sockets, no timers, no I/O; time comes in
 * through `flush(deliver, now, topics)`. The source calls `publish`, the transport calls
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
  private readonly views: Views<S>;
  private readonly positions: Positions<S>;
  private readonly frames: Frames;
  private readonly topicFlush: TopicFlush<S>;
  private dirty: TopicState<S>[] = [];
  private readonly opts: HubOptions;
  private subscriptionCount = 0;
  /** Hub clock: the `now` of the last flush. Publishing reads it instead of a clock per tick. */
  private now = 0;

  constructor(opts: HubOptions) {
    this.opts = opts;
    this.epoch = opts.epoch;
    this.history = new HistoryStore({ minWindowMs: opts.historyMinWindowMs, budgetBytes: opts.historyBudgetBytes });
    this.waiting = new Waiting(opts.waiting ?? { perConnection: Infinity, perIp: Infinity, total: Infinity });
    this.stats = newHubStats(this.waiting.stats);
    this.frames = new Frames(opts.codecs, opts.epoch, opts.maxTicksPerFrame, this.stats);
    this.topicFlush = new TopicFlush(this.frames, this.stats);
    this.views = new Views(this.frames, this.stats, opts.codecs.length);
    const replay = (t: TopicState<S>, c: number, since: ResumePoint) => this.frames.replay(t, c, since, this.now, opts.historyMaxAgeMs);
    this.positions = new Positions(this.frames, this.stats, { replay });
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
    const step = sequencedStep(t.seq, seq);
    if (step === 'old') return false;
    if (step === 'gap') {
      skipTo(t, seq - 1);
      loseFold(t);
    }
    t.seq = seq;
    this.accept(t, seq, tick, src, off);
    return true;
  }

  /** The state of every topic that has data, for a replica's `importState` (see replica.ts). */
  exportState(): HubState {
    return exportState(this.epoch, this.now, this.topics.values());
  }

  /**
   * Loads another hub's `exportState` into this one, which must have the same epoch and no
   * topic with data yet (a freshly started replica). Afterwards snaps, `position`, `topicInfo`
   * and resumes answer as the exporting hub did.
   */
  importState(state: HubState): void {
    checkImport(state, this.epoch);
    // Imported arrival times are the exporter's clock: ours must not be behind them, or new ticks
    // would look older than imported ones.
    this.now = Math.max(this.now, state.now);
    for (const s of state.topics) importTopic(this.topics.get(s.topic) ?? this.createTopic(s.topic), s, this.history);
    this.history.sortByAge();
  }

  private accept(t: TopicState<S>, seq: number, tick: Payload, src: string | undefined, off: number | undefined): void {
    this.stats.ticksIn++;
    const positioned = t.src !== null && track(t, src, off);
    (t.hist ??= this.history.create(t.name, t.kind)).append(seq, tick, this.now, positioned ? off : undefined);
    if (t.members.size === 0 && t.pending.length === 0 && t.views === undefined) {
      // Snapshot `last`: nobody is waiting for frames, so the tick is the snapshot at once.
      t.last = tick;
      if (t.fold !== undefined) t.fold.apply(tick);
      if (positioned) t.lastOff = off as number;
      if (t.snap.length) t.snap = [];
      return;
    }
    if (t.pending.length === 0) this.dirty.push(t);
    t.pending.push(tick);
    if (positioned) t.pendingOff.push(off as number);
  }

  /** A topic whose frames could not be encoded: its subscribers get a resync snap instead of the process ending. */
  private unflushable(t: TopicState<S>, err: unknown): void {
    this.opts.onFlushError?.(err, t.name);
    dropUnflushable(t, this.frames, this.opts.codecs);
    if (t.last !== undefined && t.members.size > 0) this.dirty.push(t);
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
      skipTo(t, t.seq + 1);
      t.src = null;
      if (!queued && t.members.size > 0) this.dirty.push(t);
    }
  }

  /**
   * Subscribes `sub` to a topic or throttled view. With `since`, tries to resume from history
   * (plain topics only) and falls back to a snap flagged `resync`. Throws when the topic's
   * semantics (HubOptions.semantics) ask for a mode the hub does not support yet.
   */
  subscribe(sub: S, name: string, since?: ResumePoint): SubscribeResult {
    const p = parseSubscription(name);
    if (!p) return { kind: 'invalid' };
    checkSemantics(this.opts.semantics, p.base, p.intervalMs !== undefined);
    // A topic gets its state with its first tick (createTopic); the broadcast topic is always there.
    const t = this.topics.get(p.base) ?? (p.base === ANNOUNCE_TOPIC ? this.createTopic(p.base) : undefined);
    const deadline = this.now + (this.opts.positionWaitMs ?? 3000);
    if (t === undefined) {
      const w = this.waiting.add(sub, name, { since, deadline });
      if (w === 'duplicate') return { kind: 'duplicate' };
      if (w !== 'ok') return { kind: 'refused', limit: w };
      this.subscriptionCount++;
      // What attach will answer on the data-less topic it is adopted into (see createTopic).
      return this.fromStart(since, p.intervalMs) ? { kind: 'frames', frames: [], resync: false } : { kind: 'pending' };
    }
    return this.attach(sub, t, name, p.intervalMs, since, deadline);
  }

  private attach(
    sub: S,
    t: TopicState<S>,
    name: string,
    intervalMs: number | undefined,
    since: ResumePoint | undefined,
    deadline: number,
  ): SubscribeResult {
    if (intervalMs !== undefined) {
      const r = this.views.subscribe(sub, t, name, intervalMs, this.now);
      if (r.kind !== 'duplicate') this.subscriptionCount++;
      return r;
    }
    const ms = t.members;
    if (ms.get(sub)) return { kind: 'duplicate' };
    this.subscriptionCount++;
    const moved = since !== undefined && since.epoch !== this.epoch ? this.positions.resumeElsewhere(t, sub.codec, since) : undefined;
    if (moved === 'wait') {
      // Not live until Positions.settle hands it its frames.
      this.positions.park(t, sub, since as ResumePoint, deadline);
      return { kind: 'pending' };
    }
    if (t.last === undefined) {
      // Resuming from seq 0 of this epoch means "seen nothing yet": every tick comes as upd from
      // seq 1, pending ones included. Any other resume point names data the gateway does not
      // have (another epoch), so the first snap, whenever it comes, is a reset and says so.
      if (since !== undefined && since.epoch === this.epoch && since.seq === 0) {
        ms.join(sub, liveState(sub));
        return { kind: 'frames', frames: [], resync: false };
      }
      ms.join(sub, since !== undefined ? 'resync' : 'awaiting');
      return { kind: 'pending' };
    }
    ms.join(sub, liveState(sub));
    if (since === undefined) return { kind: 'frames', frames: [this.frames.snap(t, sub.codec, false)], resync: false };
    const frames = moved ?? this.frames.replay(t, sub.codec, since, this.now, this.opts.historyMaxAgeMs);
    if (frames) {
      this.stats.resumes++;
      if (moved) this.stats.crossResumes++;
      return { kind: 'frames', frames, resync: false };
    }
    this.stats.resyncs++;
    return { kind: 'frames', frames: [this.frames.snap(t, sub.codec, true)], resync: true };
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
      if (!this.views.unsubscribe(sub, t, name)) return false;
    } else {
      const m = t.members.get(sub);
      if (m === undefined) return false;
      const parked = m.state === 'parked';
      t.members.transition(m, 'gone');
      if (parked) this.positions.left(t);
    }
    this.subscriptionCount--;
    // A topic a client named but that never had data is forgotten once nobody watches it, so
    // clients cannot grow the registry by subscribing to made-up symbols.
    if (t.members.size === 0 && t.seq === 0 && t.views === undefined) this.topics.delete(t.name);
    return true;
  }

  /**
   * Where `sub` stands on a topic or throttled view (see MemberState), undefined when it is not
   * subscribed there or the topic has no data yet (except a resume from seq 0: live already).
   * `live` is exactly when a transport's publish membership for `name` must hold it.
   */
  stateOf(sub: S, name: string): MemberState | undefined {
    const ms = this.membersOf(name);
    if (ms !== undefined) return ms.get(sub)?.state;
    // Waiting from seq 0 of this epoch: subscribe answered with frames (none), so the transport
    // made it live, and the topic's first tick adopts it as live (createTopic) without telling.
    const w = this.waiting.get(sub, name);
    return w !== undefined && this.fromStart(w.since, parseSubscription(name)?.intervalMs) ? liveState(sub) : undefined;
  }

  /** A resume from seq 0 of this epoch on a plain topic: "seen nothing yet", every tick comes as upd. */
  private fromStart(since: ResumePoint | undefined, intervalMs: number | undefined): boolean {
    return since !== undefined && since.epoch === this.epoch && since.seq === 0 && intervalMs === undefined;
  }

  /**
   * The transport stopped writing `sub`'s frames of `name` (a slow consumer): no upd reaches it,
   * and it no longer counts among the live ones, until `recover`. False unless it was live or direct.
   */
  conflate(sub: S, name: string): boolean {
    const ms = this.membersOf(name);
    const m = ms?.get(sub);
    if (ms === undefined || m === undefined || (m.state !== 'live' && m.state !== 'direct')) return false;
    ms.transition(m, 'conflated');
    return true;
  }

  /**
   * A conflated `sub` caught up: it is live (or direct) on `name` again, and the returned snap of
   * the newest flushed tick, flagged `resync`, must be sent to it before anything else (then a
   * `viaTopic` one rejoins the publish membership). Undefined when it was not conflated, or the
   * topic has no flushed tick yet (it missed nothing).
   */
  recover(sub: S, name: string): Uint8Array | undefined {
    const ms = this.membersOf(name);
    const m = ms?.get(sub);
    if (ms === undefined || m === undefined || m.state !== 'conflated') return undefined;
    ms.transition(m, liveState(sub));
    return this.resyncFrame(name, sub.codec);
  }

  private membersOf(name: string): Members<S> | undefined {
    const v = this.views.get(name);
    return v !== undefined ? v.members : this.topics.get(name)?.members;
  }

  /**
   * A snap of the newest flushed tick of `name` flagged `resync: true`, for a subscriber whose
   * stream was interrupted (slow-consumer conflation). Undefined while the topic has no data.
   */
  resyncFrame(name: string, codecId: number): Uint8Array | undefined {
    const v = this.views.get(name);
    if (v) return this.views.resyncFrame(v, codecId);
    const t = this.topics.get(name);
    if (!t || t.last === undefined) return undefined;
    this.stats.resyncs++;
    return this.frames.snap(t, codecId, true);
  }

  /**
   * Encodes every topic with pending ticks once per codec in use and hands each subscriber its
   * frames, in sequence order; then settles parked resumes and sends throttled views that are
   * due. Returns topics flushed. Without `topics`, every subscriber (`viaTopic` or not) gets its
   * frames through `deliver`.
   */
  flush(deliver: Deliver<S>, now: number, topics?: TopicDelivery<S>): number {
    this.now = now;
    const dirty = this.dirty;
    if (dirty.length > 0) {
      this.dirty = [];
      this.stats.flushes++;
      for (const t of dirty) {
        try {
          this.topicFlush.flushTopic(t, deliver, topics);
        } catch (e) {
          this.unflushable(t, e);
        }
      }
    }
    this.positions.settleAll(deliver, now, topics);
    this.views.flush(deliver, now, topics);
    return dirty.length;
  }

  /**
   * What a snap of `name` (a topic or a throttled view) sent now would carry, for GET /v1/snapshot;
   * undefined while it has no flushed tick. A view nobody follows carries its topic's newest tick.
   */
  snapshot(name: string): SnapshotAnswer | undefined {
    return snapshotOf(this.topics, this.views, this.epoch, name);
  }

  /** Where a subscriber that has seen everything flushed so far stands: a `since` that replays nothing. */
  position(topic: string): ResumePoint {
    const t = this.topics.get(topic);
    return { epoch: this.epoch, seq: t ? flushedSeq(t) : 0 };
  }

  /** True when ticks are waiting for a flush. */
  get hasPending(): boolean {
    return this.dirty.length > 0;
  }

  /** Every topic that has data, with the newest sequence number a subscriber can have seen. */
  topicInfo(): TopicInfo[] {
    return topicInfoOf(this.topics.values(), this.epoch);
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

  /** Per topic with history: how far back (hub clock) a resume reaches, and the ticks held. */
  historyWindows(): { topic: string; ms: number; ticks: number }[] {
    return historyWindowsOf(this.topics.values(), this.now);
  }

  private createTopic(name: string): TopicState<S> {
    const p = parseSubscription(name);
    if (!p || p.intervalMs !== undefined) throw new Error(`hub: invalid topic ${JSON.stringify(name)}`);
    const fold = checkSemantics(this.opts.semantics, name, false)?.create(
      name,
      this.opts.unitsOf ? { unitsOf: this.opts.unitsOf } : NO_UNITS,
    );
    const t = newTopic<S>(name, p.kind, this.opts.codecs.length, fold);
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
}
