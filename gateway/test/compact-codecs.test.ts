import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import type { WireCodec } from '../../protocol/src/codec.js';
import { CODECS, directoryCodecs } from '../src/codecs.js';
import { SymbolDirectory, type SymbolInfo } from '../src/symbols/directory.js';

/** The gateway hands the compact codec each symbol's units from its symbol directory (directoryCodecs). */
const info = (symbol: string, tickSize: number, lotSize: number): SymbolInfo => ({
  symbol,
  tickSize,
  lotSize,
  base: 'B',
  quote: 'Q',
  precision: 2,
  kinds: ['trade', 'quote'],
});
const trade = { ts: 1795687880463, px: 65016.25, qty: 0.5, side: 'b' } as const;
const scalesOf = (codec: WireCodec, topic: string): unknown =>
  (decode(codec.encodeUpd(topic, 'trade', 1, [trade], 0, 1)) as { data: unknown[] }).data.slice(0, 2);

describe('directoryCodecs', () => {
  it('uses the default units until the directory is handed over, then the directory’s, and follows its changes', () => {
    let dir: SymbolDirectory | undefined;
    const codecs = directoryCodecs(() => dir);
    const compact = codecs.find((c) => c.name === 'msgpack-compact') as WireCodec;
    expect(codecs.map((c) => c.id)).toEqual(CODECS.map((c) => c.id));
    expect(scalesOf(compact, 'trade.BTC-USD')).toEqual([1e8, 1e8]);
    dir = new SymbolDirectory('file', [info('BTC-USD', 0.05, 0.1)]);
    expect(scalesOf(compact, 'trade.BTC-USD')).toEqual([20, 10]);
    expect(scalesOf(compact, 'trade.BTC-USD@100ms')).toEqual([20, 10]);
    expect(scalesOf(compact, 'trade.ETH-USD')).toEqual([1e8, 1e8]);
    dir.set(info('BTC-USD', 0.25, 0.5));
    expect(scalesOf(compact, 'trade.BTC-USD')).toEqual([4, 2]);
  });
});
