import type { TopicKind } from './ticks.js';

/**
 * Topic grammar (protocol v1): `<kind>.<SYMBOL>` where kind is `trade` or `quote` and SYMBOL is
 * 1–32 characters of upper-case letters, digits, `-` and `_`, starting with a letter or digit.
 * Topics are case-sensitive; `trade.btc-usd` is not `trade.BTC-USD` and is rejected rather than
 * silently folded, so that a client never subscribes to something it did not name.
 */
export const TOPIC_PATTERN = /^(trade|quote)\.([A-Z0-9][A-Z0-9_-]{0,31})$/;
export const MAX_TOPIC_LENGTH = 38; // "quote." + 32

export interface ParsedTopic {
  kind: TopicKind;
  symbol: string;
}

export function parseTopic(topic: unknown): ParsedTopic | undefined {
  if (typeof topic !== 'string' || topic.length > MAX_TOPIC_LENGTH) return undefined;
  const m = TOPIC_PATTERN.exec(topic);
  if (!m) return undefined;
  return { kind: m[1] as TopicKind, symbol: m[2] as string };
}

export function isValidTopic(topic: unknown): topic is string {
  return parseTopic(topic) !== undefined;
}
