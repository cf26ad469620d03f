import type { Payload } from '../../../protocol/src/ticks.js';
import { newMerge } from './folding.js';
import type { Frames } from './frames.js';
import { liveState, Members } from './subscribers.js';
import { flushedSeq, type TopicState, type View } from './topic.js';
import type { Deliver, HubStats, HubSubscriber, SubscribeResult, TopicDelivery } from './types.js';

/**
 * The throttled views that have subscribers: each flush sends every due view whose topic has a
 * newer flushed tick one upd (the same bytes to every subscriber of a codec), and its first snap
 * to those that subscribed before the view had one. Throttle `latest`: the upd is the topic's
 * newest flushed tick. Throttle `merge` (a fold topic): the ticks flushed since the view's last
 * upd merged into one (View.merge), and a snap carries the base state at the view's seq.
 */
export class Views<S extends HubSubscriber> {
  private readonly byName = new Map<string, View<S>>();

  constructor(
    private readonly frames: Frames,
    private readonly stats: HubStats,
    private readonly codecs: number,
  ) {}

  get(name: string): View<S> | undefined {
    return this.byName.get(name);
  }

  subscribe(sub: S, t: TopicState<S>, name: string, intervalMs: number, now: number): SubscribeResult {
    let v = this.byName.get(name);
    if (!v) {
      const members = new Members<S>(name, this.codecs);
      const lastSeq = t.last === undefined ? 0 : flushedSeq(t);
      const merge = newMerge(t);
      v = { name, base: t, intervalMs, members, lastTick: t.last, lastSeq, nextDue: now + intervalMs, snap: [], merge };
      this.byName.set(name, v);
      (t.views ??= new Map()).set(intervalMs, v);
    }
    if (v.members.get(sub)) return { kind: 'duplicate' };
    if (v.lastTick === undefined) {
      v.members.join(sub, 'awaiting');
      return { kind: 'pending' };
    }
    v.members.join(sub, liveState(sub));
    return { kind: 'frames', frames: [this.snap(v, sub.codec, false)], resync: false };
  }

  /** Returns false when `sub` was not subscribed to the view `name` of `t`. */
  unsubscribe(sub: S, t: TopicState<S>, name: string): boolean {
    const v = this.byName.get(name);
    const m = v?.members.get(sub);
    if (v === undefined || m === undefined) return false;
    v.members.transition(m, 'gone');
    if (v.members.size === 0) {
      this.byName.delete(name);
      t.views?.delete(v.intervalMs);
      if (t.views?.size === 0) t.views = undefined;
    }
    return true;
  }

  /** A `resync` snap of the view's last tick; undefined while it has none. */
  resyncFrame(v: View<S>, codecId: number): Uint8Array | undefined {
    if (v.lastTick === undefined) return undefined;
    this.stats.resyncs++;
    return this.snap(v, codecId, true);
  }

  flush(deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    if (this.byName.size > 0) for (const v of this.byName.values()) this.flushView(v, deliver, now, topics);
  }

  private flushView(v: View<S>, deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    const t = v.base;
    const seq = flushedSeq(t);
    if (t.last === undefined || seq <= v.lastSeq || now < v.nextDue) return;
    const merge = v.merge;
    // Merge: nothing flushed since the last upd (the seq moved past a gap or reset) is nothing to send.
    if (merge !== undefined && merge.merger.count === 0) return;
    // Throttle `latest`: the view's update is the topic's newest flushed tick; the others are conflated away.
    v.lastTick = merge === undefined ? t.last : merge.merger.take(merge.state);
    v.lastSeq = seq;
    v.snap = [];
    v.nextDue = now + v.intervalMs;
    const m = v.members;
    const frames: (Uint8Array | undefined)[] = [];
    if (topics !== undefined) {
      for (let c = 0; c < m.live.length; c++) {
        const count = m.live[c] as number;
        if (count === 0) continue;
        topics.publish(v.name, c, frames[c] ?? this.upd(v, c, frames), count);
        this.stats.deliveries += count;
      }
    }
    for (const sub of topics !== undefined ? m.direct : m.receiving) {
      deliver(sub, frames[sub.codec] ?? this.upd(v, sub.codec, frames));
      this.stats.deliveries++;
    }
    if (m.awaiting.size > 0) {
      for (const r of m.awaiting) {
        const resync = r.state === 'resync';
        if (resync) this.stats.resyncs++;
        deliver(r.sub, this.snap(v, r.sub.codec, resync));
        this.stats.deliveries++;
        m.transition(r, liveState(r.sub));
        if (r.sub.viaTopic) topics?.live(r.sub, v.name);
      }
    }
  }

  private upd(v: View<S>, c: number, frames: (Uint8Array | undefined)[]): Uint8Array {
    const t = v.base;
    return (frames[c] = this.frames.count(this.frames.codec(c).encodeUpd(v.name, t.kind, v.lastSeq, [v.lastTick as Payload], 0, 1)));
  }

  private snap(v: View<S>, codecId: number, resync: boolean): Uint8Array {
    const key = codecId * 2 + (resync ? 1 : 0);
    const cached = v.snap[key];
    if (cached) return cached;
    const codec = this.frames.codec(codecId);
    const data = v.merge !== undefined ? v.merge.state.snapshot() : (v.lastTick as Payload);
    const frame = this.frames.count(codec.encodeSnap(v.name, v.base.kind, v.lastSeq, this.frames.epoch, data, resync));
    v.snap[key] = frame;
    return frame;
  }
}
