import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../protocol/src/record.js';

const k = (s: string) => Buffer.from(s);
const mp = (v: unknown) => Buffer.from(encode(v));
const js = (v: unknown) => Buffer.from(JSON.stringify(v));
const T0 = 1_790_000_000_000;
const dec = (key: Buffer | null, value: Buffer | null) => decodeRecord(key, value, 1024, T0 + 42);

describe('Kafka record decoding', () => {
  const trade = { ts: T0 + 1, px: 100.5, qty: 2, side: 'b' };
  const quote = { ts: T0 + 2, bid: 1.1, bsz: 3, ask: 1.2, asz: 4 };

  it('accepts msgpack and JSON values, keeping only the protocol fields', () => {
    expect(dec(k('trade.BTC-USD'), mp({ ...trade, venue: 'X' }))).toEqual({ topic: 'trade.BTC-USD', tick: trade });
    expect(dec(k('quote.AAPL'), js(quote))).toEqual({ topic: 'quote.AAPL', tick: quote });
    expect(dec(k('quote.AAPL'), Buffer.from(`  \n${JSON.stringify(quote)}`))).toEqual({ topic: 'quote.AAPL', tick: quote });
  });

  it('takes ts from the record timestamp when the value has none', () => {
    const { ts: _ts, ...noTs } = trade;
    expect(dec(k('trade.X'), mp(noTs))).toEqual({ topic: 'trade.X', tick: { ...trade, ts: T0 + 42 } });
  });

  it.each([
    ['no key', null, mp(trade), 'bad_key'],
    ['key not a topic', k('BTC-USD'), mp(trade), 'bad_key'],
    ['lower-case key', k('trade.btc'), mp(trade), 'bad_key'],
    ['computed candle topic', k('candle.1m.X'), js({ t: T0, o: 1, h: 1, l: 1, c: 1, v: 1, q: 1, n: 1, x: true }), 'bad_key'],
    ['computed stats topic', k('stats.X'), mp(trade), 'bad_key'],
    ['empty value', k('trade.X'), Buffer.alloc(0), 'undecodable'],
    ['null value (tombstone)', k('trade.X'), null, 'undecodable'],
    ['garbage bytes', k('trade.X'), Buffer.from([0xc1, 0x00, 0xff]), 'undecodable'],
    ['truncated msgpack', k('trade.X'), mp(trade).subarray(0, 10), 'undecodable'],
    ['broken JSON', k('trade.X'), Buffer.from('{"px": 1,'), 'undecodable'],
    ['not a map', k('trade.X'), mp([1, 2, 3]), 'undecodable'],
    ['oversize', k('trade.X'), mp({ ...trade, pad: 'x'.repeat(2000) }), 'oversize'],
    ['missing px', k('trade.X'), mp({ ts: T0, qty: 1, side: 'b' }), 'bad_fields'],
    ['string price', k('trade.X'), js({ ...trade, px: '100.5' }), 'bad_fields'],
    ['bad side', k('trade.X'), mp({ ...trade, side: 'buy' }), 'bad_fields'],
    ['quote fields on a trade topic', k('trade.X'), mp(quote), 'bad_fields'],
    ['NaN price', k('quote.X'), mp({ ...quote, bid: NaN }), 'non_finite'],
    ['Infinity size', k('quote.X'), mp({ ...quote, asz: Infinity }), 'non_finite'],
    ['JSON overflow to Infinity', k('quote.X'), Buffer.from(`{"ts":${T0},"bid":1e999,"bsz":1,"ask":2,"asz":1}`), 'non_finite'],
  ])('rejects %s', (_name, key, value, reason) => {
    const r = dec(key, value);
    expect(r).toMatchObject({ reject: reason });
    expect('detail' in r && r.detail.length).toBeGreaterThan(0);
  });
});

describe('Kafka record decoding of 64-bit integers', () => {
  it('reads uint64/int64 timestamps (as standard encoders write epoch ms) as numbers', () => {
    const ts = 1_790_000_000_123;
    const r = decodeRecord(Buffer.from('trade.X'), Buffer.from(encode({ ts, px: 1, qty: 1, side: 's' })), 1024, 0);
    expect(r).toEqual({ topic: 'trade.X', tick: { ts, px: 1, qty: 1, side: 's' } });
  });
});

describe('Kafka record decoding: one unpack, cached topic parse', () => {
  it('rejects a value with bytes after the msgpack map, and the reserved byte 0xc1 alone', () => {
    const trade = encode({ ts: T0, px: 1, qty: 1, side: 'b' });
    const two = Buffer.concat([Buffer.from(trade), Buffer.from(trade)]);
    expect(decodeRecord(Buffer.from('trade.X'), two, 1024, 0)).toMatchObject({ reject: 'undecodable' });
    expect(decodeRecord(Buffer.from('trade.X'), Buffer.from([0xc1]), 1024, 0)).toMatchObject({ reject: 'undecodable' });
  });

  it('gives the same answer for a key whether or not its parse is cached, past the cache bound too', () => {
    const v = Buffer.from(encode({ ts: T0, px: 1, qty: 1, side: 'b' }));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) expect(decodeRecord(Buffer.from(`trade.S${i}`), v, 1024, 0)).toMatchObject({ topic: `trade.S${i}` });
      expect(decodeRecord(Buffer.from('trade.s1'), v, 1024, 0)).toMatchObject({ reject: 'bad_key' });
      expect(decodeRecord(Buffer.from('trade.É'), v, 1024, 0)).toMatchObject({
        reject: 'bad_key',
        detail: 'key is not a topic: "trade.É"',
      });
    }
  });
});

describe('Kafka record decoding: valid ranges (docs/ingest.md#valid-ranges)', () => {
  const trade = { ts: T0, px: 100.5, qty: 2, side: 'b' };
  const quote = { ts: T0, bid: 1.1, bsz: 3, ask: 1.2, asz: 4 };

  it.each([
    ['ts 1e300', k('trade.X'), mp({ ...trade, ts: 1e300 }), 'ts'],
    ['ts in seconds', k('trade.X'), mp({ ...trade, ts: 1_790_000_000 }), 'ts'],
    ['ts in microseconds', k('quote.X'), mp({ ...quote, ts: 1_790_000_000_000_000 }), 'ts'],
    ['ts negative', k('trade.X'), js({ ...trade, ts: -5 }), 'ts'],
    ['ts 2100-01-01', k('trade.X'), mp({ ...trade, ts: Date.UTC(2100, 0, 1) }), 'ts'],
    ['negative price', k('trade.X'), mp({ ...trade, px: -1 }), 'px'],
    ['zero price', k('trade.X'), js({ ...trade, px: 0 }), 'px'],
    ['negative size', k('trade.X'), mp({ ...trade, qty: -3 }), 'qty'],
    ['zero trade size', k('trade.X'), mp({ ...trade, qty: 0 }), 'qty'],
    ['negative bid', k('quote.X'), mp({ ...quote, bid: -1.1 }), 'bid'],
    ['zero ask', k('quote.X'), mp({ ...quote, ask: 0 }), 'ask'],
    ['negative bid size', k('quote.X'), mp({ ...quote, bsz: -1 }), 'bsz'],
    ['negative ask size', k('quote.X'), js({ ...quote, asz: -0.5 }), 'asz'],
  ])('rejects %s as out_of_range, naming the field', (_name, key, value, field) => {
    const r = dec(key, value);
    expect(r).toMatchObject({ reject: 'out_of_range' });
    expect('detail' in r && r.detail).toContain(`${field} is`);
  });

  it('rejects a record keyed without ts whose Kafka timestamp is out of range', () => {
    const { ts: _ts, ...noTs } = trade;
    expect(decodeRecord(k('trade.X'), mp(noTs), 1024, 0)).toMatchObject({ reject: 'out_of_range' });
  });

  it('a wrong-typed field is bad_fields even when another is out of range', () => {
    expect(dec(k('trade.X'), mp({ ...trade, ts: 1, px: 'x' }))).toMatchObject({ reject: 'bad_fields' });
  });

  it('accepts the edges: ts at 2000-01-01, empty book sides, crossed and locked quotes', () => {
    const ts = Date.UTC(2000, 0, 1);
    expect(dec(k('trade.X'), mp({ ...trade, ts }))).toEqual({ topic: 'trade.X', tick: { ...trade, ts } });
    expect(dec(k('trade.X'), mp({ ...trade, ts: Date.UTC(2100, 0, 1) - 1 }))).toMatchObject({ topic: 'trade.X' });
    expect(dec(k('quote.X'), mp({ ...quote, bsz: 0, asz: 0 }))).toMatchObject({ topic: 'quote.X', tick: { bsz: 0, asz: 0 } });
    expect(dec(k('quote.X'), mp({ ...quote, bid: 2, ask: 1 }))).toMatchObject({ topic: 'quote.X', tick: { bid: 2, ask: 1 } });
    expect(dec(k('quote.X'), mp({ ...quote, bid: 2, ask: 2 }))).toMatchObject({ topic: 'quote.X' });
  });
});

describe('Kafka record decoding: free-form payload bounds', () => {
  /** `{"a": [[[ ... 1 ... ]]]}`: a map holding arrays nested `depth - 1` deep. */
  const deepJson = (depth: number) => `{"a":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
  /** The same shape in msgpack: fixmap {"a": ...}, then `depth - 1` fixarrays of one element, then 1. */
  const deepMsgpack = (depth: number) =>
    Buffer.concat([Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(depth - 1, 0x91), Buffer.from([0x01])]);

  it.each(['sys.announce', 'user.bob.fills'])('rejects a 2000-deep value keyed %s as too_deep (JSON, msgpack), no overflow', (topic) => {
    const big = (v: Buffer | null) => decodeRecord(k(topic), v, 64 * 1024, T0);
    expect(big(Buffer.from(deepJson(2000)))).toMatchObject({ reject: 'too_deep' });
    expect(big(deepMsgpack(2000))).toMatchObject({ reject: 'too_deep' });
    expect(big(deepMsgpack(60_000))).toMatchObject({ reject: 'too_deep' });
    // The decoder is usable afterwards.
    expect(big(Buffer.from('{"msg":"hello"}'))).toEqual({ topic, tick: { msg: 'hello' } });
    expect(dec(k('trade.X'), mp({ ts: T0, px: 1, qty: 1, side: 'b' }))).toMatchObject({ topic: 'trade.X' });
  });

  it('passes values up to the depth limit, and applies configured limits', () => {
    expect(decodeRecord(k('sys.announce'), Buffer.from(deepJson(32)), 64 * 1024, T0)).toMatchObject({ topic: 'sys.announce' });
    expect(decodeRecord(k('sys.announce'), Buffer.from(deepJson(33)), 64 * 1024, T0)).toMatchObject({ reject: 'too_deep' });
    const tight = { maxDepth: 4, maxBytes: 1024 };
    expect(decodeRecord(k('sys.announce'), deepMsgpack(8), 64 * 1024, T0, tight)).toMatchObject({ reject: 'too_deep' });
    const wide = js({ items: Array.from({ length: 200 }, (_, i) => i) });
    expect(decodeRecord(k('user.bob.fills'), wide, 64 * 1024, T0, { maxDepth: 32, maxBytes: 1024 })).toMatchObject({ reject: 'too_large' });
    expect(decodeRecord(k('user.bob.fills'), wide, 64 * 1024, T0)).toMatchObject({ topic: 'user.bob.fills' });
  });
});
