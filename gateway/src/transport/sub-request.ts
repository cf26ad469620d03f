import { canRead, type Identity } from '../auth/identity.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import { ANNOUNCE_TOPIC } from '../../../protocol/src/topics.js';
import type { SymbolCheck } from '../symbols/directory.js';
import { splitTopics, topicError, unknownSymbolErrors } from './topic-errors.js';

/** The requester as the admission of a sub request sees it (a Session). */
export interface SubRequester {
  readonly identity: Identity;
  /** Topics subscribed already (the broadcast topic included). */
  readonly topics: { readonly size: number; has(topic: string): boolean };
  reply(msg: ServerMessage): void;
}

/**
 * The topics of sub request `id` that may go to the hub, in request order, deduplicated. Every
 * other one is refused with an `err` listing it: bad_topic, forbidden, unknown_symbol (a market
 * topic whose symbol the directory does not know; no directory: every symbol is known),
 * too_many_subscriptions (over `maxSubscriptions`, counting the topics already subscribed).
 */
export function admitTopics(
  s: SubRequester,
  id: number,
  topics: string[],
  maxSubscriptions: number,
  symbols: SymbolCheck | undefined,
): string[] {
  const { good, bad } = splitTopics(topics);
  if (bad.length) s.reply(topicError(id, 'bad_topic', bad));
  const forbidden = good.filter((t) => !canRead(s.identity, t));
  if (forbidden.length) s.reply(topicError(id, 'forbidden', forbidden));
  const entitled = forbidden.length ? good.filter((t) => !forbidden.includes(t)) : good;
  const allowed = symbols ? knownSymbols(s, id, entitled, symbols) : entitled;
  // The broadcast subscription every connection has is not the client's and does not count.
  const room = maxSubscriptions - s.topics.size + (s.topics.has(ANNOUNCE_TOPIC) ? 1 : 0);
  const fresh = allowed.filter((t) => !s.topics.has(t));
  const over = fresh.slice(Math.max(0, room));
  if (over.length) s.reply(topicError(id, 'too_many_subscriptions', over));
  return over.length ? allowed.filter((t) => !over.includes(t)) : allowed;
}

/** `topics` without those whose symbol the directory does not know, which get `err unknown_symbol`. */
function knownSymbols(s: SubRequester, id: number, topics: string[], dir: SymbolCheck): string[] {
  const unknown: { topic: string; suggestion: string }[] = [];
  const known: string[] = [];
  for (const topic of topics) {
    const suggestion = dir.unknown(topic);
    if (suggestion === undefined) known.push(topic);
    else unknown.push({ topic, suggestion });
  }
  for (const e of unknownSymbolErrors(id, unknown)) s.reply(e);
  return known;
}
