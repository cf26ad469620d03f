import { describe, expect, it } from 'vitest';
import { KINDS, TOPIC_KINDS } from '../../protocol/src/kinds.js';
import { DEFAULT_BOOK_UNITS } from '../../protocol/src/book.js';
import { SymbolDirectory } from '../src/symbols/directory.js';
import { kindSemantics, unitsFrom } from '../src/wiring.js';

describe('the hub takes its semantics from the kind registry', () => {
  it("each kind of topic gets its registry entry's snapshot and throttle semantics", () => {
    const sample: Record<string, string> = {
      trade: 'trade.BTC-USD',
      quote: 'quote.AAPL',
      book: 'book.AAPL:10',
      candle: 'candle.1m.AAPL',
      stats: 'stats.AAPL',
      user: 'user.alice.orders',
      sys: 'sys.announce',
    };
    for (const kind of TOPIC_KINDS) {
      const topic = sample[kind];
      expect(topic, `a sample topic for kind ${kind}`).toBeDefined();
      expect(kindSemantics(topic!)).toEqual({ snapshot: KINDS[kind].snapshot, throttle: KINDS[kind].throttle });
    }
  });
});

describe("the hub's book units come from the symbol directory (unitsFrom)", () => {
  it('a known symbol has its tick and lot sizes, read at each call; an unknown one or no directory the defaults', () => {
    let dir: SymbolDirectory | undefined;
    const unitsOf = unitsFrom(() => dir);
    expect(unitsOf('BTC-USD')).toEqual(DEFAULT_BOOK_UNITS);
    dir = new SymbolDirectory('file');
    expect(unitsOf('BTC-USD')).toEqual(DEFAULT_BOOK_UNITS);
    dir.set({ symbol: 'BTC-USD', tickSize: 0.01, lotSize: 0.00001, base: 'BTC', quote: 'USD', precision: 2, kinds: ['book'] });
    expect(unitsOf('BTC-USD')).toEqual({ tick: 0.01, lot: 0.00001 });
    expect(unitsOf('ETH-USD')).toEqual(DEFAULT_BOOK_UNITS);
  });
});
