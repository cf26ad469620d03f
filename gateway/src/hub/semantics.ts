import { parseTopic } from '../../../protocol/src/topics.js';
import { FOLDS, type FoldAdapter } from './fold.js';
import type { HubOptions, TopicSemantics } from './types.js';

const LAST_LATEST: TopicSemantics = { snapshot: 'last', throttle: 'latest' };

/**
 * The one place that says which TopicSemantics the hub serves. Snapshot `last` with throttle
 * `latest`: a snap carries the newest flushed tick and a view sends it (flush.ts, views.ts).
 * Snapshot `fold` when the topic's kind has a fold adapter (fold.ts): a snap carries the state
 * folded from every update; its views must then `merge` (the adapter's merger), since the newest
 * update alone is no state. Anything else is refused loudly, when the topic is created or
 * subscribed to, rather than served as if it were a last value. Returns the adapter of a fold topic.
 */
export function checkSemantics(semantics: HubOptions['semantics'], topic: string, throttled: boolean): FoldAdapter | undefined {
  const s = semantics?.(topic) ?? LAST_LATEST;
  if (s.snapshot === 'last') {
    if (throttled && s.throttle !== 'latest') {
      throw new Error(
        `hub: topic ${topic}: throttle semantics '${s.throttle}' needs snapshot 'fold' (the merged updates apply to a state)`,
      );
    }
    return undefined;
  }
  const kind = parseTopic(topic)?.kind;
  const fold = kind === undefined ? undefined : FOLDS[kind];
  if (fold === undefined) {
    throw new Error(`hub: topic ${topic}: snapshot semantics '${s.snapshot}' is not supported for kind ${kind ?? '?'} (no fold adapter)`);
  }
  if (throttled && (s.throttle !== 'merge' || fold.merger === undefined)) {
    throw new Error(
      `hub: topic ${topic}: throttle semantics '${s.throttle}' is not supported on a fold topic (only 'merge' with a merger)`,
    );
  }
  return fold;
}
