import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { dictionaryInflateFrame, inflateFrame, type WireCodec } from '../src/codec.js';
import { assertNever, KINDS, semanticsOf, TOPIC_KINDS, type TopicKind } from '../src/kinds.js';
import { decodeRecord } from '../src/record.js';
import { ACCEPTED_SUBPROTOCOLS, CODEC_SPECS, negotiateSubprotocol, subprotocolList } from '../src/subprotocols.js';
import type { Payload } from '../src/ticks.js';
import { parseSubscription, parseTopic, TOPIC_PATTERN } from '../src/topics.js';
import { CODECS, testDeflate } from './support/codecs.js';
import { referenceExpand } from './support/compact-reference.js';

/** One topic and payload per kind; the record type makes a kind without a sample fail to compile. */
const SAMPLES = {
  trade: { topic: 'trade.BTC-USD', payload: { ts: 1795687880463, px: 65000, qty: 0.5, side: 'b' } },
  quote: { topic: 'quote.AAPL', payload: { ts: 1795687880465, bid: 189.5, bsz: 0, ask: 190, asz: 12 } },
  book: { topic: 'book.BTC-USD:10', payload: { ts: 1795687880466, b: [[65000.5, 1.25]], a: [[65001, 0]], cs: 4294967295 } },
  candle: {
    topic: 'candle.1m.BTC-USD',
    payload: { t: 1795687860000, o: 65000, h: 65010.5, l: 64990, c: 65001, v: 2.5, q: 162502.5, n: 7, x: true },
  },
  stats: {
    topic: 'stats.BTC-USD',
    payload: {
      ts: 1795687920000,
      last: 65001,
      open: 64000,
      high: 65500,
      low: 63900,
      v: 120.5,
      q: 7.8e6,
      chg: 1001,
      chgPct: 1.5640625,
      n: 4321,
    },
  },
  user: { topic: 'user.alice.orders', payload: { id: 'o-1', state: 'filled', legs: [1, 2.5], meta: { venue: 'x' } } },
  sys: { topic: 'sys.announce', payload: { msg: 'maintenance at 03:00', level: 'info' } },
} satisfies Record<TopicKind, { topic: string; payload: Payload }>;

/** What a client sees: the frame decoded by an independent decoder (inflated for shared deflate, columns expanded for compact). */
function decoded(codec: WireCodec, frame: Uint8Array): unknown {
  if (codec.name === 'msgpack-compact+deflate') return referenceExpand(decode(dictionaryInflateFrame(frame, testDeflate)));
  const bytes = codec.derive ? inflateFrame(frame, testDeflate) : frame;
  if (codec.name === 'msgpack-compact') return referenceExpand(decode(bytes));
  return codec.binary ? decode(bytes) : JSON.parse(new TextDecoder().decode(bytes));
}

describe('the topic-kind registry', () => {
  it('lists the market kinds first, then user and sys', () => {
    expect(TOPIC_KINDS).toEqual(['trade', 'quote', 'book', 'candle', 'stats', 'user', 'sys']);
  });

  it('every kind round-trips through every codec (upd, snap and the generic encode)', () => {
    for (const kind of TOPIC_KINDS) {
      const { topic, payload } = SAMPLES[kind];
      expect(parseTopic(topic)?.kind).toBe(kind);
      for (const codec of CODECS) {
        const upd = { op: 'upd', topic, seq: 7, data: [payload, payload] };
        const snap = { op: 'snap', topic, seq: 7, epoch: 'e1', data: payload };
        expect(decoded(codec, codec.encodeUpd(topic, kind, 7, [payload, payload], 0, 2))).toEqual(upd);
        expect(decoded(codec, codec.encodeSnap(topic, kind, 7, 'e1', payload))).toEqual(snap);
        expect(decoded(codec, codec.encode(upd as never))).toEqual(upd);
      }
    }
  });

  it('writes market numbers as float64 in msgpack, free-form payloads as they are', () => {
    const msgpack = CODECS[0]!;
    // 0xcb: float64; px 65000 would be a msgpack int if the trade writer were bypassed.
    const trade = msgpack.encodeSnap('trade.X', 'trade', 1, 'e', SAMPLES.trade.payload);
    expect(Buffer.from(trade).includes(Buffer.from([0xcb, 0x40, 0xef, 0xbd, 0x00]))).toBe(true);
    const user = msgpack.encodeSnap('user.a.b', 'user', 1, 'e', { n: 2 });
    expect(decode(user)).toEqual({ op: 'snap', topic: 'user.a.b', seq: 1, epoch: 'e', data: { n: 2 } });
  });

  it('rejects an unknown kind everywhere instead of treating it as a quote', () => {
    expect(parseTopic('level3.BTC-USD')).toBeUndefined();
    expect(parseSubscription('level3.BTC-USD@100ms')).toBeUndefined();
    // The msgpack codecs pick a kind's writer by topic (JSON writes every kind as-is, so needs none).
    for (const codec of CODECS.filter((c) => c.binary)) {
      const quoteLike = { ts: 1, bid: 1, bsz: 1, ask: 1, asz: 1 };
      expect(() => codec.encode({ op: 'snap', topic: 'level3.BTC-USD', seq: 1, epoch: 'e', data: quoteLike })).toThrow(/not a topic/);
      expect(() => codec.encode({ op: 'upd', topic: 'nonsense', seq: 1, data: [quoteLike] })).toThrow(/not a topic/);
    }
    const r = decodeRecord(Buffer.from('level3.BTC-USD'), Buffer.from('{"ts":1795687880463,"bid":1,"bsz":1,"ask":2,"asz":1}'), 1024, 0);
    expect(r).toMatchObject({ reject: 'bad_key' });
  });

  it('states the snapshot and throttle semantics of every kind; only market kinds are throttleable', () => {
    for (const kind of TOPIC_KINDS) {
      const folded = kind === 'book';
      expect(semanticsOf(kind)).toEqual(folded ? { snapshot: 'fold', throttle: 'merge' } : { snapshot: 'last', throttle: 'latest' });
    }
    expect(TOPIC_KINDS.filter((k) => KINDS[k].throttleable)).toEqual(['trade', 'quote', 'book']);
    expect(TOPIC_KINDS.filter((k) => KINDS[k].market)).toEqual(['trade', 'quote', 'book', 'candle', 'stats']);
    // Computed topics are published at most once per flush (candles) or per second (stats): no views.
    expect(parseSubscription('candle.1m.X@100ms')).toBeUndefined();
    expect(parseSubscription('stats.X@1000ms')).toBeUndefined();
    expect(parseSubscription('trade.X@100ms')?.intervalMs).toBe(100);
    expect(parseSubscription('user.alice.orders@100ms')).toBeUndefined();
    expect(parseSubscription('sys.announce@100ms')).toBeUndefined();
  });

  it('validates a free-form payload that has a "reject" field as a payload, not a rejection', () => {
    const r = decodeRecord(Buffer.from('user.alice.orders'), Buffer.from('{"reject":"price","detail":"x"}'), 1024, 0);
    expect(r).toEqual({ topic: 'user.alice.orders', tick: { reject: 'price', detail: 'x' } });
  });

  it('keeps the market-topic pattern of the docs and AsyncAPI', () => {
    expect(TOPIC_PATTERN.source).toBe('^(trade|quote|book|candle\\.(?:1s|1m|5m|15m|1h|1d)|stats)\\.([A-Z0-9][A-Z0-9_-]{0,31})$');
    for (const t of ['candle.1s.BTC-USD', 'candle.1d.X', 'stats.ETH-USD', 'trade.A']) expect(TOPIC_PATTERN.test(t), t).toBe(true);
    for (const t of ['candle.2m.BTC-USD', 'candle.BTC-USD', 'candle.1m.btc', 'stats.1m.X']) expect(TOPIC_PATTERN.test(t), t).toBe(false);
  });

  it('parses candle topics with their interval; every other name of the kind is not a topic', () => {
    expect(parseTopic('candle.15m.ETH-USD')).toEqual({ kind: 'candle', symbol: 'ETH-USD', interval: '15m' });
    expect(parseTopic('stats.ETH-USD')).toEqual({ kind: 'stats', symbol: 'ETH-USD' });
    for (const t of ['candle.ETH-USD', 'candle.1w.ETH-USD', 'candle.1m.', 'candle.1m.eth', 'stats.', 'stats.1m.X']) {
      expect(parseTopic(t), t).toBeUndefined();
    }
  });

  it('rejects a record keyed with a computed kind (candle, stats) as bad_key, saying why', () => {
    for (const key of ['candle.1m.BTC-USD', 'stats.BTC-USD']) {
      const r = decodeRecord(
        Buffer.from(key),
        Buffer.from('{"t":1795687860000,"o":1,"h":1,"l":1,"c":1,"v":1,"q":1,"n":1,"x":true}'),
        1024,
        0,
      );
      expect(r).toMatchObject({ reject: 'bad_key' });
      expect((r as { detail: string }).detail).toMatch(/computed by the gateway/);
    }
  });

  it('parses exactly as the grammar patterns did before the registry', () => {
    const old = (t: string) => {
      if (t.length > 104) return undefined;
      const m = /^(trade|quote)\.([A-Z0-9][A-Z0-9_-]{0,31})$/.exec(t);
      if (m) return { kind: m[1], symbol: m[2] };
      const u = /^user\.([A-Za-z0-9_-]{1,64})\.([a-z][a-z0-9_]{0,31})$/.exec(t);
      if (u) return { kind: 'user', symbol: u[1], stream: u[2] };
      return t === 'sys.announce' ? { kind: 'sys', symbol: 'announce' } : undefined;
    };
    const names = [
      'trade.A',
      'quote.BTC-USD',
      'trade.btc',
      'trade.',
      'trade',
      '.A',
      'trade..A',
      'trade.A.B',
      'quote.A_',
      'quote._A',
      `trade.${'A'.repeat(32)}`,
      `trade.${'A'.repeat(33)}`,
      'user.alice.orders',
      'user.alice',
      'user.a.b.c',
      'user.Al-ce_9.fills_2',
      'user.alice.Orders',
      `user.${'a'.repeat(64)}.${'s'.repeat(32)}`,
      `user.${'a'.repeat(65)}.s`,
      'sys.announce',
      'sys.other',
      'sys.',
      'sys',
      'constructor.A',
      'toString.A',
      '__proto__.A',
      'hasOwnProperty.x',
      'Trade.A',
      'trade.A ',
      ' trade.A',
      'trade.A\n',
    ];
    for (const t of names) expect(parseTopic(t), t).toEqual(old(t));
  });
});

describe('codecs and subprotocols', () => {
  it('codec ids are positions in CODEC_SPECS and in the codec list', () => {
    expect(CODECS.map((c) => c.id)).toEqual(CODEC_SPECS.map((_, i) => i));
    expect(CODECS.map((c) => c.name)).toEqual(CODEC_SPECS.map((s) => s.name));
    CODECS.forEach((c, i) => expect(c.binary).toBe(CODEC_SPECS[i]!.binary));
  });

  it('the accepted subprotocols are derived from the codec list', () => {
    expect(ACCEPTED_SUBPROTOCOLS).toEqual(CODECS.map((c) => c.subprotocol));
    expect(subprotocolList()).toBe(
      [
        'tickwire.v1.msgpack, tickwire.v1.json, tickwire.v1.msgpack+deflate, tickwire.v1.msgpack-compact',
        'or tickwire.v1.msgpack-compact+deflate.d1',
      ].join(' '),
    );
    for (const [i, p] of ACCEPTED_SUBPROTOCOLS.entries()) expect(negotiateSubprotocol(`x, ${p}`)).toBe(i);
    expect(negotiateSubprotocol('')).toBe(CODEC_SPECS.findIndex((c) => c.name === 'json'));
    expect(negotiateSubprotocol('x, y')).toBeUndefined();
  });

  it('assertNever throws on what the compiler could not rule out', () => {
    expect(() => assertNever('level3' as never, 'kind')).toThrow('unexpected kind: "level3"');
  });
});

// Compile-time: a table over kinds that misses one does not compile.
// @ts-expect-error -- 'sys' is missing
export const missingKind = { trade: 1, quote: 2, user: 3 } satisfies Record<TopicKind, number>;
