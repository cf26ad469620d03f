import { MARKET_KINDS, parseSubscription } from '../../../protocol/src/topics.js';
import type { TopicKind } from '../../../protocol/src/kinds.js';

/** One instrument as GET /v1/symbols lists it. */
export interface SymbolInfo {
  symbol: string;
  /** Smallest price increment. */
  tickSize: number;
  /** Smallest size increment. */
  lotSize: number;
  base: string;
  quote: string;
  /** Decimals to display prices with (those of tickSize unless the source says otherwise). */
  precision: number;
  /** Topic kinds that exist for it (trade, quote, ...). */
  kinds: TopicKind[];
}

/** What the session core asks the directory: is this subscription's symbol known, and if not, what was meant. */
export interface SymbolCheck {
  /** undefined when `name` is not a market topic or its symbol is known; otherwise the suggestion ('' for none). */
  unknown(name: string): string | undefined;
}

/** Decimals of a positive increment: 0.01 -> 2, 0.00001 -> 5, 1000 -> 0. */
export function decimalsOf(step: number): number {
  if (!(step > 0) || step >= 1) return 0;
  for (let d = 0; d <= 15; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  return 15;
}

/** Levenshtein distance, stopping early once it exceeds `max` (returns max + 1 then). */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length] as number;
}

/** Suggestions further than this many edits away are more confusing than helpful. */
const MAX_SUGGESTION_DISTANCE = 2;

/**
 * The instruments the gateway knows, from one source (embedded feed, file or Kafka topic). The
 * source replaces or removes entries; readers see the current set.
 */
export class SymbolDirectory implements SymbolCheck {
  private readonly bySymbol = new Map<string, SymbolInfo>();

  constructor(
    /** Where the entries come from, as /v1/symbols reports it. */
    readonly source: string,
    entries: readonly SymbolInfo[] = [],
  ) {
    for (const e of entries) this.bySymbol.set(e.symbol, e);
  }

  set(info: SymbolInfo): void {
    this.bySymbol.set(info.symbol, info);
  }

  delete(symbol: string): void {
    this.bySymbol.delete(symbol);
  }

  get(symbol: string): SymbolInfo | undefined {
    return this.bySymbol.get(symbol);
  }

  has(symbol: string): boolean {
    return this.bySymbol.has(symbol);
  }

  get size(): number {
    return this.bySymbol.size;
  }

  /** Every instrument, sorted by symbol. */
  list(): SymbolInfo[] {
    return [...this.bySymbol.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  }

  unknown(name: string): string | undefined {
    const p = parseSubscription(name);
    if (!p || !MARKET_KINDS.includes(p.kind) || p.symbol === undefined || this.bySymbol.has(p.symbol)) return undefined;
    return this.suggest(p.symbol) ?? '';
  }

  /** The closest known symbol: a case-insensitive match first, else the nearest within two edits (ties: alphabetical). */
  suggest(symbol: string): string | undefined {
    const upper = symbol.toUpperCase();
    let best: string | undefined;
    let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
    for (const known of this.bySymbol.keys()) {
      const d = known.toUpperCase() === upper ? -1 : editDistance(upper, known.toUpperCase(), MAX_SUGGESTION_DISTANCE);
      if (d < bestDistance || (d === bestDistance && best !== undefined && known < best)) {
        best = known;
        bestDistance = d;
      }
    }
    return best;
  }
}
