import type { TopicKind } from './ticks.js';

/**
 * Topic grammar (protocol v1): `<kind>.<SYMBOL>` where kind is `trade` or `quote` and SYMBOL is
 * 1–32 characters of upper-case letters, digits, `-` and `_`, starting with a letter or digit.
 * Topics are case-sensitive; `trade.btc-usd` is not `trade.BTC-USD` and is rejected rather than
 * silently folded, so that a client never subscribes to something it did not name.
 *
 * A subscription may name a throttled view, `<topic>@<interval>` (docs/protocol.md, "Throttled
 * subscriptions"); ticks themselves are only ever published on plain topics.
 */
export const TOPIC_PATTERN = /^(trade|quote)\.([A-Z0-9][A-Z0-9_-]{0,31})$/;
export const MAX_TOPIC_LENGTH = 38; // "quote." + 32
/** The documented throttle intervals, in ms, by their suffix. */
export const THROTTLE_INTERVALS: Readonly<Record<string, number>> = { '100ms': 100, '250ms': 250, '500ms': 500, '1000ms': 1000 };

export interface ParsedTopic {
  kind: TopicKind;
  symbol: string;
}

export interface ParsedSubscription extends ParsedTopic {
  /** The plain topic the ticks are published on. */
  base: string;
  /** Set for a throttled view. */
  intervalMs: number | undefined;
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
  return p && { ...p, base, intervalMs };
}
