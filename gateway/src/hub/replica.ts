import type { HistoryStore } from './history.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import type { TopicState } from './topic.js';
import type { HubState, HubSubscriber, TopicSnapshot } from './types.js';

/**
 * Worker replicas of the primary's hub: the primary exports its state once, a fresh replica
 * imports it, and from then on the replica takes the primary's ticks with the primary's seqs
 * (`Hub.publishSequenced`), so both answer snaps, positions and resumes alike.
 */

/**
 * Where a tick sequenced elsewhere with `seq` falls on a topic whose newest is `newest`: one the
 * replica already has (`old`: ignored), the next one, or past a gap (ticks that never arrived).
 */
export function sequencedStep(newest: number, seq: number): 'old' | 'next' | 'gap' {
  return seq <= newest ? 'old' : seq > newest + 1 ? 'gap' : 'next';
}

/**
 * The last value (or folded state) and history of every topic that has data. Pending ticks
 * (accepted, not yet flushed) are included: a replica has no subscriber that has seen them, and
 * its own feed skips them as duplicates.
 */
export function exportState<S extends HubSubscriber>(epoch: string, now: number, all: Iterable<TopicState<S>>): HubState {
  const topics: TopicSnapshot[] = [];
  for (const t of all) {
    if (t.seq === 0) continue;
    const pendingLast = t.pending.length > 0;
    let fold: Payload | undefined;
    if (t.fold !== undefined) {
      // The state at `seq`: the pending ticks folded into a copy (this hub folds them at its own flush).
      const f = pendingLast ? t.fold.clone() : t.fold;
      if (pendingLast) for (const p of t.pending) f.apply(p);
      fold = f.snapshot();
    }
    topics.push({
      topic: t.name,
      seq: t.seq,
      last: pendingLast ? (t.pending[t.pending.length - 1] as Payload) : (t.last as Payload),
      history: t.hist?.export() ?? { chunks: [] },
      src: t.src,
      lastOff: typeof t.src === 'string' && pendingLast ? (t.pendingOff[t.pendingOff.length - 1] as number) : t.lastOff,
      ...(fold !== undefined ? { fold } : {}),
    });
  }
  return { epoch, now, topics };
}

export function checkImport(state: HubState, epoch: string): void {
  if (state.epoch !== epoch) throw new Error(`hub: state of epoch ${state.epoch} imported into epoch ${epoch}`);
}

/** Loads one exported topic into a topic of the replica that has no data yet. */
export function importTopic<S extends HubSubscriber>(t: TopicState<S>, s: TopicSnapshot, history: HistoryStore): void {
  if (t.seq !== 0) throw new Error(`hub: importState into topic ${s.topic} that already has data`);
  t.seq = s.seq;
  t.last = s.last;
  t.src = s.src;
  t.lastOff = s.lastOff;
  if (t.fold !== undefined) {
    // An export without the state (another version's) leaves it unknown, flagged as lost.
    if (s.fold !== undefined) t.fold.load(s.fold);
    else t.fold.lose();
  }
  (t.hist = history.create(t.name, t.kind)).import(s.history, s.seq + 1);
}
