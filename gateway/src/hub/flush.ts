import { foldFlushed } from './folding.js';
import type { Frames } from './frames.js';
import { liveState } from './subscribers.js';
import type { TopicState } from './topic.js';
import type { Deliver, HubStats, HubSubscriber, TopicDelivery } from './types.js';

/**
 * The per-flush path of one topic: its pending ticks, encoded once per codec in use, to every
 * subscriber past its first frame (one `TopicDelivery.publish` per frame for the live ones, one
 * `Deliver` per frame for the direct ones), then the first frames of those awaiting them. Hot:
 * counts and sets come ready from the topic's Members, nothing is looked up per subscriber.
 */
export class TopicFlush<S extends HubSubscriber> {
  constructor(
    private readonly frames: Frames,
    private readonly stats: HubStats,
  ) {}

  /** Flushes `t` (see the class); the caller turns an exception into a resync (Hub.unflushable). */
  flushTopic(t: TopicState<S>, deliver: Deliver<S>, topics: TopicDelivery<S> | undefined): void {
    const n = t.pending.length;
    const ms = t.members;
    // The topic's first data: who waited for it gets all of it, not only its newest tick (a fold
    // topic's snap of its state already has all of it).
    const first = t.last === undefined && n > 1 && t.fold === undefined ? t.pending : undefined;
    const firstOffs = t.pendingOff;
    if (ms.size > 0) {
      const frames: (Uint8Array[] | undefined)[] = [];
      if (topics !== undefined) {
        const live = ms.live;
        for (let c = 0; c < live.length; c++) {
          const count = live[c] as number;
          if (count === 0) continue;
          const fs = frames[c] ?? this.frames.upd(t, c, frames);
          for (let i = 0; i < fs.length; i++) topics.publish(t.name, c, fs[i] as Uint8Array, count);
          this.stats.deliveries += count * fs.length;
        }
      }
      for (const sub of topics !== undefined ? ms.direct : ms.receiving) {
        const fs = frames[sub.codec] ?? this.frames.upd(t, sub.codec, frames);
        for (let i = 0; i < fs.length; i++) deliver(sub, fs[i] as Uint8Array);
        this.stats.deliveries += fs.length;
      }
    }
    // n is 0 only for a topic queued twice in one flush (publishSequenced past a gap).
    if (n > 0) {
      // Snapshot `last`: the newest flushed tick is what a snap carries from now on; `fold`: the state they lead to.
      foldFlushed(t, t.pending);
      t.last = t.pending[n - 1];
      t.pending = [];
      if (typeof t.src === 'string') t.lastOff = t.pendingOff[n - 1] as number;
      if (t.pendingOff.length > 0) t.pendingOff = [];
      t.snap = [];
      this.stats.ticksFlushed += n;
    }
    if (ms.awaiting.size > 0) {
      // Each subscriber leaves `awaiting` once live, so if encoding throws (see unflushable) the
      // set still says exactly who is not live yet.
      const fromFirst: (Uint8Array[] | undefined)[] = [];
      for (const m of ms.awaiting) {
        const sub = m.sub;
        const resync = m.state === 'resync';
        if (resync) this.stats.resyncs++;
        if (first !== undefined && !resync) {
          const fs = (fromFirst[sub.codec] ??= this.frames.fromFirst(t, sub.codec, first, firstOffs));
          for (let i = 0; i < fs.length; i++) deliver(sub, fs[i] as Uint8Array);
          this.stats.deliveries += fs.length;
        } else {
          deliver(sub, this.frames.snap(t, sub.codec, resync));
          this.stats.deliveries++;
        }
        ms.transition(m, liveState(sub));
        if (sub.viaTopic) topics?.live(sub, t.name);
      }
    }
  }
}
