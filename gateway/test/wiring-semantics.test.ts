import { describe, expect, it } from 'vitest';
import { KINDS, TOPIC_KINDS } from '../../protocol/src/kinds.js';
import { kindSemantics } from '../src/wiring.js';

describe('the hub takes its semantics from the kind registry', () => {
  it("each kind of topic gets its registry entry's snapshot and throttle semantics", () => {
    const sample: Record<string, string> = {
      trade: 'trade.BTC-USD',
      quote: 'quote.AAPL',
      book: 'book.AAPL:10',
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
