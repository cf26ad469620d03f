import type { Payload } from '../../../protocol/src/ticks.js';
import { FOLDS } from './fold.js';
import type { TopicState, View } from './topic.js';
import type { HubSubscriber } from './types.js';

/**
 * The hub side of snapshot `fold` and throttle `merge` (fold.ts has the kinds' adapters): where
 * a fold topic's ticks reach its state and its views' mergers. A topic without a fold costs one
 * field check per flush here, nothing per tick.
 */

/**
 * `ticks` left the topic's pending list (flushed, or made the last value by a gap): folds them
 * into its state, and hands them to every merge view's merger, in seq order.
 */
export function foldFlushed<S extends HubSubscriber>(t: TopicState<S>, ticks: readonly Payload[]): void {
  const f = t.fold;
  if (f === undefined) return;
  for (let i = 0; i < ticks.length; i++) f.apply(ticks[i] as Payload);
  if (t.views === undefined) return;
  for (const v of t.views.values()) {
    const m = v.merge;
    if (m !== undefined) for (let i = 0; i < ticks.length; i++) m.merger.add(ticks[i] as Payload);
  }
}

/**
 * Ticks of a fold topic were lost (a replica's gap, frames that could not be encoded): its state
 * and its views' states say so (FoldState.lose) and the views' subscribers wait for a resync snap
 * (the topic's own are moved by the caller).
 */
export function loseFold<S extends HubSubscriber>(t: TopicState<S>): void {
  if (t.fold === undefined) return;
  t.fold.lose();
  if (t.views === undefined) return;
  for (const v of t.views.values()) {
    if (v.merge === undefined) continue;
    v.merge.state.lose();
    v.snap = [];
    for (const m of v.members.bySub.values()) v.members.transition(m, 'resync');
  }
}

/** A new view's merge part (throttle `merge`): the base state as of now, and an empty merger. */
export function newMerge<S extends HubSubscriber>(t: TopicState<S>): View<S>['merge'] {
  if (t.fold === undefined) return undefined;
  // semantics.ts let the view be subscribed only when the kind's adapter has a merger.
  const merger = FOLDS[t.kind]?.merger?.();
  if (merger === undefined) throw new Error(`hub: view of ${t.name}: the kind has no merger`);
  return { merger, state: t.fold.clone() };
}
