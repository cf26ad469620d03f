import type { ErrorCode } from '../../../protocol/src/errors.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import { KINDS, SYMBOL_PATTERN, TOPIC_KINDS } from '../../../protocol/src/kinds.js';
import { MARKET_KINDS, parseSubscription, THROTTLE_INTERVALS } from '../../../protocol/src/topics.js';

/** Splits requested names into valid topics or views (deduplicated) and invalid names. */
export function splitTopics(topics: string[]): { good: string[]; bad: string[] } {
  const good: string[] = [];
  const bad: string[] = [];
  for (const t of topics) (parseSubscription(t) ? good : bad).push(t);
  return { good: [...new Set(good)], bad };
}

/** "a, b or c" (`last` joins the final two). */
const list = (xs: readonly string[], last: string): string =>
  xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')}${last}${xs.at(-1)}`;

/** Every kind's grammar, from the registry: market kinds with the symbol grammar and views, then the others. */
function grammarOfKinds(): string {
  const market = MARKET_KINDS.map((k) => KINDS[k].grammar).join(' or ');
  const views = list(
    Object.keys(THROTTLE_INTERVALS).map((s) => `@${s}`),
    ' or ',
  );
  const others = TOPIC_KINDS.filter((k) => !KINDS[k].market).map((k) => KINDS[k].grammar);
  return list([`${market} with SYMBOL matching ${SYMBOL_PATTERN.source.slice(1, -1)} (optionally ${views})`, ...others], ', or ');
}

const TOPIC_ERRORS: Partial<Record<ErrorCode, string>> = {
  bad_topic: `invalid topic name(s); expected ${grammarOfKinds()}`,
  forbidden: 'not entitled to these topics',
  unknown_symbol: 'unknown symbol(s); GET /v1/symbols lists the known ones',
  too_many_subscriptions: 'subscription limit per connection reached',
  too_many_waiting: 'these topics have no data yet and the limit of subscriptions waiting for data is reached',
};

/** An `err` about topics; names are cut so that a hostile request cannot make a huge reply. */
export function topicError(id: number | undefined, code: ErrorCode, topics: string[]): Extract<ServerMessage, { op: 'err' }> {
  const msg = TOPIC_ERRORS[code] ?? code;
  const cut = topics.map((t) => t.slice(0, 104));
  return id === undefined ? { op: 'err', code, msg, topics: cut } : { op: 'err', id, code, msg, topics: cut };
}

/**
 * `err unknown_symbol` for market topics whose symbol the directory does not know: one per topic
 * that has a close match (its msg names it), one for all the others.
 */
export function unknownSymbolErrors(
  id: number,
  unknown: readonly { topic: string; suggestion: string }[],
): Extract<ServerMessage, { op: 'err' }>[] {
  const out: Extract<ServerMessage, { op: 'err' }>[] = [];
  const plain: string[] = [];
  for (const u of unknown) {
    if (u.suggestion === '') {
      plain.push(u.topic);
      continue;
    }
    const e = topicError(id, 'unknown_symbol', [u.topic]);
    out.push({ ...e, msg: `unknown symbol in ${u.topic.slice(0, 104)}; did you mean ${u.suggestion}?` });
  }
  if (plain.length) out.push(topicError(id, 'unknown_symbol', plain));
  return out;
}
