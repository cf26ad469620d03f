import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeServerFrame } from '../../client/ts/src/codec.js';
import { DICTIONARIES, prefixDictionary } from '../../client/ts/src/dictionaries.js';
import { nodeDeflate } from '../../gateway/src/codecs.js';
import { createCodecs, dictionaryInflateFrame, type WireCodec } from '../src/codec.js';
import { DEFLATE_DICTIONARIES, DICTIONARY_IDS } from '../src/deflate-dictionaries.js';
import type { ServerMessage } from '../src/messages.js';
import type { TradeTick } from '../src/ticks.js';

/**
 * `tickwire.v1.msgpack-compact+deflate.d1`: compact frames deflated once with a preset dictionary
 * of their kind; stored when that does not shrink them; decoded by the SDK to what msgpack carries.
 */
const codecs = createCodecs(nodeDeflate, () => ({ tick: 0.01, lot: 0.0001 }));
const byName = (n: string) => codecs.find((c) => c.name === n) as WireCodec;
const compact = byName('msgpack-compact');
const zc = byName('msgpack-compact+deflate');
const msgpack = byName('msgpack');

const T0 = 1795687880463;
const trade = (i: number): TradeTick => ({ ts: T0 + i * 3, px: 3401.17 + (i % 5) / 100, qty: 0.25 + i / 1e4, side: i % 3 ? 'b' : 's' });
const trades = (n: number) => Array.from({ length: n }, (_, i) => trade(i));

describe('msgpack-compact+deflate', () => {
  it('derives from the compact codec: the hub encodes compact once and transforms it', () => {
    expect(zc.derive?.base).toBe(compact);
    expect(zc.subprotocol).toBe('tickwire.v1.msgpack-compact+deflate.d1');
  });

  it.each([1, 2, 5, 40])('a %i-tick trade upd deflates with the trade dictionary, smaller than compact, and round-trips', (n) => {
    const c = compact.encodeUpd('trade.ETH-USD', 'trade', 900, trades(n), 0, n, 123456);
    const z = zc.encodeUpd('trade.ETH-USD', 'trade', 900, trades(n), 0, n, 123456);
    expect(z[0]).toBe(DICTIONARY_IDS.trade);
    expect(z.length).toBeLessThan(c.length);
    expect(Buffer.from(dictionaryInflateFrame(z, nodeDeflate))).toEqual(Buffer.from(c));
    expect(decodeServerFrame('msgpack-compact+deflate', z, (b) => inflateRawSync(b))).toEqual(
      decodeServerFrame('msgpack', msgpack.encodeUpd('trade.ETH-USD', 'trade', 900, trades(n), 0, n, 123456)),
    );
  });

  it('a one-tick frame shrinks to under half its compact size only thanks to the dictionary', () => {
    const c = compact.encodeUpd('trade.ETH-USD', 'trade', 900, trades(1), 0, 1);
    const z = zc.derive!.transform(c, 'trade');
    expect(z.length * 2).toBeLessThan(c.length);
    // Without a dictionary the same frame does not shrink at all.
    expect(nodeDeflate.deflate(c).length).toBeGreaterThanOrEqual(c.length - 2);
  });

  it('stores a frame that would not shrink (flag 0x00 + the compact bytes)', () => {
    const hb: ServerMessage = { op: 'hb', ts: T0 };
    const z = zc.encode(hb);
    expect(z[0]).toBe(0);
    expect(Buffer.from(z.subarray(1))).toEqual(Buffer.from(compact.encode(hb)));
    expect(decodeServerFrame('msgpack-compact+deflate', z)).toEqual({ op: 'hb', ts: T0 });
  });

  it('picks the dictionary by kind: quote, book, and common for control messages and other kinds', () => {
    const q = { ts: T0, bid: 3401.17, bsz: 2, ask: 3401.19, asz: 0.5 };
    expect(zc.encodeUpd('quote.ETH-USD', 'quote', 1, [q], 0, 1)[0]).toBe(DICTIONARY_IDS.quote);
    const b = { ts: T0, b: [[3401.17, 2]], a: [[3401.19, 0]], cs: 7 };
    expect(zc.encodeUpd('book.ETH-USD', 'book', 1, [b] as never, 0, 1)[0]).toBe(DICTIONARY_IDS.book);
    const ack: ServerMessage = { op: 'ack', id: 1, topics: ['trade.ETH-USD', 'quote.ETH-USD', 'book.ETH-USD'] };
    expect(zc.encode(ack)[0]).toBe(DICTIONARY_IDS.common);
    expect(decodeServerFrame('msgpack-compact+deflate', zc.encode(ack), (d) => inflateRawSync(d))).toEqual(ack);
  });

  it('cannot be inflated without its dictionary, nor with another kind’s', () => {
    const z = zc.encodeUpd('trade.ETH-USD', 'trade', 900, trades(3), 0, 3);
    expect(() => inflateRawSync(z.subarray(1))).toThrow();
    expect(() => dictionaryInflateFrame(Uint8Array.of(9, ...z.subarray(1)), nodeDeflate)).toThrow(/flag byte 9/);
    const wrong = (() => {
      try {
        return Buffer.from(inflateRawSync(z.subarray(1), { dictionary: DEFLATE_DICTIONARIES[DICTIONARY_IDS.quote]! }));
      } catch {
        return undefined;
      }
    })();
    expect(wrong).not.toEqual(Buffer.from(compact.encodeUpd('trade.ETH-USD', 'trade', 900, trades(3), 0, 3)));
    expect(() => decodeServerFrame('msgpack-compact+deflate', Uint8Array.of(7, 1, 2))).toThrow(/unknown flag byte 0x07/);
  });

  it('the SDK inflates with DecompressionStream, which takes no dictionary, through a stored-block prefix', async () => {
    const z = zc.encodeUpd('trade.ETH-USD', 'trade', 900, trades(6), 0, 6);
    const out = await decodeServerFrame('msgpack-compact+deflate', z);
    expect(out).toEqual(decodeServerFrame('msgpack', msgpack.encodeUpd('trade.ETH-USD', 'trade', 900, trades(6), 0, 6)));
    const dict = DICTIONARIES[z[0]!]!;
    expect(Buffer.from(inflateRawSync(prefixDictionary(dict, z.subarray(1))).subarray(dict.length))).toEqual(
      Buffer.from(compact.encodeUpd('trade.ETH-USD', 'trade', 900, trades(6), 0, 6)),
    );
  });
});
