import { decimalsOf, type SymbolInfo } from './directory.js';
import { currenciesOf } from './embedded.js';
import { SYMBOL_PATTERN, type TopicKind } from '../../../protocol/src/kinds.js';
import { MARKET_KINDS } from '../../../protocol/src/topics.js';

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * One instrument from a file entry or a Kafka record value (docs/ingest.md#symbol-directory):
 * `tickSize` and `lotSize` are required; `base`/`quote` default from the name, `precision` from
 * tickSize, `kinds` to every market kind. Returns the reason when the entry is unusable.
 */
export function parseSymbolRecord(symbol: string, value: unknown): SymbolInfo | string {
  if (!SYMBOL_PATTERN.test(symbol)) return `symbol ${JSON.stringify(symbol.slice(0, 40))} does not match ${String(SYMBOL_PATTERN)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${symbol}: value must be a map`;
  const v = value as Record<string, unknown>;
  if (!positive(v.tickSize)) return `${symbol}: tickSize must be a positive number`;
  if (!positive(v.lotSize)) return `${symbol}: lotSize must be a positive number`;
  const fallback = currenciesOf(symbol);
  for (const k of ['base', 'quote'] as const)
    if (v[k] !== undefined && (typeof v[k] !== 'string' || v[k] === '')) return `${symbol}: ${k} must be a string`;
  const precision = v.precision ?? decimalsOf(v.tickSize);
  if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 0 || precision > 18)
    return `${symbol}: precision must be 0-18`;
  const kinds = v.kinds ?? [...MARKET_KINDS];
  if (!Array.isArray(kinds) || !kinds.every((k) => MARKET_KINDS.includes(k as TopicKind))) {
    return `${symbol}: kinds must be a list of ${MARKET_KINDS.join(', ')}`;
  }
  return {
    symbol,
    tickSize: v.tickSize,
    lotSize: v.lotSize,
    base: (v.base as string | undefined) ?? fallback.base,
    quote: (v.quote as string | undefined) ?? fallback.quote,
    precision,
    kinds: kinds as TopicKind[],
  };
}
