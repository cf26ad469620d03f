import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonCodec, msgpackCodec } from '../src/codec.js';
import { negotiate } from './support/codecs.js';
import type { ServerMessage } from '../src/messages.js';
import type { QuoteTick, TradeTick } from '../src/ticks.js';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const tradeArb = fc.record({ ts: finite, px: finite, qty: finite, side: fc.constantFrom<'b' | 's'>('b', 's') });
const quoteArb = fc.record({ ts: finite, bid: finite, bsz: finite, ask: finite, asz: finite });

/** Type tags of every float in a msgpack buffer are hard to find generically; count 0xcb markers of known values instead. */
function floatValuesAreFloat64(buf: Uint8Array, values: number[]): boolean {
  const view = Buffer.from(buf);
  return values.every((v) => {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    return view.indexOf(b) !== -1;
  });
}

describe('msgpack codec', () => {
  it('upd frames decode with a standard decoder to exactly the message', () => {
    fc.assert(
      fc.property(fc.array(tradeArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 40 }), (ticks, seq) => {
        const f = msgpackCodec.encodeUpd('trade.BTC-USD', 'trade', seq, ticks, 0, ticks.length);
        expect(decode(f)).toEqual({ op: 'upd', topic: 'trade.BTC-USD', seq, data: ticks });
      }),
    );
  });

  it('writes every tick number as float64, including integral prices', () => {
    const q: QuoteTick = { ts: 1700000000000, bid: 65000, bsz: 2, ask: 65001, asz: 1 };
    const f = msgpackCodec.encodeSnap('quote.BTC-USD', 'quote', 7, 'E', q);
    expect(floatValuesAreFloat64(f, [q.ts, q.bid, q.bsz, q.ask, q.asz])).toBe(true);
    expect(decode(f)).toEqual({ op: 'snap', topic: 'quote.BTC-USD', seq: 7, epoch: 'E', data: q });
    // msgpackr (and most encoders) would have written 65000 as an int: make sure that is what we avoid.
    expect(floatValuesAreFloat64(encode(q), [65000])).toBe(false);
  });

  it('encodes a slice of the pending ticks with the seq of its first element', () => {
    fc.assert(
      fc.property(fc.array(quoteArb, { minLength: 2, maxLength: 30 }), fc.nat(), (ticks, a) => {
        const from = a % ticks.length;
        const f = msgpackCodec.encodeUpd('quote.X', 'quote', 100 + from, ticks, from, ticks.length);
        expect(decode(f)).toEqual({ op: 'upd', topic: 'quote.X', seq: 100 + from, data: ticks.slice(from) });
      }),
    );
  });

  it('handles large frames (more than 16 ticks, long strings) with the wider headers', () => {
    const ticks: TradeTick[] = Array.from({ length: 70_000 }, (_, i) => ({ ts: i, px: i + 0.5, qty: 1, side: 'b' }));
    const f = msgpackCodec.encodeUpd('trade.X', 'trade', 2 ** 33, ticks, 0, ticks.length);
    const m = decode(f) as { seq: number; data: TradeTick[] };
    expect(m.seq).toBe(2 ** 33);
    expect(m.data.length).toBe(70_000);
    expect(m.data[69_999]).toEqual(ticks[69_999]);
    const longEpoch = 'é'.repeat(300);
    expect(decode(msgpackCodec.encodeSnap('trade.X', 'trade', 1, longEpoch, ticks[0] as TradeTick))).toMatchObject({ epoch: longEpoch });
  });

  it('other server messages are plain msgpack maps', () => {
    const msgs: ServerMessage[] = [
      { op: 'ack', id: 3, topics: ['trade.A'] },
      { op: 'err', id: 4, code: 'bad_topic', msg: 'x', topics: ['bad'] },
      { op: 'pong', id: -5 },
      { op: 'hb', ts: 1700000000123 },
    ];
    for (const m of msgs) {
      expect(decode(msgpackCodec.encode(m))).toEqual(m);
    }
  });

  it('decode accepts exactly one msgpack value and rejects garbage', () => {
    expect(msgpackCodec.decode(encode({ op: 'ping', id: 1 }))).toEqual({ op: 'ping', id: 1 });
    expect(() => msgpackCodec.decode(new Uint8Array([]))).toThrow();
    expect(() => msgpackCodec.decode(new Uint8Array([0x82, 0xa2]))).toThrow();
    expect(() => msgpackCodec.decode(new Uint8Array([0xc1]))).toThrow();
    expect(() => msgpackCodec.decode(new Uint8Array([0x01, 0x02]))).toThrow();
    expect(() => msgpackCodec.decode(new Uint8Array([0xd4, 0x05, 0x01]))).toThrow(); // unknown extension
  });
});

describe('json codec', () => {
  it('carries the same objects as msgpack', () => {
    fc.assert(
      fc.property(fc.array(quoteArb, { minLength: 1, maxLength: 10 }), (ticks) => {
        const j = JSON.parse(new TextDecoder().decode(jsonCodec.encodeUpd('quote.X', 'quote', 9, ticks, 0, ticks.length)));
        const m = decode(msgpackCodec.encodeUpd('quote.X', 'quote', 9, ticks, 0, ticks.length));
        // JSON has no -0; everything else must match exactly.
        expect(j).toEqual(JSON.parse(JSON.stringify(m)));
      }),
    );
  });

  it('rejects invalid UTF-8 and invalid JSON', () => {
    expect(() => jsonCodec.decode(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow();
    expect(() => jsonCodec.decode(new TextEncoder().encode('{"op":'))).toThrow();
  });
});

describe('subprotocol negotiation', () => {
  it('gives JSON to a client that offers none, honours the client preference order, refuses only-unknown offers', () => {
    expect(negotiate('')?.name).toBe('json');
    expect(negotiate(' , ')?.name).toBe('json');
    expect(negotiate('tickwire.v1.json')?.name).toBe('json');
    expect(negotiate('foo, tickwire.v1.json, tickwire.v1.msgpack')?.name).toBe('json');
    expect(negotiate('tickwire.v1.msgpack,tickwire.v1.json')?.name).toBe('msgpack');
    expect(negotiate('mqtt, graphql-ws')).toBeUndefined();
  });
});
