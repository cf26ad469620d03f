import { isMarketKind, parseSubscription } from '../../../protocol/src/topics.js';

/**
 * Who a connection is and what it may read. Built once at the upgrade (from the JWT, or for an
 * anonymous or unauthenticated gateway) and consulted on every `sub`.
 */
export interface Identity {
  /** The token's `sub`; undefined for anonymous connections. */
  readonly sub: string | undefined;
  /** Matches market topics (trade/quote) this identity may read. */
  readonly markets: TopicMatcher;
  /** Token expiry in epoch ms; undefined when it never expires (no token). */
  readonly expiresAt: number | undefined;
}

export type TopicMatcher = (topic: string) => boolean;

export const ALL: TopicMatcher = () => true;
export const NONE: TopicMatcher = () => false;

/**
 * Entitlement patterns, as found in the `topics` claim or `anonymousTopics`: an exact topic
 * (`quote.AAPL`, `candle.1m.AAPL`), a kind wildcard (`trade.*`, `candle.*`: every interval), a
 * symbol wildcard (`*.BTC-USD`: every market kind of it), or `*` for every market topic. Anything
 * else is rejected, so a typo in a token never silently grants nothing (or everything).
 */
const PATTERN = /^(\*|(trade|quote|candle|stats|\*)\.(\*|[A-Z0-9][A-Z0-9_-]{0,31}))$/;
/** An exact candle topic (its interval sits between kind and symbol). */
const CANDLE_TOPIC = /^candle\.(1s|1m|5m|15m|1h|1d)\.[A-Z0-9][A-Z0-9_-]{0,31}$/;

export function compilePatterns(patterns: readonly string[]): TopicMatcher {
  const exact = new Set<string>();
  const kinds = new Set<string>();
  const symbols = new Set<string>();
  for (const p of patterns) {
    if (CANDLE_TOPIC.test(p)) {
      exact.add(p);
      continue;
    }
    if (!PATTERN.test(p)) throw new Error(`invalid topic pattern ${JSON.stringify(p)}`);
    if (p === '*' || p === '*.*') return ALL;
    const [kind, symbol] = p.split('.') as [string, string];
    if (symbol === '*') kinds.add(kind);
    else if (kind === '*') symbols.add(symbol);
    else exact.add(p);
  }
  if (!exact.size && !kinds.size && !symbols.size) return NONE;
  return (topic) => {
    if (exact.has(topic)) return true;
    // The symbol is the last part: `*.BTC-USD` covers candle.<interval>.BTC-USD too.
    return kinds.has(topic.slice(0, topic.indexOf('.'))) || symbols.has(topic.slice(topic.lastIndexOf('.') + 1));
  };
}

/** Splits a comma- or space-separated pattern list (config, or a string `topics` claim). */
export function patternList(s: string): string[] {
  return s.split(/[\s,]+/).filter(Boolean);
}

/**
 * May `id` read `name` (a topic or throttled view)? Market topics per the entitlements; a user
 * channel only with the very same `sub`; `sys.announce` always. Names must already be valid.
 */
export function canRead(id: Identity, name: string): boolean {
  const p = parseSubscription(name);
  if (!p) return false;
  if (isMarketKind(p.kind)) return id.markets(p.base);
  if (p.kind === 'user') return id.sub !== undefined && id.sub === p.symbol;
  return p.kind === 'sys';
}
