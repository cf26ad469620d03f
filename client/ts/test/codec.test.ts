import { decode, encode } from '@msgpack/msgpack';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeServerFrame,
  encodeClientMessage,
  FrameError,
  formatOfSubprotocol,
  inflateRawStream,
  offeredSubprotocols,
  parseServerMessage,
  SUBPROTOCOLS,
} from '../src/codec.js';
import type { DecodedMessage } from '../src/types.js';

const snap = {
  op: 'snap',
  topic: 'quote.BTC-USD',
  seq: 1042,
  epoch: 'mwxe76qx-3da31519',
  data: { ts: 1795687880463, bid: 64999.5, bsz: 0.75, ask: 65000, asz: 1.2 },
};
const upd = {
  op: 'upd',
  topic: 'trade.BTC-USD',
  seq: 7,
  data: [
    { ts: 1, px: 65000.5, qty: 0.25, side: 'b' },
    { ts: 2, px: 65001, qty: 1, side: 's' },
  ],
};

/** An ArrayBuffer holding exactly `u`, as a browser or `ws` with binaryType "arraybuffer" delivers it. */
const ab = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
const flag = (f: number, body: Uint8Array) => ab(Buffer.concat([Buffer.from([f]), body]));

describe('client → server encoding', () => {
  const sub = { op: 'sub' as const, id: 7, topics: ['trade.BTC-USD'], since: { 'trade.BTC-USD': { epoch: 'e1', seq: 1042 } } };

  it('msgpack, msgpack+deflate, msgpack-compact and msgpack-compact+deflate: plain msgpack bytes (no flag byte)', () => {
    for (const f of ['msgpack', 'msgpack+deflate', 'msgpack-compact', 'msgpack-compact+deflate'] as const) {
      const out = encodeClientMessage(f, sub);
      expect(out).toBeInstanceOf(Uint8Array);
      expect(decode(out as Uint8Array)).toEqual(sub);
      expect((out as Uint8Array)[0]).toBe(0x84); // fixmap of 4 entries, not a flag byte
    }
  });

  it('json: a JSON text frame', () => {
    const out = encodeClientMessage('json', { op: 'ping', id: -3 });
    expect(typeof out).toBe('string');
    expect(JSON.parse(out as string)).toEqual({ op: 'ping', id: -3 });
  });
});

describe('subprotocols', () => {
  it('offers the format, and plain msgpack as the fallback of msgpack+deflate', () => {
    expect(offeredSubprotocols('msgpack')).toEqual(['tickwire.v1.msgpack']);
    expect(offeredSubprotocols('json')).toEqual(['tickwire.v1.json']);
    expect(offeredSubprotocols('msgpack+deflate')).toEqual(['tickwire.v1.msgpack+deflate', 'tickwire.v1.msgpack']);
    expect(offeredSubprotocols('msgpack-compact')).toEqual(['tickwire.v1.msgpack-compact', 'tickwire.v1.msgpack']);
    expect(offeredSubprotocols('msgpack-compact+deflate')).toEqual([
      'tickwire.v1.msgpack-compact+deflate.d1',
      'tickwire.v1.msgpack-compact',
      'tickwire.v1.msgpack',
    ]);
  });
  it('maps a negotiated subprotocol back to its format ("" is the msgpack default)', () => {
    for (const [f, p] of Object.entries(SUBPROTOCOLS)) expect(formatOfSubprotocol(p)).toBe(f);
    expect(formatOfSubprotocol('')).toBe('msgpack');
    expect(formatOfSubprotocol('tickwire.v2.cbor')).toBeUndefined();
  });
});

describe('server → client decoding', () => {
  it('msgpack: ArrayBuffer and typed-array views (with an offset) decode alike', () => {
    const bytes = encode(upd);
    expect(decodeServerFrame('msgpack', ab(bytes))).toEqual(upd);
    const padded = Buffer.concat([Buffer.from([9, 9, 9]), bytes]).subarray(3);
    expect(padded.byteOffset).toBeGreaterThan(0);
    expect(decodeServerFrame('msgpack', padded)).toEqual(upd);
  });

  it('json: text frames', () => {
    expect(decodeServerFrame('json', JSON.stringify(snap))).toEqual(snap);
  });

  it('msgpack+deflate: 0x00 decodes synchronously, 0x01 is raw DEFLATE (via DecompressionStream)', async () => {
    const plain = decodeServerFrame('msgpack+deflate', flag(0x00, encode(snap)));
    expect(plain).toEqual(snap); // not a promise
    const compressed = decodeServerFrame('msgpack+deflate', flag(0x01, deflateRawSync(encode(upd))));
    expect(compressed).toBeInstanceOf(Promise);
    expect(await compressed).toEqual(upd);
  });

  it('msgpack+deflate with an injected synchronous inflater (e.g. zlib.inflateRawSync) stays synchronous', () => {
    const r = decodeServerFrame('msgpack+deflate', flag(0x01, deflateRawSync(encode(upd))), (b) => inflateRawSync(b));
    expect(r).toEqual(upd);
  });

  it('inflateRawStream inflates large, multi-chunk payloads', async () => {
    const big = Buffer.alloc(1_000_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const out = await inflateRawStream(deflateRawSync(big));
    expect(Buffer.from(out).equals(big)).toBe(true);
  });

  it('rejects frames that break the framing', async () => {
    expect(() => decodeServerFrame('msgpack', JSON.stringify(snap))).toThrow(FrameError); // text on msgpack
    expect(() => decodeServerFrame('json', ab(encode(snap)))).toThrow(/binary frame on a JSON/);
    expect(() => decodeServerFrame('json', '{"op":')).toThrow(/invalid JSON/);
    expect(() => decodeServerFrame('msgpack', ab(new Uint8Array([0xc1])))).toThrow(/invalid msgpack/);
    expect(() => decodeServerFrame('msgpack+deflate', new ArrayBuffer(0))).toThrow(/flag byte/);
    expect(() => decodeServerFrame('msgpack+deflate', flag(0x02, encode(snap)))).toThrow(/unknown flag byte 0x02/);
    // msgpack on msgpack+deflate without the flag byte: 0x85 is not a flag.
    expect(() => decodeServerFrame('msgpack+deflate', ab(encode(snap)))).toThrow(/unknown flag byte 0x85/);
    await expect(decodeServerFrame('msgpack+deflate', flag(0x01, Buffer.from('not deflate data at all')))).rejects.toThrow(FrameError);
  });
});

describe('message validation', () => {
  it('accepts every v1 server message and keeps optional fields', () => {
    const msgs: DecodedMessage[] = [
      { op: 'ack', id: 1, topics: ['trade.BTC-USD'] },
      { op: 'err', id: 9, code: 'bad_topic', msg: 'invalid', topics: ['trade.btc'] },
      { op: 'err', code: 'bad_frame', msg: 'x' },
      { op: 'snap', topic: 'quote.BTC-USD', seq: 1, epoch: 'e', data: snap.data, resync: true },
      snap as DecodedMessage,
      upd as DecodedMessage,
      { op: 'hb', ts: 1795687882455 },
      { op: 'pong', id: -5 },
    ];
    for (const m of msgs) expect(parseServerMessage(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it('passes unknown ops through as "unknown" (forward compatibility)', () => {
    expect(parseServerMessage({ op: 'notice', text: 'hi' })).toEqual({
      op: 'unknown',
      serverOp: 'notice',
      raw: { op: 'notice', text: 'hi' },
    });
  });

  it.each([
    ['not a map', [1, 2]],
    ['no op', { topic: 'x' }],
    ['upd without seq', { op: 'upd', topic: 't', data: [{}] }],
    ['upd with a float seq', { op: 'upd', topic: 't', seq: 1.5, data: [{}] }],
    ['upd with empty data', { op: 'upd', topic: 't', seq: 1, data: [] }],
    ['upd with a non-map tick', { op: 'upd', topic: 't', seq: 1, data: [3] }],
    ['snap without epoch', { op: 'snap', topic: 't', seq: 1, data: {} }],
    ['snap with a non-boolean resync', { op: 'snap', topic: 't', seq: 1, epoch: 'e', data: {}, resync: 1 }],
    ['ack without topics', { op: 'ack', id: 1 }],
    ['pong without id', { op: 'pong' }],
    ['err without code', { op: 'err', msg: 'x' }],
    ['hb without ts', { op: 'hb' }],
  ])('rejects %s', (_name, value) => {
    expect(() => parseServerMessage(value)).toThrow(FrameError);
  });
});
