import { isTopicKind, KINDS, SYMBOL_PATTERN, TOPIC_KINDS, type TopicKind, type TopicParts } from './kinds.js';

/**
 * Topic grammar (protocol v1): `<kind>.<rest>`, where the kind's registry entry (kinds.ts) parses
 * the rest. Market topics are `<kind>.<SYMBOL>` where kind is `trade` or `quote` and SYMBOL is
 * 1–32 characters of upper-case letters, digits, `-` and `_`, starting with a letter or digit.
 * Topics are case-sensitive; `trade.btc-usd` is not `trade.BTC-USD` and is rejected rather than
 * silently folded, so that a client never subscribes to something it did not name.
 *
 * A subscription may name a throttled view, `<topic>@<interval>` (docs/protocol.md, "Throttled
 * subscriptions"); ticks themselves are only ever published on plain topics.
 */
export const MARKET_KINDS: readonly TopicKind[] = TOPIC_KINDS.filter((k) => KINDS[k].market);
/** The market-topic grammar as one pattern (docs, AsyncAPI, generated SDK tables); parsing goes through the registry. */
const marketPrefix = (k: TopicKind): string => {
  const p = KINDS[k].prefixPattern;
  return p === undefined ? k : `${k}\\.${p}`;
};
export const TOPIC_PATTERN = new RegExp(`^(${MARKET_KINDS.map(marketPrefix).join('|')})\\.(${SYMBOL_PATTERN.source.slice(1, -1)})$`);
/** Private per-user channels (kinds.ts, `user`), as one pattern. */
export const USER_TOPIC_PATTERN = /^user\.([A-Za-z0-9_-]{1,64})\.([a-z][a-z0-9_]{0,31})$/;
/** The broadcast every connection receives without subscribing. */
export const ANNOUNCE_TOPIC = 'sys.announce';
export const MAX_TOPIC_LENGTH = 104; // "user." + 64 + "." + 32
/** The documented throttle intervals, in ms, by their suffix. */
export const THROTTLE_INTERVALS: Readonly<Record<string, number>> = { '100ms': 100, '250ms': 250, '500ms': 500, '1000ms': 1000 };

export interface ParsedTopic extends TopicParts {
  kind: TopicKind;
}

export interface ParsedSubscription extends ParsedTopic {
  /** The plain topic the ticks are published on. */
  base: string;
  /** Set for a throttled view. */
  intervalMs: number | undefined;
}

export function parseTopic(topic: unknown): ParsedTopic | undefined {
  if (typeof topic !== 'string' || topic.length > MAX_TOPIC_LENGTH) return undefined;
  const dot = topic.indexOf('.');
  const kind = topic.slice(0, dot);
  if (dot === -1 || !isTopicKind(kind)) return undefined;
  const parts = KINDS[kind].parseRest(topic.slice(dot + 1));
  return parts && { kind, ...parts };
}

/** Market data (trade/quote) as opposed to user channels and system topics. */
export function isMarketKind(kind: TopicKind): boolean {
  return KINDS[kind].market;
}

export function isValidTopic(topic: unknown): topic is string {
  return parseTopic(topic) !== undefined;
}

/** Parses what a client may subscribe to: a topic, or a throttled view of one. */
export function parseSubscription(name: unknown): ParsedSubscription | undefined {
  if (typeof name !== 'string') return undefined;
  const at = name.indexOf('@');
  if (at === -1) {
    const p = parseTopic(name);
    return p && { ...p, base: name, intervalMs: undefined };
  }
  const intervalMs = THROTTLE_INTERVALS[name.slice(at + 1)];
  const base = name.slice(0, at);
  const p = intervalMs === undefined ? undefined : parseTopic(base);
  // Only kinds with throttled views (market data); a private or system event is never conflated.
  return p && KINDS[p.kind].throttleable ? { ...p, base, intervalMs } : undefined;
}
