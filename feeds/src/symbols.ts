/** Static description of one simulated instrument. */
export interface SymbolSpec {
  symbol: string;
  /** Start price. */
  price: number;
  /** Annualised volatility, e.g. 0.6 for BTC. */
  vol: number;
  /** Price increment; prices are rounded to a multiple of it. */
  tick: number;
  /** Typical spread in ticks. */
  spreadTicks: number;
  /** Size increment. */
  lot: number;
  /** Mean trade size. */
  meanQty: number;
  /** Share of the total tick rate (relative; weights need not sum to 1). */
  weight: number;
}

const spec = (s: SymbolSpec): Readonly<SymbolSpec> => Object.freeze(s);

/** Roughly mid-2024 levels. Crypto carries 60 % of the weight since it trades busiest. */
export const DEFAULT_SYMBOLS: readonly Readonly<SymbolSpec>[] = Object.freeze([
  spec({ symbol: 'BTC-USD', price: 65000, vol: 0.6, tick: 0.01, spreadTicks: 20, lot: 0.00001, meanQty: 0.05, weight: 0.25 }),
  spec({ symbol: 'ETH-USD', price: 3400, vol: 0.7, tick: 0.01, spreadTicks: 5, lot: 0.0001, meanQty: 0.8, weight: 0.2 }),
  spec({ symbol: 'SOL-USD', price: 150, vol: 0.9, tick: 0.001, spreadTicks: 10, lot: 0.001, meanQty: 15, weight: 0.15 }),
  spec({ symbol: 'AAPL', price: 190, vol: 0.25, tick: 0.01, spreadTicks: 1, lot: 1, meanQty: 100, weight: 0.1 }),
  spec({ symbol: 'MSFT', price: 420, vol: 0.25, tick: 0.01, spreadTicks: 2, lot: 1, meanQty: 80, weight: 0.08 }),
  spec({ symbol: 'NVDA', price: 120, vol: 0.5, tick: 0.01, spreadTicks: 1, lot: 1, meanQty: 200, weight: 0.12 }),
  spec({ symbol: 'EUR-USD', price: 1.08, vol: 0.07, tick: 0.00001, spreadTicks: 3, lot: 1000, meanQty: 500000, weight: 0.1 }),
]);

/** Spec used for names not in DEFAULT_SYMBOLS (a generic mid-priced stock). */
const GENERIC: Omit<SymbolSpec, 'symbol'> = {
  price: 100,
  vol: 0.3,
  tick: 0.01,
  spreadTicks: 2,
  lot: 1,
  meanQty: 100,
  weight: 0.1,
};

const NAME_RE = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;

/**
 * Parses a comma-separated list of symbol names (e.g. from an env var) into specs: the default
 * spec for known names, a generic one otherwise. Whitespace around names and empty entries are
 * ignored; invalid names, duplicates and an empty list throw. Returns fresh (mutable) copies.
 */
export function parseSymbols(list: string): SymbolSpec[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`symbol list is empty: ${JSON.stringify(list)}`);
  const seen = new Set<string>();
  return names.map((name) => {
    if (!NAME_RE.test(name)) {
      throw new Error(
        `invalid symbol name ${JSON.stringify(name)}: must match ${String(NAME_RE)} ` +
          '(upper-case letters, digits, "_" and "-", at most 32 characters)',
      );
    }
    if (seen.has(name)) throw new Error(`duplicate symbol ${JSON.stringify(name)} in symbol list`);
    seen.add(name);
    const known = DEFAULT_SYMBOLS.find((s) => s.symbol === name);
    return known ? { ...known } : { symbol: name, ...GENERIC };
  });
}
