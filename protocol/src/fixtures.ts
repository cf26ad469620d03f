import { createCodecs, msgpackCodec, type RawDeflate, type WireCodec } from './codec.js';
import type { ServerMessage } from './messages.js';
import type { BookChange } from './book.js';
import type { CandleTick, ComputedTick, QuoteTick, StatsTick, Tick, TradeTick } from './ticks.js';
import { encode as encodeMsgpack } from '@msgpack/msgpack';

/**
 * Wire fixtures: recorded protocol messages (exact bytes + their meaning) that the server, the
 * TypeScript SDK and the Python SDK all test against, so they cannot drift apart.
 * `npm run docs:fixtures` writes them to docs/fixtures/wire.json (gateway/scripts/fixtures.ts, which
 * passes node:zlib as the DEFLATE); a test fails when the codecs no longer produce those bytes.
 */
export interface WireFixture {
  name: string;
  subprotocol: string;
  direction: 'server' | 'client';
  /** The frame's bytes, hex. Text frames (JSON) are UTF-8. */
  hex: string;
  /** What the frame means once decoded (for shared deflate: after inflating). */
  message: unknown;
  /** Dotted paths inside `message` whose msgpack type must be float64 even when integral. */
  floats?: string[];
  note?: string;
}

const trade: TradeTick = { ts: 1795687880463, px: 65016.25, qty: 0.0212, side: 's' };
/** Integral prices: the protocol still writes them as float64. */
const quote: QuoteTick = { ts: 1795687880465, bid: 65000, bsz: 2, ask: 65000.5, asz: 0.75 };
const EPOCH = 'mwxeck37-9529d2e5';
const candle: CandleTick = { t: 1795687860000, o: 65000, h: 65016.25, l: 64998.5, c: 65016.25, v: 1.5, q: 97512.375, n: 12, x: false };
const stats: StatsTick = {
  ts: 1795687920000,
  last: 65016.25,
  open: 64000,
  high: 65500,
  low: 63900.5,
  v: 120.5,
  q: 7812000.25,
  chg: 1016.25,
  chgPct: 1.587890625,
  n: 4321,
};
/**
 * ServerMessage types `data` with the ingested shapes (Tick), which the SDKs narrow on; the codecs
 * write computed ticks by their topic's kind all the same.
 */
const computed = (d: ComputedTick): Tick => d as unknown as Tick;

const serverMessages: { name: string; msg: ServerMessage; floats?: string[]; note?: string }[] = [
  { name: 'ack', msg: { op: 'ack', id: 1, topics: ['trade.BTC-USD', 'quote.BTC-USD'] } },
  { name: 'err-with-id', msg: { op: 'err', id: 9, code: 'bad_topic', msg: 'invalid topic name(s)', topics: ['trade.btc'] } },
  { name: 'err-without-id', msg: { op: 'err', code: 'bad_frame', msg: 'undecodable msgpack frame' } },
  {
    name: 'snap-trade',
    msg: { op: 'snap', topic: 'trade.BTC-USD', seq: 380, epoch: EPOCH, data: trade },
    floats: ['data.ts', 'data.px', 'data.qty'],
  },
  {
    name: 'snap-quote-integral-prices',
    msg: { op: 'snap', topic: 'quote.BTC-USD', seq: 70000, epoch: EPOCH, data: quote },
    floats: ['data.ts', 'data.bid', 'data.bsz', 'data.ask', 'data.asz'],
    note: 'bid 65000 and bsz 2 are float64 on the wire',
  },
  { name: 'snap-resync', msg: { op: 'snap', topic: 'quote.BTC-USD', seq: 70001, epoch: EPOCH, data: quote, resync: true } },
  {
    name: 'upd-trades',
    msg: { op: 'upd', topic: 'trade.BTC-USD', seq: 381, data: [trade, { ...trade, ts: trade.ts + 2, px: 65016.5, side: 'b' }] },
    floats: ['data.0.px', 'data.1.px'],
  },
  {
    name: 'snap-with-position',
    msg: { op: 'snap', topic: 'trade.BTC-USD', seq: 380, epoch: EPOCH, data: trade, src: 'q1w2e3r4t5y6u7i8o9p0aa/ticks/3', off: 918233 },
    note: 'Kafka source: the upstream position of the tick (resume on another instance)',
  },
  {
    name: 'upd-with-position',
    msg: { op: 'upd', topic: 'trade.BTC-USD', seq: 381, data: [trade], off: 5_000_000_000 },
    note: 'off: the upstream offset of the last tick of data (here above 2^32: uint64)',
  },
  {
    name: 'upd-throttled',
    msg: { op: 'upd', topic: 'quote.BTC-USD@100ms', seq: 70042, data: [quote] },
    note: 'throttled view: seq jumps are by design',
  },
  {
    name: 'snap-candle',
    msg: { op: 'snap', topic: 'candle.1m.BTC-USD', seq: 40, epoch: EPOCH, data: computed(candle) },
    floats: ['data.t', 'data.o', 'data.n'],
  },
  {
    name: 'upd-candle-closed',
    msg: {
      op: 'upd',
      topic: 'candle.1m.BTC-USD',
      seq: 41,
      data: [computed({ ...candle, c: 65020, h: 65020, v: 2, q: 130022.375, n: 13, x: true })],
    },
    floats: ['data.0.t', 'data.0.n'],
    note: 'the final update of a closed candle: x is true',
  },
  {
    name: 'snap-stats',
    msg: { op: 'snap', topic: 'stats.BTC-USD', seq: 9, epoch: EPOCH, data: computed(stats) },
    floats: ['data.ts', 'data.open', 'data.n'],
  },
  { name: 'hb', msg: { op: 'hb', ts: 1795687882455 } },
  { name: 'pong', msg: { op: 'pong', id: 3 } },
];

/**
 * The symbol units the fixtures' compact frames are written with (a gateway takes them from its
 * symbol directory); other symbols get the default units.
 */
export const FIXTURE_UNITS: Readonly<Record<string, { tick: number; lot: number }>> = { 'BTC-USD': { tick: 0.01, lot: 0.0001 } };

const change: BookChange = {
  ts: 1795687880470,
  b: [
    [65000, 1.5],
    [64999.5, 0],
  ],
  a: [[65000.25, 0.2]],
  cs: 3735928559,
};

/** Only for the compact subprotocol: its column forms, and the fallback to the msgpack form. */
const compactMessages: { name: string; msg: ServerMessage; floats?: string[]; note: string }[] = [
  {
    name: 'upd-quotes',
    msg: { op: 'upd', topic: 'quote.BTC-USD', seq: 70002, data: [quote, { ...quote, ts: quote.ts + 4, bid: 64999.99, ask: 65000.01 }] },
    note: 'columns: bid first then differences, ask as the spread in ticks',
  },
  {
    name: 'upd-book',
    // ServerMessage types upd data as market ticks only; a book topic's data is change sets.
    msg: { op: 'upd', topic: 'book.BTC-USD', seq: 12, data: [change, { ts: change.ts + 1, b: [], a: [[65001, 3]], cs: 42 }] as never },
    note: 'book change sets: levels as flat [px, qty, …] in units, prices after the first as differences',
  },
  {
    name: 'upd-off-grid',
    msg: { op: 'upd', topic: 'trade.BTC-USD', seq: 382, data: [trade, { ...trade, px: 65016.255 }] },
    note: '65016.255 is not a multiple of the tick 0.01: the whole frame is in the msgpack form, nothing is rounded',
  },
  {
    name: 'upd-unknown-symbol',
    msg: { op: 'upd', topic: 'trade.ETH-USD', seq: 5, data: [{ ...trade, px: 3016.25 }] },
    note: 'a symbol the directory does not know: default units 1e-8 (u = [100000000, 100000000])',
  },
];

const clientMessages: { name: string; msg: unknown }[] = [
  { name: 'sub', msg: { op: 'sub', id: 1, topics: ['trade.BTC-USD', 'quote.AAPL@100ms'] } },
  { name: 'sub-resume', msg: { op: 'sub', id: 7, topics: ['trade.BTC-USD'], since: { 'trade.BTC-USD': { epoch: EPOCH, seq: 1042 } } } },
  {
    name: 'sub-resume-with-position',
    msg: {
      op: 'sub',
      id: 8,
      topics: ['trade.BTC-USD'],
      since: { 'trade.BTC-USD': { epoch: EPOCH, seq: 1042, src: 'q1w2e3r4t5y6u7i8o9p0aa/ticks/3', off: 918233 } },
    },
  },
  { name: 'unsub', msg: { op: 'unsub', id: 2, topics: ['quote.AAPL@100ms'] } },
  { name: 'ping', msg: { op: 'ping', id: 3 } },
];

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const clientSubprotocol = (c: WireCodec) => c.subprotocol;

export function buildWireFixtures(raw: RawDeflate): WireFixture[] {
  const CODECS = createCodecs(raw, (symbol) => FIXTURE_UNITS[symbol]);
  const out: WireFixture[] = [];
  for (const codec of CODECS) {
    const compact = codec.name.startsWith('msgpack-compact');
    for (const { name, msg, floats, note } of compact ? [...serverMessages, ...compactMessages] : serverMessages) {
      out.push({
        name: `${codec.name}/server/${name}`,
        subprotocol: codec.subprotocol,
        direction: 'server',
        hex: hex(codec.encode(msg)),
        message: msg,
        // Compact frames carry market numbers as integers (the message is what they decode to).
        ...(floats && codec.binary && !compact ? { floats } : {}),
        ...(note ? { note } : {}),
      });
    }
  }
  // A batch large enough that shared deflate compresses it (flag byte 0x01).
  const big: ServerMessage = {
    op: 'upd',
    topic: 'trade.BTC-USD',
    seq: 500,
    data: Array.from({ length: 20 }, (_, i) => ({ ...trade, ts: trade.ts + i, px: 65016.25 + i / 100 })),
  };
  const deflate = CODECS.find((c) => c.derive) as WireCodec;
  out.push({
    name: `${deflate.name}/server/upd-batch-compressed`,
    subprotocol: deflate.subprotocol,
    direction: 'server',
    hex: hex(deflate.encode(big)),
    message: big,
    note: 'flag byte 0x01: raw DEFLATE of the msgpack frame',
  });
  const compact = CODECS.find((c) => c.name === 'msgpack-compact') as WireCodec;
  const compactDeflate = CODECS.find((c) => c.name === 'msgpack-compact+deflate') as WireCodec;
  for (const codec of [msgpackCodec, CODECS[1] as WireCodec, deflate, compact, compactDeflate]) {
    for (const { name, msg } of clientMessages) {
      const bytes = codec.binary ? encodeMsgpack(msg) : new TextEncoder().encode(JSON.stringify(msg));
      out.push({
        name: `${codec.name}/client/${name}`,
        subprotocol: clientSubprotocol(codec),
        direction: 'client',
        hex: hex(bytes),
        message: msg,
        ...(codec.binary && codec !== msgpackCodec ? { note: 'client frames are plain msgpack on this subprotocol too' } : {}),
      });
    }
  }
  return out;
}

export function wireFixturesJson(raw: RawDeflate): string {
  return (
    JSON.stringify(
      {
        about:
          'tickwire protocol v1 wire fixtures; generated by npm run docs:fixtures from protocol/src/fixtures.ts. See docs/protocol.md.',
        fixtures: buildWireFixtures(raw),
      },
      null,
      2,
    ) + '\n'
  );
}
