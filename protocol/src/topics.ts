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
/**
 * Private per-user channels: `user.<sub>.<stream>`, readable only by a connection whose token has
 * that `sub`. The grammar is strict (no dots, no case folding, no escapes), so each channel has
 * exactly one spelling and equality of strings is equality of channels.
 */
export const USER_TOPIC_PATTERN = /^user\.([A-Za-z0-9_-]{1,64})\.([a-z][a-z0-9_]{0,31})$/;
/** The broadcast every connection receives without subscribing. */
export const ANNOUNCE_TOPIC = 'sys.announce';
export const MAX_TOPIC_LENGTH = 104; // "user." + 64 + "." + 32
/** The documented throttle intervals, in ms, by their suffix. */
export const THROTTLE_INTERVALS: Readonly<Record<string, number>> = { '100ms': 100, '250ms': 250, '500ms': 500, '1000ms': 1000 };

export interface ParsedTopic {
  kind: TopicKind;
  /** The symbol for market topics; the user (`sub`) for user channels; "announce" for sys. */
  symbol: string;
  /** The stream of a user channel (`orders`, `fills`). */
  stream?: string;
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
  if (m) return { kind: m[1] as TopicKind, symbol: m[2] as string };
  const u = USER_TOPIC_PATTERN.exec(topic);
  if (u) return { kind: 'user', symbol: u[1] as string, stream: u[2] as string };
  if (topic === ANNOUNCE_TOPIC) return { kind: 'sys', symbol: 'announce' };
  return undefined;
}

/** Market data (trade/quote) as opposed to user channels and system topics. */
export function isMarketKind(kind: TopicKind): boolean {
  return kind === 'trade' || kind === 'quote';
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
  // Only market data has throttled views; a private or system event is never conflated.
  return p && isMarketKind(p.kind) ? { ...p, base, intervalMs } : undefined;
}
