import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../src/sources/record.js';

const k = (s: string) => Buffer.from(s);
const mp = (v: unknown) => Buffer.from(encode(v));
const js = (v: unknown) => Buffer.from(JSON.stringify(v));
const dec = (key: Buffer | null, value: Buffer | null) => decodeRecord(key, value, 1024, 42);

describe('Kafka record decoding', () => {
  const trade = { ts: 1, px: 100.5, qty: 2, side: 'b' };
  const quote = { ts: 2, bid: 1.1, bsz: 3, ask: 1.2, asz: 4 };

  it('accepts msgpack and JSON values, keeping only the protocol fields', () => {
    expect(dec(k('trade.BTC-USD'), mp({ ...trade, venue: 'X' }))).toEqual({ topic: 'trade.BTC-USD', tick: trade });
    expect(dec(k('quote.AAPL'), js(quote))).toEqual({ topic: 'quote.AAPL', tick: quote });
    expect(dec(k('quote.AAPL'), Buffer.from(`  \n${JSON.stringify(quote)}`))).toEqual({ topic: 'quote.AAPL', tick: quote });
  });

  it('takes ts from the record timestamp when the value has none', () => {
    const { ts: _ts, ...noTs } = trade;
    expect(dec(k('trade.X'), mp(noTs))).toEqual({ topic: 'trade.X', tick: { ...trade, ts: 42 } });
  });

  it.each([
    ['no key', null, mp(trade), 'bad_key'],
    ['key not a topic', k('BTC-USD'), mp(trade), 'bad_key'],
    ['lower-case key', k('trade.btc'), mp(trade), 'bad_key'],
    ['empty value', k('trade.X'), Buffer.alloc(0), 'undecodable'],
    ['null value (tombstone)', k('trade.X'), null, 'undecodable'],
    ['garbage bytes', k('trade.X'), Buffer.from([0xc1, 0x00, 0xff]), 'undecodable'],
    ['truncated msgpack', k('trade.X'), mp(trade).subarray(0, 10), 'undecodable'],
    ['broken JSON', k('trade.X'), Buffer.from('{"px": 1,'), 'undecodable'],
    ['not a map', k('trade.X'), mp([1, 2, 3]), 'undecodable'],
    ['oversize', k('trade.X'), mp({ ...trade, pad: 'x'.repeat(2000) }), 'oversize'],
    ['missing px', k('trade.X'), mp({ ts: 1, qty: 1, side: 'b' }), 'bad_fields'],
    ['string price', k('trade.X'), js({ ...trade, px: '100.5' }), 'bad_fields'],
    ['bad side', k('trade.X'), mp({ ...trade, side: 'buy' }), 'bad_fields'],
    ['quote fields on a trade topic', k('trade.X'), mp(quote), 'bad_fields'],
    ['NaN price', k('quote.X'), mp({ ...quote, bid: NaN }), 'non_finite'],
    ['Infinity size', k('quote.X'), mp({ ...quote, asz: Infinity }), 'non_finite'],
    ['JSON overflow to Infinity', k('quote.X'), Buffer.from('{"ts":1,"bid":1e999,"bsz":1,"ask":2,"asz":1}'), 'non_finite'],
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
    const trade = encode({ ts: 1, px: 1, qty: 1, side: 'b' });
    const two = Buffer.concat([Buffer.from(trade), Buffer.from(trade)]);
    expect(decodeRecord(Buffer.from('trade.X'), two, 1024, 0)).toMatchObject({ reject: 'undecodable' });
    expect(decodeRecord(Buffer.from('trade.X'), Buffer.from([0xc1]), 1024, 0)).toMatchObject({ reject: 'undecodable' });
  });

  it('gives the same answer for a key whether or not its parse is cached, past the cache bound too', () => {
    const v = Buffer.from(encode({ ts: 1, px: 1, qty: 1, side: 'b' }));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) expect(decodeRecord(Buffer.from(`trade.S${i}`), v, 1024, 0)).toMatchObject({ topic: `trade.S${i}` });
      expect(decodeRecord(Buffer.from('trade.s1'), v, 1024, 0)).toMatchObject({ reject: 'bad_key' });
      expect(decodeRecord(Buffer.from('trade.É'), v, 1024, 0)).toMatchObject({ reject: 'bad_key', detail: 'key is not a topic: "trade.É"' });
    }
  });
});
