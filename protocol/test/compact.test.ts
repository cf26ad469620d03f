import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeServerFrame } from '../../client/ts/src/codec.js';
import type { DecodedMessage } from '../../client/ts/src/types.js';
import type { BookChange } from '../src/book.js';
import { createCodecs, msgpackCodec, type WireCodec } from '../src/codec.js';
import { scaleOf, toScaled } from '../src/compact-columns.js';
import type { ServerMessage } from '../src/messages.js';
import type { Payload, QuoteTick, Tick, TradeTick } from '../src/ticks.js';
import { testDeflate } from './support/codecs.js';

/**
 * `tickwire.v1.msgpack-compact`: its frames are standard msgpack, the SDK turns them back into
 * exactly what the msgpack subprotocol carries, and a value off its grid is never rounded.
 */
const UNITS: Record<string, { tick: number; lot: number }> = { 'BTC-USD': { tick: 0.01, lot: 0.0001 }, 'X-5': { tick: 5, lot: 1 } };
const codecs = createCodecs(testDeflate, (s) => UNITS[s]);
const compact = codecs.find((c) => c.name === 'msgpack-compact') as WireCodec;

const sync = (m: DecodedMessage | Promise<DecodedMessage>): DecodedMessage => m as DecodedMessage;
/** What an SDK hands over for a compact frame and for the msgpack frame of the same message. */
const viaCompact = (b: Uint8Array) => sync(decodeServerFrame('msgpack-compact', b));
const viaMsgpack = (b: Uint8Array) => sync(decodeServerFrame('msgpack', b));

const T0 = 1795687880463;
const trades: TradeTick[] = [
  { ts: T0, px: 65016.25, qty: 0.0212, side: 's' },
  { ts: T0 + 2, px: 65016.5, qty: 1.5, side: 'b' },
  { ts: T0 + 2, px: 65015.99, qty: 0.0001, side: 'b' },
];
const quotes: QuoteTick[] = [
  { ts: T0, bid: 65000, bsz: 2, ask: 65000.5, asz: 0.75 },
  { ts: T0 + 7, bid: 64999.99, bsz: 0.1, ask: 65000.01, asz: 3 },
];
const changes: BookChange[] = [
  {
    ts: T0,
    b: [
      [65000, 1.5],
      [64999.5, 0],
    ],
    a: [[65000.25, 0.2]],
    cs: 123456789,
  },
  { ts: T0 + 1, b: [], a: [[65001, 3]], cs: 42 },
];

function upd(topic: string, data: Payload[], codec: WireCodec = compact): Uint8Array {
  return codec.encode({ op: 'upd', topic, seq: 381, data: data as Tick[] });
}

/** On a grid, stated independently of the codec: a whole number of 1/scale (within ±2^52) that divides back to the value. */
const fits = (v: number, scale: number): boolean => {
  const n = Math.round(v * scale);
  return Math.abs(n) <= 2 ** 52 && n / scale === v;
};

describe('compact codec (tickwire.v1.msgpack-compact)', () => {
  it('writes a trade batch as integer columns led by the scales, in standard msgpack', () => {
    const frame = decode(upd('trade.BTC-USD', trades)) as { data: unknown };
    // [pxScale, qtyScale, ts, px, qty, side]
    expect(frame.data).toEqual([100, 10000, [T0, 2, 0], [6501625, 25, -51], [212, 15000, 1], 'sbb']);
  });

  it('writes quotes with the ask as the spread in ticks, and book change sets as flat levels', () => {
    // [pxScale, qtyScale, ts, bid, bsz, ask - bid, asz]
    const q = (decode(upd('quote.BTC-USD', quotes)) as { data: unknown }).data;
    expect(q).toEqual([100, 10000, [T0, 7], [6500000, -1], [20000, 1000], [50, 2], [7500, 30000]]);
    // [pxScale, qtyScale, ts, b, a, cs]
    const b = (decode(upd('book.BTC-USD', changes)) as { data: unknown }).data;
    const asks = [
      [6500025, 2000],
      [6500100, 30000],
    ];
    expect(b).toEqual([100, 10000, [T0, 1], [[6500000, 15000, -50, 0], []], asks, [123456789, 42]]);
  });

  it.each([
    ['trade', 'trade.BTC-USD', trades],
    ['quote', 'quote.BTC-USD@100ms', quotes],
    ['book', 'book.BTC-USD:10', changes],
    ['trade of a symbol with a tick of 5', 'trade.X-5', [{ ts: T0, px: 65005, qty: 3, side: 'b' }]],
    ['trade of an unknown symbol (default units 1e-8)', 'trade.ETH-USD', trades],
  ])('the SDK decodes a %s upd and snap to what msgpack carries', (_n, topic, data) => {
    expect(viaCompact(upd(topic, data))).toEqual(viaMsgpack(upd(topic, data, msgpackCodec)));
    const snap = { op: 'snap', topic, seq: 9, epoch: 'e', data: data[0] as Tick, resync: true, src: 's/t/0', off: 7 } as const;
    expect(viaCompact(compact.encode(snap))).toEqual(viaMsgpack(msgpackCodec.encode(snap)));
  });

  it('takes the default units (1e-8) for a symbol the directory does not know', () => {
    expect((decode(upd('trade.ETH-USD', trades)) as { data: unknown[] }).data.slice(0, 2)).toEqual([1e8, 1e8]);
  });

  it.each([
    ['a price off the tick grid', 'trade.BTC-USD', [...trades, { ts: T0 + 3, px: 65016.255, qty: 1, side: 'b' }]],
    ['a size off the lot grid', 'quote.BTC-USD', [{ ...quotes[0], bsz: 0.00015 } as QuoteTick]],
    ['a float that is a multiple of the tick only within 1e-9', 'trade.BTC-USD', [{ ts: T0, px: 0.1 * 3, qty: 1, side: 'b' }]],
    ['a fractional timestamp', 'trade.BTC-USD', [{ ts: T0 + 0.5, px: 1, qty: 1, side: 'b' }]],
    ['a book snapshot', 'book.BTC-USD', [{ ts: T0, bids: [[1, 1]], asks: [], cs: 1, tick: 0.01, lot: 0.0001 }]],
    ['a stale change set', 'book.BTC-USD', [{ ts: T0, b: [], a: [], cs: 0, stale: true }]],
    ['a free-form user event', 'user.alice.orders', [{ id: 1, px: 0.333 }]],
  ])('writes the whole frame in the msgpack form for %s, never rounding', (_n, topic, data) => {
    const bytes = upd(topic, data);
    expect(Buffer.from(bytes).equals(Buffer.from(upd(topic, data, msgpackCodec)))).toBe(true);
    expect(viaCompact(bytes)).toEqual({ op: 'upd', topic, seq: 381, data });
  });

  it('writes control messages exactly as msgpack', () => {
    for (const msg of [
      { op: 'hb', ts: T0 },
      { op: 'ack', id: 1, topics: ['trade.BTC-USD'] },
      { op: 'pong', id: 3 },
    ] as ServerMessage[])
      expect(Buffer.from(compact.encode(msg)).equals(Buffer.from(msgpackCodec.encode(msg)))).toBe(true);
  });

  it('is on the grid exactly when n / scale gives the value back', () => {
    expect(scaleOf(0.01)).toBe(100);
    expect(scaleOf(1e-8)).toBe(1e8);
    expect(scaleOf(5)).toBe(1);
    expect(toScaled(65016.25, 100)).toBe(6501625);
    expect(toScaled(0.30000000000000004, 10)).toBeNaN();
    expect(toScaled(2 ** 53, 1)).toBeNaN();
    expect(toScaled(Number.NaN, 1)).toBeNaN();
  });

  it('rejects malformed columns with a frame error', () => {
    const frame = (data: unknown) => encode({ op: 'upd', topic: 'trade.BTC-USD', seq: 1, data });
    const cols = [100, 1, [T0], [1], [1], 'b'];
    expect(() => viaCompact(frame(cols))).not.toThrow();
    const broken = (at: number, v: unknown) => cols.map((c, i) => (i === at ? v : c));
    for (const frameData of [broken(0, 0), broken(3, [1, 2]), broken(5, 'x'), broken(4, [0.5]), cols.slice(0, 5)])
      expect(() => viaCompact(frame(frameData))).toThrow(/malformed compact data/);
  });

  it('round-trips random batches on and off the grid to what msgpack carries (fuzz)', () => {
    const scale = fc.constantFrom(1, 2, 4, 10, 100, 1000, 1e8);
    // A value on a grid (an integer over the scale) or anywhere (a double that is usually off it).
    const value = (s: number) =>
      fc.oneof(
        fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n / s),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
      );
    const ts = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ min: 0, max: 2 ** 45, noNaN: true }));
    const batch = scale.chain((px) =>
      scale.chain((qty) =>
        fc.record({
          px: fc.constant(px),
          qty: fc.constant(qty),
          trades: fc.array(fc.record({ ts, px: value(px), qty: value(qty), side: fc.constantFrom('b' as const, 's' as const) }), {
            minLength: 1,
            maxLength: 40,
          }),
          quotes: fc.array(fc.record({ ts, bid: value(px), bsz: value(qty), ask: value(px), asz: value(qty) }), {
            minLength: 1,
            maxLength: 40,
          }),
        }),
      ),
    );
    fc.assert(
      fc.property(batch, (b) => {
        const units = { tick: 1 / b.px, lot: 1 / b.qty };
        const c = createCodecs(testDeflate, () => units).find((x) => x.name === 'msgpack-compact') as WireCodec;
        for (const [topic, data] of [
          ['trade.R', b.trades],
          ['quote.R', b.quotes],
        ] as const) {
          const bytes = upd(topic, data, c);
          expect(viaCompact(bytes)).toEqual(viaMsgpack(upd(topic, data, msgpackCodec)));
          // Columns exactly when every value is on its grid; otherwise the msgpack form.
          const onGrid = data.every((t) =>
            Object.entries(t).every(([k, v]) => k === 'side' || fits(v as number, k === 'ts' ? 1 : /sz|qty/.test(k) ? b.qty : b.px)),
          );
          expect(typeof (decode(bytes) as { data: unknown[] }).data[0] === 'number').toBe(onGrid);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips random book change sets on and off the grid to what msgpack carries (fuzz)', () => {
    const units = { tick: 0.01, lot: 0.001 };
    const c = createCodecs(testDeflate, () => units).find((x) => x.name === 'msgpack-compact') as WireCodec;
    const value = (s: number) =>
      fc.oneof(
        fc.integer({ min: 0, max: 2 ** 36 }).map((n) => n / s),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
      );
    const levels = fc.array(fc.tuple(value(100), value(1000)), { maxLength: 12 });
    const change = fc.record({ ts: fc.integer({ min: 0, max: 2 ** 45 }), b: levels, a: levels, cs: fc.nat({ max: 2 ** 32 - 1 }) });
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 20 }), (changes) => {
        const bytes = upd('book.R', changes, c);
        expect(viaCompact(bytes)).toEqual(viaMsgpack(upd('book.R', changes, msgpackCodec)));
        const onGrid = changes.every((ch) => [...ch.b, ...ch.a].every(([px, qty]) => fits(px, 100) && fits(qty, 1000)));
        expect(typeof (decode(bytes) as { data: unknown[] }).data[0] === 'number').toBe(onGrid);
      }),
      { numRuns: 200 },
    );
  });

  it('makes a batch of simulator-like ticks a fraction of its msgpack size', () => {
    const batch: TradeTick[] = Array.from({ length: 20 }, (_, i) => ({
      ts: T0 + i * 3,
      px: Number((65016.25 + (i % 5) / 100).toFixed(2)),
      qty: Number((0.0012 * (1 + (i % 7))).toFixed(4)),
      side: i % 3 ? 'b' : 's',
    }));
    const small = upd('trade.BTC-USD', batch).length;
    const big = upd('trade.BTC-USD', batch, msgpackCodec).length;
    expect(small).toBeLessThan(big * 0.3);
  });
});
