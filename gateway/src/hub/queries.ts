import type { Payload } from '../../../protocol/src/ticks.js';
import { flushedSeq, snapPayload, type TopicState } from './topic.js';
import type { HubStats, HubSubscriber, TopicInfo } from './types.js';
import type { Views } from './views.js';
import type { WaitingStats } from './waiting.js';

/** The read side of the hub (GET /v1/snapshot, /v1/topics, metrics): answers from its state, changes nothing. */

export interface SnapshotAnswer {
  seq: number;
  epoch: string;
  data: Payload;
  src?: string;
  off?: number;
}

/** Hub.snapshot: what a snap of `name` (a topic or a throttled view) sent now would carry. */
export function snapshotOf<S extends HubSubscriber>(
  topics: ReadonlyMap<string, TopicState<S>>,
  views: Views<S>,
  epoch: string,
  name: string,
): SnapshotAnswer | undefined {
  const v = views.get(name);
  if (v?.lastTick !== undefined) return { seq: v.lastSeq, epoch, data: v.merge !== undefined ? v.merge.state.snapshot() : v.lastTick };
  const at = name.indexOf('@');
  const t = topics.get(at === -1 ? name : name.slice(0, at));
  if (!t || t.last === undefined) return undefined;
  const snap = { seq: flushedSeq(t), epoch, data: snapPayload(t) };
  return typeof t.src === 'string' && at === -1 ? { ...snap, src: t.src, off: t.lastOff } : snap;
}

/** Hub.topicInfo: every topic that has data, sorted by name. */
export function topicInfoOf<S extends HubSubscriber>(topics: Iterable<TopicState<S>>, epoch: string): TopicInfo[] {
  const out: TopicInfo[] = [];
  for (const t of topics) {
    if (t.last === undefined) continue;
    out.push({ topic: t.name, seq: flushedSeq(t), epoch, ts: typeof t.last.ts === 'number' ? t.last.ts : 0 });
  }
  return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
}

/** Hub.historyWindows: per topic with history, how far back (hub clock) a resume reaches, and the ticks held. */
export function historyWindowsOf<S extends HubSubscriber>(
  topics: Iterable<TopicState<S>>,
  now: number,
): { topic: string; ms: number; ticks: number }[] {
  const out: { topic: string; ms: number; ticks: number }[] = [];
  for (const t of topics) {
    if (t.hist !== undefined) out.push({ topic: t.name, ms: t.hist.windowMs(now), ticks: t.hist.count });
  }
  return out;
}

/** A hub's counters, all at zero; `waiting` is the Waiting registry's own. */
export function newHubStats(waiting: WaitingStats): HubStats {
  return {
    ticksIn: 0,
    ticksFlushed: 0,
    framesEncoded: 0,
    bytesEncoded: 0,
    deliveries: 0,
    flushes: 0,
    resumes: 0,
    crossResumes: 0,
    resyncs: 0,
    waiting,
  };
}
