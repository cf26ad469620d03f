import type { WireCodec } from '../protocol/codec.js';
import { parseTopic } from '../protocol/topics.js';
import type { Tick, TopicKind } from '../protocol/ticks.js';

/** What the hub needs to know about a subscriber: which codec its frames are encoded with. */
export interface HubSubscriber {
  /** Index into the hub's codec list (WireCodec.id). */
  readonly codec: number;
}

/** Receives one encoded frame for one subscriber. Called synchronously inside `flush`. */
export type Deliver<S extends HubSubscriber> = (sub: S, frame: Uint8Array) => void;

export interface HubOptions {
  /** Identifies this run of the stream; sequence numbers restart at 1 in a new epoch. */
  epoch: string;
  codecs: readonly WireCodec[];
  maxTicksPerFrame: number;
}

export interface TopicInfo {
  topic: string;
  /** Sequence number of the newest tick a subscriber can have seen. */
  seq: number;
  epoch: string;
  /** `ts` of that tick. */
  ts: number;
}

/** Result of `subscribe`. */
export type SubscribeResult =
  /** Subscribed; send `snap` (already encoded for the subscriber's codec) now. */
  | { kind: 'snap'; frame: Uint8Array }
  /** Subscribed to a topic with no tick yet: the snap will come from the flush of its first tick. */
  | { kind: 'pending' }
  /** Was already subscribed; nothing changes and nothing is sent again. */
  | { kind: 'duplicate' };

export interface HubStats {
  ticksIn: number;
  ticksFlushed: number;
  framesEncoded: number;
  bytesEncoded: number;
  deliveries: number;
  flushes: number;
}

interface TopicState<S> {
  readonly name: string;
  readonly kind: TopicKind;
  /** Sequence number of the newest tick accepted (flushed or pending). 0 = none yet. */
  seq: number;
  /** The newest *flushed* tick, with sequence number `seq - pending.length`; what a snap carries. */
  last: Tick | undefined;
  /** Ticks accepted since the last flush, consecutive, ending at `seq`. */
  pending: Tick[];
  readonly subs: Set<S>;
  /** Subscribers that joined before the topic had any flushed tick; they get a snap, not an upd. */
  awaiting: Set<S> | undefined;
  /** Snap frame of `last`, per codec id; emptied whenever `last` changes. */
  snap: (Uint8Array | undefined)[];
}

/**
 * The hub: topic registry, last-value cache, sequence numbers, per-flush batching and subscriber
 * sets. Pure and single-threaded: no sockets, no timers, no I/O. The source calls `publish`, the
 * transport calls `subscribe`/`unsubscribe` and drives `flush` on its own schedule.
 *
 * Guarantees, per topic and per subscriber:
 * - sequence numbers are assigned at `publish`, consecutive from 1 within `epoch`;
 * - the first frame a subscriber gets for a topic is a snap (from `subscribe`, or from the flush
 *   that brings the topic's first tick), and after a snap with seq N the subscriber's next frame
 *   for that topic is an upd starting at N+1: no gap, no overlap;
 * - each flush encodes a topic's pending ticks at most once per codec in use (split into frames
 *   of at most `maxTicksPerFrame`), and every subscriber of that codec gets the same bytes;
 * - a tick for a topic nobody watches costs one map lookup and one field write.
 */
export class Hub<S extends HubSubscriber> {
  readonly epoch: string;
  readonly stats: HubStats = { ticksIn: 0, ticksFlushed: 0, framesEncoded: 0, bytesEncoded: 0, deliveries: 0, flushes: 0 };
  private readonly topics = new Map<string, TopicState<S>>();
  private dirty: TopicState<S>[] = [];
  private readonly codecs: readonly WireCodec[];
  private readonly maxTicksPerFrame: number;
  private subscriptionCount = 0;

  constructor(opts: HubOptions) {
    this.epoch = opts.epoch;
    this.codecs = opts.codecs;
    this.maxTicksPerFrame = opts.maxTicksPerFrame;
  }

  /**
   * Accepts one tick. `topic` must be a valid topic name and `tick` of its kind: sources validate
   * before publishing; the hub trusts them so as not to check twice per tick.
   */
  publish(topic: string, tick: Tick): void {
    const t = this.topics.get(topic) ?? this.createTopic(topic);
    t.seq++;
    this.stats.ticksIn++;
    if (t.subs.size === 0 && t.pending.length === 0) {
      t.last = tick;
      if (t.snap.length) t.snap = [];
      return;
    }
    if (t.pending.length === 0) this.dirty.push(t);
    t.pending.push(tick);
  }

  subscribe(sub: S, topic: string): SubscribeResult {
    const t = this.topics.get(topic) ?? this.createTopic(topic);
    if (t.subs.has(sub)) return { kind: 'duplicate' };
    t.subs.add(sub);
    this.subscriptionCount++;
    if (t.last === undefined) {
      (t.awaiting ??= new Set()).add(sub);
      return { kind: 'pending' };
    }
    return { kind: 'snap', frame: this.snapFrame(t, sub.codec) };
  }

  /** Returns false when `sub` was not subscribed to `topic`. */
  unsubscribe(sub: S, topic: string): boolean {
    const t = this.topics.get(topic);
    if (!t || !t.subs.delete(sub)) return false;
    this.subscriptionCount--;
    t.awaiting?.delete(sub);
    // A topic a client named but that never had data is forgotten once nobody watches it, so
    // clients cannot grow the registry by subscribing to made-up symbols.
    if (t.subs.size === 0 && t.seq === 0) this.topics.delete(topic);
    return true;
  }

  /**
   * Encodes every topic with pending ticks once per codec in use and hands each subscriber its
   * frames, in sequence order. Returns the number of topics flushed.
   */
  flush(deliver: Deliver<S>): number {
    const dirty = this.dirty;
    if (dirty.length === 0) return 0;
    this.dirty = [];
    const stats = this.stats;
    stats.flushes++;
    for (const t of dirty) {
      const n = t.pending.length;
      const awaiting = t.awaiting;
      if (t.subs.size > 0) {
        const frames: (Uint8Array[] | undefined)[] = [];
        for (const sub of t.subs) {
          if (awaiting !== undefined && awaiting.has(sub)) continue;
          const fs = frames[sub.codec] ?? (frames[sub.codec] = this.encodeUpd(t, sub.codec));
          for (let i = 0; i < fs.length; i++) deliver(sub, fs[i] as Uint8Array);
          stats.deliveries += fs.length;
        }
      }
      t.last = t.pending[n - 1];
      t.pending = [];
      t.snap = [];
      stats.ticksFlushed += n;
      if (awaiting !== undefined) {
        t.awaiting = undefined;
        for (const sub of awaiting) deliver(sub, this.snapFrame(t, sub.codec));
        stats.deliveries += awaiting.size;
      }
    }
    return dirty.length;
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
      out.push({ topic: t.name, seq: t.seq - t.pending.length, epoch: this.epoch, ts: t.last.ts });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  get topicCount(): number {
    return this.topics.size;
  }

  get subscriptions(): number {
    return this.subscriptionCount;
  }

  private createTopic(name: string): TopicState<S> {
    const parsed = parseTopic(name);
    if (!parsed) throw new Error(`hub: invalid topic ${JSON.stringify(name)}`);
    const t: TopicState<S> = { name, kind: parsed.kind, seq: 0, last: undefined, pending: [], subs: new Set(), awaiting: undefined, snap: [] };
    this.topics.set(name, t);
    return t;
  }

  private snapFrame(t: TopicState<S>, codecId: number): Uint8Array {
    const cached = t.snap[codecId];
    if (cached) return cached;
    const codec = this.codecs[codecId] as WireCodec;
    const frame = codec.encodeSnap(t.name, t.kind, t.seq - t.pending.length, this.epoch, t.last as Tick);
    t.snap[codecId] = frame;
    this.stats.framesEncoded++;
    this.stats.bytesEncoded += frame.length;
    return frame;
  }

  private encodeUpd(t: TopicState<S>, codecId: number): Uint8Array[] {
    const codec = this.codecs[codecId] as WireCodec;
    const ticks = t.pending;
    const firstSeq = t.seq - ticks.length + 1;
    const out: Uint8Array[] = [];
    for (let from = 0; from < ticks.length; from += this.maxTicksPerFrame) {
      const to = Math.min(from + this.maxTicksPerFrame, ticks.length);
      const frame = codec.encodeUpd(t.name, t.kind, firstSeq + from, ticks, from, to);
      out.push(frame);
      this.stats.framesEncoded++;
      this.stats.bytesEncoded += frame.length;
    }
    return out;
  }
}
