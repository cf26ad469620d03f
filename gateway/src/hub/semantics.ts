import type { HubOptions, TopicSemantics } from './types.js';

const LAST_LATEST: TopicSemantics = { snapshot: 'last', throttle: 'latest' };

/**
 * The hub keeps snapshot `last` and throttle `latest` (TopicSemantics): the two places that rely
 * on it are `TopicFlush.flushTopic` (a snap carries the newest flushed tick) and `Views` (a view
 * sends the topic's newest tick). A topic whose kind asks for `fold` or `merge` is refused loudly
 * here, when it is created or subscribed to, rather than served as if it were a last value.
 */
export function checkSemantics(semantics: HubOptions['semantics'], topic: string, throttled: boolean): void {
  const s = semantics?.(topic) ?? LAST_LATEST;
  if (s.snapshot !== 'last') {
    throw new Error(`hub: topic ${topic}: snapshot semantics '${s.snapshot}' is not supported yet (only 'last')`);
  }
  if (throttled && s.throttle !== 'latest') {
    throw new Error(`hub: topic ${topic}: throttle semantics '${s.throttle}' is not supported yet (only 'latest')`);
  }
}
