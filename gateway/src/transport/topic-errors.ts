import type { ErrorCode } from '../../../protocol/src/errors.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import { parseSubscription } from '../../../protocol/src/topics.js';

/** Splits requested names into valid topics or views (deduplicated) and invalid names. */
export function splitTopics(topics: string[]): { good: string[]; bad: string[] } {
  const good: string[] = [];
  const bad: string[] = [];
  for (const t of topics) (parseSubscription(t) ? good : bad).push(t);
  return { good: [...new Set(good)], bad };
}

const TOPIC_ERRORS: Partial<Record<ErrorCode, string>> = {
  bad_topic: 'invalid topic name(s); expected trade.<SYMBOL> or quote.<SYMBOL> with SYMBOL matching [A-Z0-9][A-Z0-9_-]{0,31} (optionally @100ms, @250ms, @500ms or @1000ms), user.<sub>.<stream>, or sys.announce',
  forbidden: 'not entitled to these topics',
  too_many_subscriptions: 'subscription limit per connection reached',
  too_many_waiting: 'these topics have no data yet and the limit of subscriptions waiting for data is reached',
};

/** An `err` about topics; names are cut so that a hostile request cannot make a huge reply. */
export function topicError(id: number | undefined, code: ErrorCode, topics: string[]): Extract<ServerMessage, { op: 'err' }> {
  const msg = TOPIC_ERRORS[code] ?? code;
  const cut = topics.map((t) => t.slice(0, 104));
  return id === undefined ? { op: 'err', code, msg, topics: cut } : { op: 'err', id, code, msg, topics: cut };
}
