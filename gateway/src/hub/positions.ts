import type { History } from './history.js';
import type { Frames } from './frames.js';
import { liveState, type Member } from './subscribers.js';
import { flushedSeq, type TopicState } from './topic.js';
import type { Deliver, HubStats, HubSubscriber, ResumePoint, TopicDelivery } from './types.js';

/** Keeps `t.src` naming the single upstream stream of the topic; false once there is none. */
export function track<S extends HubSubscriber>(t: TopicState<S>, src: string | undefined, off: number | undefined): boolean {
  if (src === undefined || off === undefined) t.src = null;
  else if (t.src === undefined) t.src = src;
  else if (t.src !== src) t.src = null;
  return typeof t.src === 'string';
}

/** Replays a topic's history from a resume point of this epoch (a method: S stays bivariant, as the Hub's is). */
export interface Replayer<S extends HubSubscriber> {
  replay(t: TopicState<S>, codecId: number, since: ResumePoint): Uint8Array[] | undefined;
}

/**
 * Upstream positions (`src`/`off`) as resume points across instances and epochs: a client
 * resuming another instance's position is served by the tick at the same upstream offset here, or
 * parked until this hub reaches that offset (within `positionWaitMs`), then served or resynced.
 */
export class Positions<S extends HubSubscriber> {
  /** Topics with parked subscribers, whose deadlines every flush checks. */
  private readonly parkedTopics = new Set<TopicState<S>>();

  constructor(
    private readonly frames: Frames,
    private readonly stats: HubStats,
    private readonly history: Replayer<S>,
  ) {}

  /** Parks `sub` on `t` until `deadline` (hub clock); it is not live until `settle` serves it. */
  park(t: TopicState<S>, sub: S, since: ResumePoint, deadline: number): void {
    t.members.join(sub, 'parked', since, deadline);
    this.parkedTopics.add(t);
  }

  /** A parked member left (or moved on): forgets the topic once nobody is parked on it. */
  left(t: TopicState<S>): void {
    if (t.members.parked.size === 0) this.parkedTopics.delete(t);
  }

  /**
   * A resume point of another epoch (another instance, or this one before a restart), found by
   * its upstream position: a snap of the client's own last tick in this epoch's numbering (same
   * `src`/`off`, so the client knows nothing was skipped), then the replay of every later tick;
   * for a fold topic, a snap of its newest state (no state at the client's seq is kept).
   * 'wait' while this hub has not reached the position yet; undefined when it cannot be served.
   */
  resumeElsewhere(t: TopicState<S>, codecId: number, since: ResumePoint): Uint8Array[] | 'wait' | undefined {
    if (since.src === undefined || since.off === undefined || t.src === null) return undefined;
    if (t.src !== undefined && t.src !== since.src) return undefined;
    if (t.last === undefined || since.off > t.lastOff) return 'wait';
    const seq = seqAtOffset(t, since.off);
    if (seq === undefined) return undefined;
    // A fold topic has no state at the client's seq, only at the newest: a snap of that is where it resumes.
    if (t.fold !== undefined) return [this.frames.snap(t, codecId, false)];
    const rest = this.history.replay(t, codecId, { epoch: this.frames.epoch, seq });
    if (!rest) return undefined;
    const tick = (t.hist as History).tick(seq);
    return [this.frames.snapOf(t, codecId, seq, tick, false, { src: t.src as string, off: since.off }), ...rest];
  }

  /** Settles the parked subscribers of every topic that has some (each flush). */
  settleAll(deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    if (this.parkedTopics.size > 0) for (const t of this.parkedTopics) this.settle(t, deliver, now, topics);
  }

  /**
   * Serves parked subscribers whose position this hub has reached (or that waited too long: a
   * resync snap, or a flagged first snap when the topic still has no data).
   */
  private settle(t: TopicState<S>, deliver: Deliver<S>, now: number, topics: TopicDelivery<S> | undefined): void {
    const ms = t.members;
    for (const m of ms.parked) {
      const r = this.resumeElsewhere(t, m.sub.codec, m.since as ResumePoint);
      if (r === 'wait' && now < (m.deadline ?? 0)) continue;
      if (Array.isArray(r)) {
        this.stats.resumes++;
        this.stats.crossResumes++;
        this.live(t, m, deliver, topics, r);
      } else if (t.last === undefined) ms.transition(m, 'resync');
      else {
        this.stats.resyncs++;
        this.live(t, m, deliver, topics, [this.frames.snap(t, m.sub.codec, true)]);
      }
    }
    this.left(t);
  }

  private live(t: TopicState<S>, m: Member<S>, deliver: Deliver<S>, topics: TopicDelivery<S> | undefined, frames: Uint8Array[]): void {
    // Out of `parked` before the frames go out, as a subscriber that is being served.
    t.members.transition(m, liveState(m.sub));
    for (const f of frames) deliver(m.sub, f);
    this.stats.deliveries += frames.length;
    if (m.sub.viaTopic) topics?.live(m.sub, t.name);
  }
}

/** The seq of the flushed tick at upstream offset `off` still in history (binary search: offsets increase with seq). */
function seqAtOffset<S extends HubSubscriber>(t: TopicState<S>, off: number): number | undefined {
  const h = t.hist;
  if (h === undefined) return undefined;
  // Only what history holds: never before a replica's gap, which restarted it.
  let lo = Math.max(1, h.first);
  let hi = Math.min(flushedSeq(t), h.last);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const o = h.offOf(mid);
    if (o === off) return mid;
    if (o < off) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
