import { parseSymbols, type SymbolSpec } from '../../../feeds/src/symbols.js';
import { MARKET_KINDS } from '../../../protocol/src/topics.js';
import { decimalsOf, SymbolDirectory, type SymbolInfo } from './directory.js';

/** Currency codes the simulator's pair names end with; any other name is taken for a US-listed stock. */
const QUOTES = ['USDT', 'USDC', 'USD', 'EUR', 'GBP', 'JPY', 'BTC', 'ETH'];

/** Base and quote of a symbol name: "BTC-USD" -> BTC/USD, "ETHBTC" -> ETH/BTC, "AAPL" -> AAPL/USD. */
export function currenciesOf(symbol: string): { base: string; quote: string } {
  const dash = symbol.indexOf('-');
  if (dash > 0) return { base: symbol.slice(0, dash), quote: symbol.slice(dash + 1) };
  const quote = QUOTES.find((q) => symbol.length > q.length + 1 && symbol.endsWith(q));
  return quote ? { base: symbol.slice(0, -quote.length), quote } : { base: symbol, quote: 'USD' };
}

/** The directory entry of one simulated instrument: its tick and lot are the simulator's own increments. */
export function infoOfSpec(s: Readonly<SymbolSpec>): SymbolInfo {
  return {
    symbol: s.symbol,
    tickSize: s.tick,
    lotSize: s.lot,
    ...currenciesOf(s.symbol),
    precision: decimalsOf(s.tick),
    kinds: [...MARKET_KINDS],
  };
}

/** The embedded feed's instruments (feedSymbols), the default directory in embedded mode. */
export function embeddedDirectory(feedSymbols: string): SymbolDirectory {
  return new SymbolDirectory('embedded', parseSymbols(feedSymbols).map(infoOfSpec));
}
