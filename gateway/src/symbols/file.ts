import { readFileSync } from 'node:fs';
import { SymbolDirectory } from './directory.js';
import { parseSymbolRecord } from './record.js';

/**
 * The directory of a JSON file (symbolsFile): `{"symbols": [{"symbol": "BTC-USD", "tickSize": 0.01, ...}, ...]}`
 * or the bare array. Read once at start; any bad entry stops startup with its reason, since a
 * directory silently missing an instrument would refuse every subscription to it.
 */
export function fileDirectory(path: string): SymbolDirectory {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`symbolsFile ${path}: ${(e as Error).message}`, { cause: e });
  }
  const entries = Array.isArray(doc) ? doc : (doc as { symbols?: unknown } | null)?.symbols;
  if (!Array.isArray(entries)) throw new Error(`symbolsFile ${path}: expected {"symbols": [...]} or an array`);
  const dir = new SymbolDirectory('file');
  for (const [i, e] of entries.entries()) {
    const symbol = (e as { symbol?: unknown } | null)?.symbol;
    const info = typeof symbol === 'string' ? parseSymbolRecord(symbol, e) : `entry ${i} has no "symbol" string`;
    if (typeof info === 'string') throw new Error(`symbolsFile ${path}: ${info}`);
    if (dir.has(info.symbol)) throw new Error(`symbolsFile ${path}: ${info.symbol} is listed twice`);
    dir.set(info);
  }
  return dir;
}
