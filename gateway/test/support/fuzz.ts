import { decode, Decoder, Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { inflateRawSync } from 'node:zlib';
import WebSocket from 'ws';
import type { Msg } from './client.js';

/**
 * Protocol fuzzing support: client frames generated with fast-check, each paired with what the
 * protocol (docs/protocol.md) says the gateway must answer, and a raw connection that separates
 * replies (ack/err/pong) from stream data (snap/upd/hb).
 *
 * The expectations are written from the documentation, not from the gateway's code: for a frame
 * whose decoded value is known (every JSON frame; structured msgpack frames), the exact answer
 * (error code, id, listed topics) is predicted; for raw bytes and mutations only the shape of a
 * legal answer is checked.
 */

export type Format = 'msgpack' | 'json' | 'msgpack+deflate';
export const SUBPROTOCOL: Record<Format, string> = {
  msgpack: 'tickwire.v1.msgpack',
  json: 'tickwire.v1.json',
  'msgpack+deflate': 'tickwire.v1.msgpack+deflate',
};
const STREAM_OPS = new Set(['snap', 'upd', 'hb', 'shutdown']);

/** A WebSocket that keeps replies and counts stream frames; every server frame must decode. */
export class FuzzConn {
  readonly replies: Msg[] = [];
  streamFrames = 0;
  closed: { code: number; reason: string } | undefined;
  /** Server frames that were not decodable protocol messages (must stay empty). */
  readonly violations: string[] = [];
  private waiter: (() => void) | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly format: Format,
  ) {
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      let m: Msg;
      try {
        if (isBinary !== (format !== 'json')) throw new Error(`${isBinary ? 'binary' : 'text'} frame on ${format}`);
        let data = raw;
        if (format === 'msgpack+deflate') {
          if (data[0] === 0x01) data = inflateRawSync(data.subarray(1));
          else if (data[0] === 0x00) data = data.subarray(1);
          else throw new Error(`bad shared-deflate flag byte ${data[0]}`);
        }
        m = (isBinary ? decode(data) : JSON.parse(data.toString('utf8'))) as Msg;
        if (typeof m !== 'object' || m === null || Array.isArray(m) || typeof m.op !== 'string')
          throw new Error('not a map with a string op');
      } catch (e) {
        this.violations.push(`undecodable server frame: ${(e as Error).message}`);
        return;
      }
      if (STREAM_OPS.has(m.op)) this.streamFrames++;
      else this.replies.push(m);
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    // An abrupt cut is reported through 'close' (1006); without a listener 'error' would throw.
    ws.on('error', () => undefined);
  }

  static open(port: number, format: Format): Promise<FuzzConn> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`, [SUBPROTOCOL[format]], { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new FuzzConn(ws, format)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} at the upgrade`)));
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Resolves true once `cond` holds (checked after every frame and on close), false on timeout. */
  async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return true;
  }

  send(data: Uint8Array | string, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  close(): void {
    this.ws.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Expectations (from docs/protocol.md)

export type Outcome =
  | { t: 'pong'; id: number }
  /** One err with one of `codes`; `id` when the request had a usable one (docs: "id is present when..."). */
  | { t: 'err'; codes: readonly string[]; id: number | undefined }
  /** A sub/unsub that passed validation: topic errors (bad_topic, forbidden, too_many_subscriptions, too_many_waiting) and/or an ack. */
  | { t: 'sub' | 'unsub'; id: number; topics: readonly string[] };

/** `any`: a legal answer of some kind; `one`: one of the listed outcomes. */
export type Expect = { t: 'any' } | { t: 'one'; of: readonly Outcome[] };

export interface Frame {
  category: string;
  data: Uint8Array | string;
  binary: boolean;
  expect: Expect;
  /** Frames that end the connection; always sent last in a window. */
  terminal?: 'oversize' | 'bad_utf8_text';
}

const MARKET = /^(trade|quote)\.[A-Z0-9][A-Z0-9_-]{0,31}$/;
const USER = /^user\.[A-Za-z0-9_-]{1,64}\.[a-z][a-z0-9_]{0,31}$/;
const THROTTLES = ['100ms', '250ms', '500ms', '1000ms'];
/** The topic grammar of docs/protocol.md ("Topics", "Throttled subscriptions", "Private channels"). */
export function validTopic(t: string): boolean {
  if (t.length > 104) return false;
  const at = t.indexOf('@');
  if (at !== -1) return MARKET.test(t.slice(0, at)) && THROTTLES.includes(t.slice(at + 1));
  return MARKET.test(t) || USER.test(t) || t === 'sys.announce';
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * What the protocol requires as the answer to a frame that decodes to `v`. Where the document
 * leaves the precedence of two errors open (an unknown op and a bad id), every applicable code is
 * accepted.
 */
export function expectFor(v: unknown, maxTopics: number): Outcome[] {
  if (!isMap(v) || v instanceof Date) return [{ t: 'err', codes: ['bad_frame'], id: undefined }];
  const rawId = hasOwn(v, 'id') ? v.id : undefined;
  const id = typeof rawId === 'number' && Number.isSafeInteger(rawId) ? rawId : undefined;
  const op = hasOwn(v, 'op') ? v.op : undefined;
  if (op !== 'sub' && op !== 'unsub' && op !== 'ping') {
    return [
      {
        t: 'err',
        codes: typeof op === 'string' ? (id === undefined ? ['unknown_op', 'bad_request'] : ['unknown_op']) : ['bad_request'],
        id,
      },
    ];
  }
  if (op === 'ping') return id === undefined ? [{ t: 'err', codes: ['bad_request'], id }] : [{ t: 'pong', id }];
  const codes: string[] = [];
  if (id === undefined) codes.push('bad_request');
  const topics = hasOwn(v, 'topics') ? v.topics : undefined;
  if (!Array.isArray(topics) || topics.length === 0) codes.push('bad_request');
  else {
    if (topics.length > maxTopics) codes.push('too_many_topics');
    if (!topics.every((t) => typeof t === 'string')) codes.push('bad_request');
  }
  let sinceLenient = false;
  if (op === 'sub' && hasOwn(v, 'since') && v.since !== null && v.since !== undefined && Array.isArray(topics)) {
    const s = v.since;
    if (!isMap(s)) codes.push('bad_request');
    else if (s instanceof Date)
      sinceLenient = true; // a timestamp is not a map, but it has no topic keys either
    else
      for (const t of topics) {
        if (typeof t !== 'string' || !hasOwn(s, t)) continue;
        const e = s[t] as Record<string, unknown> | null;
        if (!isMap(e) || typeof e.epoch !== 'string' || typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq))
          codes.push('bad_request');
        // "seq: integer": the document does not say whether a negative one is malformed.
        else if (e.seq < 0) sinceLenient = true;
      }
  }
  if (codes.length) return [{ t: 'err', codes: [...new Set(codes)], id }];
  const ok: Outcome = { t: op, id: id as number, topics: topics as string[] };
  return sinceLenient ? [ok, { t: 'err', codes: ['bad_request'], id }] : [ok];
}

const TOPIC_ERRORS = new Set(['bad_topic', 'forbidden', 'unknown_symbol', 'too_many_subscriptions', 'too_many_waiting']);
/**
 * The fuzzed gateway runs the embedded feed, whose symbols are its directory: a market topic (or
 * view) of another symbol gets unknown_symbol, possibly split over several errs (one per suggestion).
 */
const unknownSymbol = (t: string): boolean => {
  const m = /^(?:trade|quote)\.([^@]*)/.exec(t);
  return m !== null && !FEED_SYMBOLS.includes(m[1]!);
};
/** Compares topic names as the server echoes them: cut to 104 units, re-encoded, U+FFFD runs merged. */
const norm = (s: string) =>
  Buffer.from(s.slice(0, 104))
    .toString('utf8')
    .replace(/\uFFFD+/g, '\uFFFD');
const sameSet = (a: readonly string[], b: readonly string[]) => {
  const x = [...new Set(a.map(norm))].sort();
  const y = [...new Set(b.map(norm))].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};
const isTopicList = (t: unknown): t is string[] => Array.isArray(t) && t.length > 0 && t.every((s) => typeof s === 'string');

/**
 * Checks the replies to one frame. Returns a description of the violation, or undefined.
 * `errorCodes` is the error table (ERROR_CODES).
 */
export function checkAnswer(group: readonly Msg[], expect: Expect, errorCodes: ReadonlySet<string>): string | undefined {
  if (group.length === 0) return 'no answer';
  for (const m of group) {
    if (m.op !== 'err' && m.op !== 'ack' && m.op !== 'pong') return `unexpected ${m.op}`;
    if (m.op === 'err' && (!errorCodes.has(m.code) || typeof m.msg !== 'string'))
      return `err with code ${JSON.stringify(m.code)} outside the error table`;
  }
  // Shape: one pong, or one err, or topic errors and/or one ack (ack last), all with one id.
  const shape = (() => {
    if (group.length === 1 && group[0]!.op === 'pong') return Number.isSafeInteger(group[0]!.id) ? undefined : 'pong without an integer id';
    if (group.length === 1 && group[0]!.op === 'err' && !TOPIC_ERRORS.has(group[0]!.code)) return undefined;
    const id = group[0]!.id;
    if (!Number.isSafeInteger(id)) return 'a topic answer without an integer id';
    for (const [i, m] of group.entries()) {
      if (m.id !== id) return 'replies to one frame carry different ids';
      if (m.op === 'pong') return 'pong mixed with other replies';
      if (m.op === 'ack' && i !== group.length - 1) return 'ack not last';
      if (m.op === 'ack' && !isTopicList(m.topics)) return 'ack without topics';
      if (m.op === 'err' && (!TOPIC_ERRORS.has(m.code) || !isTopicList(m.topics))) return `err ${m.code} among topic replies`;
    }
    return undefined;
  })();
  if (shape) return shape;
  if (expect.t === 'any') return undefined;
  const misses = expect.of.map((o) => matches(group, o));
  if (misses.some((x) => x === undefined)) return undefined;
  return misses.join(' / ');
}

function matches(group: readonly Msg[], o: Outcome): string | undefined {
  const first = group[0]!;
  switch (o.t) {
    case 'pong':
      return group.length === 1 && first.op === 'pong' && first.id === o.id ? undefined : `expected pong ${o.id}`;
    case 'err': {
      if (group.length !== 1 || first.op !== 'err' || !o.codes.includes(first.code)) return `expected err ${o.codes.join('|')}`;
      if (o.id === undefined ? first.id !== undefined : first.id !== o.id)
        return `expected err ${first.code} with id ${o.id}, got id ${first.id}`;
      return undefined;
    }
    case 'sub':
    case 'unsub': {
      const bad = o.topics.filter((t) => !validTopic(t));
      const good = [...new Set(o.topics.filter(validTopic))];
      // authMode none: no sub, so every private channel is forbidden (docs: "Private channels").
      const forbidden = o.t === 'sub' ? good.filter((t) => t.startsWith('user.')) : [];
      const allowed = good.filter((t) => !forbidden.includes(t));
      const unknown = o.t === 'sub' ? allowed.filter(unknownSymbol) : [];
      const known = allowed.filter((t) => !unknown.includes(t));
      const unknownListed = group.filter((m) => m.op === 'err' && m.code === 'unknown_symbol').flatMap((m) => m.topics as string[]);
      const errs = group.filter((m) => m.op === 'err' && m.code !== 'unknown_symbol');
      const ack = group.find((m) => m.op === 'ack');
      if (group.some((m) => m.id !== o.id)) return `expected id ${o.id}`;
      const byCode = new Map(errs.map((m) => [m.code as string, m.topics as string[]]));
      if (byCode.size !== errs.length) return 'the same topic error twice';
      if (bad.length ? !byCode.has('bad_topic') || !sameSet(byCode.get('bad_topic')!, bad) : byCode.has('bad_topic'))
        return `bad_topic should list ${JSON.stringify(bad.map(norm))}`;
      if (forbidden.length ? !byCode.has('forbidden') || !sameSet(byCode.get('forbidden')!, forbidden) : byCode.has('forbidden'))
        return `forbidden should list ${JSON.stringify(forbidden)}`;
      if (!sameSet(unknownListed, unknown) || unknownListed.length !== new Set(unknownListed).size) {
        return `unknown_symbol should list ${JSON.stringify(unknown.map(norm))}`;
      }
      // Refused by a limit: too many subscriptions, or too many waiting for topics without data.
      const over = [...(byCode.get('too_many_subscriptions') ?? []), ...(byCode.get('too_many_waiting') ?? [])];
      if (o.t === 'unsub' && over.length) return 'too_many_subscriptions or too_many_waiting on unsub';
      const acked: string[] = ack ? ack.topics : [];
      if (!sameSet([...acked, ...over], known)) {
        return `ack + too_many_subscriptions + too_many_waiting should cover ${JSON.stringify(known)}`;
      }
      if (acked.some((t) => over.includes(t))) return 'a topic both acked and refused';
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Frame generators

const ABSENT = Symbol('absent');
type Field = unknown;

const FEED_SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'];
export const FEED_TOPICS = FEED_SYMBOLS.flatMap((s) => [`trade.${s}`, `quote.${s}`]);

const loneSurrogates = fc
  .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 4 })
  .map((a) => 'x' + String.fromCharCode(...a) + 'y');
const safeKey = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__' && k !== 'op' && k !== 'id' && k !== 'topics' && k !== 'since');

const weirdScalar: fc.Arbitrary<Field> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    -0,
    NaN,
    Infinity,
    -Infinity,
    2 ** 53,
    -(2 ** 53),
    2 ** 53 + 2,
    2 ** 64,
    1.5,
    -1.5,
    0.1,
    1e-300,
    Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    -1,
  ),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  loneSurrogates,
  fc.constantFrom('sub', 'unsub', 'ping', 'SUB', 'Ping', 'pong', 'ack', 'err', 'sub ', ' ping', 'ping\u0000', 'pi\u0301ng', ''),
  fc.uint8Array({ maxLength: 16 }),
);
const weird: fc.Arbitrary<Field> = fc.oneof(
  { weight: 6, arbitrary: weirdScalar },
  { weight: 1, arbitrary: fc.array(weirdScalar, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.dictionary(safeKey, weirdScalar, { maxKeys: 4 }) },
);

export interface GenOptions {
  epoch: string;
  maxTopics: number;
  maxPayload: number;
}

function topicArbs(o: GenOptions) {
  const feed = fc.constantFrom(...FEED_TOPICS);
  const validTopicArb = fc.oneof(
    { weight: 1, arbitrary: feed },
    { weight: 2, arbitrary: fc.tuple(feed, fc.constantFrom(...THROTTLES)).map(([t, s]) => `${t}@${s}`) },
    { weight: 3, arbitrary: fc.stringMatching(/^(trade|quote)\.[A-Z0-9][A-Z0-9_-]{0,31}$/) },
    { weight: 1, arbitrary: fc.constantFrom('user.alice.orders', 'user.bob-1.fills', 'sys.announce') },
  );
  const invalidTopicArb = fc.oneof(
    fc.constantFrom(
      'trade.btc-usd',
      'trade.',
      'quote.BTC-USD@7ms',
      'trade.BTC-USD@',
      'TRADE.X',
      'trade.BTC USD',
      `trade.${'A'.repeat(33)}`,
      'user.a.B',
      'user..orders',
      'sys.other',
      '',
      ' trade.X',
      'trade.X\n',
      'trade.X@100ms@100ms',
      'user.alice.orders@100ms',
      'sys.announce@100ms',
      'trade.-X',
      'trade.Ä',
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    loneSurrogates,
    fc.string({ minLength: 105, maxLength: 400 }),
  );
  const topicArb = fc.oneof({ weight: 4, arbitrary: validTopicArb }, { weight: 1, arbitrary: invalidTopicArb });
  const validTopics = fc.array(validTopicArb, { minLength: 1, maxLength: 6 });
  const mixedTopics = fc.array(topicArb, { minLength: 1, maxLength: 10 });
  const since = (topics: fc.Arbitrary<string[]>) =>
    topics.chain((ts) =>
      fc
        .array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...ts), fc.string({ maxLength: 10 })),
            fc.oneof(
              {
                weight: 4,
                arbitrary: fc.record({
                  epoch: fc.oneof(fc.constant(o.epoch), fc.string({ maxLength: 12 })),
                  seq: fc.oneof(fc.nat({ max: 100_000 }), fc.constant(0), fc.maxSafeInteger()),
                }),
              },
              { weight: 1, arbitrary: fc.record({ epoch: weird, seq: weird }, { requiredKeys: [] }) },
              { weight: 1, arbitrary: weird },
            ),
          ),
          { maxLength: 4 },
        )
        .map((entries) => Object.fromEntries(entries.filter(([k]) => k !== '__proto__')) as Field),
    );
  return { validTopicArb, invalidTopicArb, topicArb, validTopics, mixedTopics, since };
}

/** `{op, id, topics, since}` with every field valid, wrong-typed or absent, plus unknown extra fields. */
function messageArbs(o: GenOptions) {
  const T = topicArbs(o);
  const validId = fc.oneof(
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.constantFrom(0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -1),
  );
  const field = (valid: fc.Arbitrary<Field>, w = 6) =>
    fc.oneof({ weight: w, arbitrary: valid }, { weight: 2, arbitrary: weird }, { weight: 1, arbitrary: fc.constant<Field>(ABSENT) });
  const topicsField = fc.oneof(
    { weight: 6, arbitrary: T.mixedTopics },
    { weight: 2, arbitrary: weird },
    { weight: 1, arbitrary: fc.constant<Field>([]) },
    { weight: 1, arbitrary: fc.array(fc.oneof(T.topicArb as fc.Arbitrary<Field>, weirdScalar), { minLength: 1, maxLength: 6 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: o.maxTopics - 2, max: o.maxTopics + 40 }).map((n) => Array.from({ length: n }, (_, i) => `trade.F${i}`)),
    },
    { weight: 1, arbitrary: fc.constant<Field>(ABSENT) },
  );
  const sinceField = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Field>(ABSENT) },
    { weight: 3, arbitrary: T.since(T.validTopics) },
    { weight: 1, arbitrary: weird },
  );
  const extra = fc.dictionary(safeKey, weird, { maxKeys: 3 });
  const structured = fc
    .record({ op: field(fc.constantFrom('sub', 'unsub', 'ping')), id: field(validId), topics: topicsField, since: sinceField, extra })
    .map(({ extra, ...f }) => strip({ ...extra, ...f }));
  const valid = fc
    .oneof(
      fc.record({ op: fc.constant('ping'), id: validId }),
      fc.record({ op: fc.constantFrom('sub', 'unsub'), id: validId, topics: T.validTopics }),
      T.validTopics.chain((topics) =>
        fc.record({ op: fc.constant('sub'), id: validId, topics: fc.constant(topics), since: T.since(fc.constant(topics)) }),
      ),
    )
    .map((v) => v as Record<string, unknown>);
  return { structured, valid, validId, T };
}

function strip(v: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(v)) if (v[k] === ABSENT) delete v[k];
  return v;
}

const encoder = new Encoder({ useBigInt64: true });
const decoder = new Decoder({ useBigInt64: false });
const enc = (v: unknown) => {
  const u = encoder.encode(v);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
};
/** What a standard msgpack decoder reads back: the value the gateway sees. */
const mpView = (b: Uint8Array) => decoder.decode(b);

/** JSON text, with bigints written as plain numeric literals. */
export function toJson(v: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') {
      marks.push(x.toString());
      return `\u0000BIG${marks.length - 1}\u0000`;
    }
    if (x instanceof Uint8Array) return Array.from(x);
    return x;
  });
  return text.replace(/"\\u0000BIG(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)] as string);
}

/** The answer to a JSON text frame: JSON.parse of what goes on the wire (ws sends lone surrogates as U+FFFD). */
const jsonExpect = (text: string, maxTopics: number): Expect => {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'utf8').toString('utf8'));
  } catch {
    return { t: 'one', of: [{ t: 'err', codes: ['bad_frame'], id: undefined }] };
  }
  return { t: 'one', of: expectFor(v, maxTopics) };
};

// Byte-level mutations of an encoded valid message.
const mutation = fc.oneof(
  fc.record({ t: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ t: fc.constant('set' as const), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ t: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ t: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ t: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ t: fc.constant('dup' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(src: Buffer, muts: Mutation[], ascii: boolean): Buffer {
  let b = Buffer.from(src);
  const fix = (x: Uint8Array) => (ascii ? Uint8Array.from(x, (c) => c & 0x7f) : x);
  for (const m of muts) {
    const pos = b.length ? (m.t === 'append' ? 0 : 'pos' in m ? m.pos % (b.length + 1) : 0) : 0;
    switch (m.t) {
      case 'flip':
        if (pos < b.length) b[pos] = (b[pos]! ^ (1 << (ascii ? m.bit % 7 : m.bit))) & (ascii ? 0x7f : 0xff);
        break;
      case 'set':
        if (pos < b.length) b[pos] = ascii ? m.byte & 0x7f : m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, pos);
        break;
      case 'append':
        b = Buffer.concat([b, fix(m.bytes)]);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), fix(m.bytes), b.subarray(pos)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + m.len)]);
        break;
      case 'dup':
        b = Buffer.concat([b.subarray(0, pos + m.len), b.subarray(pos)]);
        break;
    }
  }
  return b;
}

// Raw msgpack pieces: extension types and strings with invalid UTF-8.
const EXT_TYPES = [0x00, 0x01, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0x7f, 0x80, 0xfe, 0xff];
const extArb = fc
  .record({
    fmt: fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9),
    type: fc.oneof(fc.constantFrom(...EXT_TYPES), fc.integer({ min: 0, max: 255 })),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      weirdScalar.map((v) => enc(v)),
      fc.constant(enc(['Error', 'boom'])),
      fc.constant(enc(['(a+)+$', 'g'])),
    ),
    lenDelta: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -4, max: 4 }) }),
  })
  .map(({ fmt, type, data, lenDelta }) => {
    const fixed = { 0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16 } as Record<number, number>;
    if (fixed[fmt]) {
      const n = fixed[fmt];
      const body = Buffer.alloc(n);
      Buffer.from(data).copy(body, 0, 0, n);
      return Buffer.concat([Buffer.from([fmt, type]), body.subarray(0, Math.max(0, n + Math.min(0, lenDelta)))]);
    }
    const len = Math.max(0, data.length + lenDelta);
    const head =
      fmt === 0xc7
        ? Buffer.from([fmt, len & 0xff])
        : fmt === 0xc8
          ? Buffer.from([fmt, (len >> 8) & 0xff, len & 0xff])
          : Buffer.from([fmt, 0, 0, (len >> 8) & 0xff, len & 0xff]);
    return Buffer.concat([head, Buffer.from([type]), Buffer.from(data)]);
  });

const BAD_UTF8: number[][] = [
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0x81],
  [0xc1, 0xb0],
  [0xe0, 0x81, 0x81],
  [0xe0, 0x80, 0xaf],
  [0xf0, 0x80, 0x81, 0x81],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xc3],
];
const strHeader = (n: number, fmt: number) =>
  fmt === 0 && n < 32
    ? Buffer.from([0xa0 | n])
    : fmt <= 1 && n < 256
      ? Buffer.from([0xd9, n])
      : fmt <= 2 && n < 65536
        ? Buffer.from([0xda, n >> 8, n & 0xff])
        : Buffer.from([0xdb, 0, 0, n >> 8, n & 0xff]);
/** A msgpack str whose bytes are `text` with invalid UTF-8 sequences inserted (or overlong forms of its letters). */
const badStrArb = (texts: fc.Arbitrary<string>) =>
  fc
    .record({
      text: texts,
      inserts: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...BAD_UTF8)), { minLength: 1, maxLength: 3 }),
      overlong: fc.boolean(),
      fmt: fc.integer({ min: 0, max: 3 }),
    })
    .map(({ text, inserts, overlong, fmt }) => {
      let bytes = [...Buffer.from(text)];
      // "ping" with 2-byte overlong letters
      if (overlong) bytes = bytes.flatMap((c) => (c < 0x80 && c >= 0x40 ? [0xc0 | (c >> 6), 0x80 | (c & 0x3f)] : [c]));
      for (const [pos, seq] of inserts) bytes.splice(pos % (bytes.length + 1), 0, ...seq);
      const raw = Buffer.from(bytes);
      return { bytes: Buffer.concat([strHeader(raw.length, fmt), raw]), view: new TextDecoder('utf-8').decode(raw) };
    });
const mapHeader = (n: number) => (n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff]));
const arrHeader = (n: number) => (n < 16 ? Buffer.from([0x90 | n]) : Buffer.from([0xdc, n >> 8, n & 0xff]));

/** Generators of one frame for a connection of `format`. */
export function frameArb(format: Format, o: GenOptions): fc.Arbitrary<Frame> {
  const M = messageArbs(o);
  const T = M.T;
  const msgpack = format !== 'json';
  const exact = (v: unknown): Expect => ({ t: 'one', of: expectFor(v, o.maxTopics) });
  const any: Expect = { t: 'any' };
  const room = o.maxPayload - 64;

  const fromValue = (category: string, v: unknown): Frame => {
    if (msgpack) {
      const bytes = enc(v);
      return { category, data: bytes, binary: true, expect: exact(mpView(bytes)) };
    }
    const text = toJson(v);
    return { category, data: text, binary: false, expect: jsonExpect(text, o.maxTopics) };
  };

  const structured = M.structured.map((v) => fromValue('wrong_types', v));
  const valid = M.valid.map((v) => fromValue('valid', v));

  const mutated = fc.tuple(M.valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([v, muts]): Frame => {
    if (msgpack) return { category: 'mutated', data: mutate(enc(v), muts, false), binary: true, expect: any };
    // Text stays valid UTF-8 (ASCII mutations on an ASCII base): invalid UTF-8 text is its own case.
    const text = mutate(Buffer.from(toJson(v), 'utf8'), muts, true).toString('utf8');
    return { category: 'mutated', data: text, binary: false, expect: jsonExpect(text, o.maxTopics) };
  });

  // Nesting up to what the payload limit allows.
  const deep = fc
    .record({
      shape: fc.constantFrom('array', 'map', 'topics', 'since', 'extra'),
      depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1000, max: Math.floor(room / 4) })),
    })
    .map(({ shape, depth }): Frame => {
      const id = 7;
      const ping = { t: 'pong', id } as const;
      const anyErr = (codes: string[], withId: boolean): Outcome => ({ t: 'err', codes, id: withId ? id : undefined });
      if (msgpack) {
        const arr = (d: number) => Buffer.concat([Buffer.alloc(d, 0x91), Buffer.from([0xc0])]);
        const map = (d: number) =>
          Buffer.concat([...Array.from({ length: d }, () => Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0xc0])]);
        const nested = (d: number) => (d % 2 ? arr(d) : map(Math.floor(d / 3) + 1));
        const field = (k: string) => enc(k);
        switch (shape) {
          case 'array':
            return { category: 'deep', data: arr(depth), binary: true, expect: { t: 'one', of: [anyErr(['bad_frame'], false)] } };
          case 'map':
            return {
              category: 'deep',
              data: map(Math.floor(depth / 3) + 1),
              binary: true,
              expect: { t: 'one', of: [anyErr(['bad_frame', 'bad_request'], false)] },
            };
          case 'topics':
            return {
              category: 'deep',
              data: Buffer.concat([
                mapHeader(3),
                field('op'),
                enc('sub'),
                field('id'),
                enc(id),
                field('topics'),
                arrHeader(1),
                nested(depth),
              ]),
              binary: true,
              expect: { t: 'one', of: [anyErr(['bad_frame', 'bad_request'], true), anyErr(['bad_frame'], false)] },
            };
          case 'since':
            return {
              category: 'deep',
              data: Buffer.concat([
                mapHeader(4),
                field('op'),
                enc('sub'),
                field('id'),
                enc(id),
                field('topics'),
                enc(['quote.NVDA@1000ms']),
                field('since'),
                map(Math.floor(depth / 3) + 1),
              ]),
              binary: true,
              expect: { t: 'one', of: [anyErr(['bad_frame'], false), { t: 'sub', id, topics: ['quote.NVDA@1000ms'] }] },
            };
          default:
            return {
              category: 'deep',
              data: Buffer.concat([mapHeader(3), field('op'), enc('ping'), field('id'), enc(id), field('x'), nested(depth)]),
              binary: true,
              expect: { t: 'one', of: [anyErr(['bad_frame'], false), ping] },
            };
        }
      }
      const d = Math.min(depth, Math.floor(room / 2));
      const arr = (n: number) => '['.repeat(n) + ']'.repeat(n);
      const map = (n: number) => '{"a":'.repeat(n) + 'null' + '}'.repeat(n);
      const text = {
        array: arr(d),
        map: map(Math.floor(d / 3) + 1),
        topics: `{"op":"sub","id":${id},"topics":[${arr(d - 1)}]}`,
        since: `{"op":"sub","id":${id},"topics":["quote.NVDA@1000ms"],"since":${map(Math.floor(d / 3) + 1)}}`,
        extra: `{"op":"ping","id":${id},"x":${d % 2 ? arr(d) : map(Math.floor(d / 3) + 1)}}`,
      }[shape];
      return { category: 'deep', data: text, binary: false, expect: jsonExpect(text, o.maxTopics) };
    });

  // Large arrays, maps and strings that still fit the payload limit.
  const huge = fc
    .record({
      shape: fc.constantFrom('topics', 'topics256', 'topic', 'op', 'extra', 'array', 'keys', 'id'),
      n: fc.integer({ min: 1, max: 1 << 20 }),
    })
    .map(({ shape, n }): Frame => {
      let v: unknown;
      switch (shape) {
        case 'topics':
          v = { op: 'sub', id: 1, topics: Array.from({ length: o.maxTopics + 1 + (n % Math.floor(room / 8)) }, (_, i) => String(i % 10)) };
          break;
        case 'topics256':
          v = { op: n % 2 ? 'sub' : 'unsub', id: 2, topics: Array.from({ length: o.maxTopics }, (_, i) => `trade.H${(n + i) % 5000}`) };
          break;
        case 'topic':
          v = { op: 'sub', id: 3, topics: ['trade.' + 'A'.repeat(n % (room - 40))] };
          break;
        case 'op':
          v = { op: 'p'.repeat(n % (room - 20)), id: 4 };
          break;
        case 'extra':
          v = { op: 'ping', id: 5, pad: msgpack ? new Uint8Array(n % (room - 40)) : 'x'.repeat(n % (room - 40)) };
          break;
        case 'array':
          v = Array.from({ length: n % Math.floor(room / (msgpack ? 2 : 4)) }, (_, i) => i % 100);
          break;
        case 'keys':
          v = {
            op: 'ping',
            id: 6,
            ...Object.fromEntries(Array.from({ length: 1 + (n % Math.floor(room / 12)) }, (_, i) => [`k${i}`, i % 100])),
          };
          break;
        default:
          v = { op: 'ping', id: '9'.repeat(1 + (n % (room - 40))) };
      }
      return fromValue('huge', v);
    });

  const wrongFrameType = fc.oneof(fc.string({ maxLength: 40 }), fc.constant('{"op":"ping","id":1}')).map((s): Frame =>
    msgpack
      ? {
          category: 'wrong_frame_type',
          data: s,
          binary: false,
          expect: { t: 'one', of: [{ t: 'err', codes: ['bad_frame'], id: undefined }] },
        }
      : {
          category: 'wrong_frame_type',
          data: enc({ op: 'ping', id: s.length }),
          binary: true,
          expect: { t: 'one', of: [{ t: 'err', codes: ['bad_frame'], id: undefined }] },
        },
  );

  if (!msgpack) {
    const randomText = fc
      .oneof(
        fc.string({ maxLength: 64 }),
        fc.string({ unit: 'binary', maxLength: 64 }),
        fc.json(),
        fc.jsonValue().map((j) => JSON.stringify(j)),
        fc.constantFrom(
          '',
          ' ',
          'null',
          '[]',
          '{}',
          '"ping"',
          '{"op":"ping"}',
          '{"op":"ping","id":1}{}',
          '{"op":"ping","id":1,}',
          "{'op':'ping','id':1}",
          '{"op":"ping","id":1} ',
        ),
      )
      .map((text): Frame => ({ category: 'random', data: text, binary: false, expect: jsonExpect(text, o.maxTopics) }));
    const numberLiterals = fc
      .oneof(
        fc.constantFrom(
          '1e400',
          '-1e400',
          '-0',
          '1.0',
          '1E2',
          '0.5e1',
          '9007199254740991',
          '9007199254740992',
          '9007199254740993',
          '-9007199254740991',
          '-9007199254740992',
          '00',
          '01',
          '1_0',
          '0x10',
          '+1',
          '.5',
          '1.',
          'NaN',
          'Infinity',
          '1e-400',
          '123456789012345678901234567890',
          'true',
          'null',
          '"1"',
          '[1]',
          '{"n":1}',
        ),
        fc.bigInt().map(String),
        fc.double({ noNaN: true }).map(String),
      )
      .chain((lit) =>
        fc.constantFrom(
          `{"op":"ping","id":${lit}}`,
          `{"op":"sub","id":${lit},"topics":["quote.AAPL@500ms"]}`,
          `{"op":"unsub","id":1,"topics":[${lit}]}`,
          `{"op":"sub","id":1,"topics":["quote.MSFT@1000ms"],"since":{"quote.MSFT@1000ms":{"epoch":"e","seq":${lit}}}}`,
        ),
      )
      .map((text): Frame => ({ category: 'json_numbers', data: text, binary: false, expect: jsonExpect(text, o.maxTopics) }));
    return fc.oneof(
      { weight: 30, arbitrary: structured },
      { weight: 10, arbitrary: valid },
      { weight: 22, arbitrary: mutated },
      { weight: 12, arbitrary: randomText },
      { weight: 8, arbitrary: numberLiterals },
      { weight: 1, arbitrary: deep },
      { weight: 1, arbitrary: huge },
      { weight: 2, arbitrary: wrongFrameType },
    );
  }

  const randomBytes = fc
    .oneof(
      { weight: 6, arbitrary: fc.uint8Array({ maxLength: 48 }) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(0x80, 0x81, 0x82, 0x83, 0x84, 0xde, 0xdf, 0xdc, 0xdd, 0xc1), fc.uint8Array({ maxLength: 64 }))
          .map(([h, b]) => Buffer.concat([Buffer.from([h]), b])),
      },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 4096 }) },
    )
    .map((b): Frame => ({
      category: 'random',
      data: b,
      binary: true,
      expect: b.length === 0 ? { t: 'one', of: [{ t: 'err', codes: ['bad_frame'], id: undefined }] } : any,
    }));

  // Extension types at the top level, as a field value, inside topics, as a key, or trailing.
  const extensions = fc
    .tuple(extArb, fc.constantFrom('top', 'op', 'id', 'topics', 'in_topics', 'since', 'extra', 'key', 'trailing'), M.validId)
    .map(([ext, where, id]): Frame => {
      const k = (s: string) => enc(s);
      const parts: Record<string, Buffer> = {
        top: ext,
        op: Buffer.concat([mapHeader(2), k('op'), ext, k('id'), enc(id)]),
        id: Buffer.concat([mapHeader(2), k('op'), enc('ping'), k('id'), ext]),
        topics: Buffer.concat([mapHeader(3), k('op'), enc('sub'), k('id'), enc(id), k('topics'), ext]),
        in_topics: Buffer.concat([
          mapHeader(3),
          k('op'),
          enc('sub'),
          k('id'),
          enc(id),
          k('topics'),
          arrHeader(2),
          enc('quote.AAPL@250ms'),
          ext,
        ]),
        since: Buffer.concat([
          mapHeader(4),
          k('op'),
          enc('sub'),
          k('id'),
          enc(id),
          k('topics'),
          enc(['quote.AAPL@250ms']),
          k('since'),
          ext,
        ]),
        extra: Buffer.concat([mapHeader(3), k('op'), enc('ping'), k('id'), enc(id), k('x'), ext]),
        key: Buffer.concat([mapHeader(3), k('op'), enc('ping'), k('id'), enc(id), ext, enc(1)]),
        trailing: Buffer.concat([enc({ op: 'ping', id }), ext]),
      };
      return { category: 'extension', data: parts[where]!, binary: true, expect: any };
    });

  // Strings with invalid UTF-8 in op and topics: never a valid op or topic (docs: topic grammar).
  const badUtf8 = fc
    .tuple(
      badStrArb(fc.constantFrom('ping', 'sub', 'unsub')),
      fc.array(
        fc.oneof(
          badStrArb(fc.oneof(fc.constantFrom(...FEED_TOPICS), T.validTopicArb)),
          T.validTopicArb.map((t) => ({ bytes: enc(t), view: t })),
        ),
        { minLength: 1, maxLength: 5 },
      ),
      fc.boolean(),
      M.validId,
      fc.constantFrom('sub', 'unsub'),
    )
    .map(([op, topics, badOp, id, goodOp]): Frame => {
      const k = (s: string) => enc(s);
      const opPart = badOp ? op : { bytes: enc(goodOp), view: goodOp };
      const data = Buffer.concat([
        mapHeader(3),
        k('op'),
        opPart.bytes,
        k('id'),
        enc(id),
        k('topics'),
        arrHeader(topics.length),
        ...topics.map((t) => t.bytes),
      ]);
      const view = { op: opPart.view, id, topics: topics.map((t) => t.view) };
      return { category: 'bad_utf8', data, binary: true, expect: exact(view) };
    });

  return fc.oneof(
    { weight: 28, arbitrary: structured },
    { weight: 10, arbitrary: valid },
    { weight: 20, arbitrary: mutated },
    { weight: 10, arbitrary: randomBytes },
    { weight: 10, arbitrary: extensions },
    { weight: 8, arbitrary: badUtf8 },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: huge },
    { weight: 2, arbitrary: wrongFrameType },
  );
}

/** A frame that ends the connection: over maxPayloadLength (1009), or invalid UTF-8 text on JSON. */
export function terminalArb(format: Format, maxPayload: number): fc.Arbitrary<Frame> {
  // Between the limit and twice the limit: the documented 1009 (beyond, the transport cuts: 1006).
  const oversize = fc.integer({ min: maxPayload + 3, max: maxPayload * 2 }).map((n): Frame =>
    format === 'json'
      ? {
          category: 'oversize',
          data: `{"op":"ping","id":1,"x":"${'x'.repeat(n - 27)}"}`,
          binary: false,
          expect: { t: 'any' },
          terminal: 'oversize',
        }
      : {
          category: 'oversize',
          data: enc({ op: 'ping', id: 1, x: new Uint8Array(n - 20) }),
          binary: true,
          expect: { t: 'any' },
          terminal: 'oversize',
        },
  );
  if (format !== 'json') return oversize;
  const badText = fc.tuple(fc.constantFrom(...BAD_UTF8), fc.nat()).map(([seq, pos]): Frame => {
    const base = Buffer.from('{"op":"ping","id":1,"x":"abc"}');
    const at = 25 + (pos % 4);
    return {
      category: 'bad_utf8_text',
      data: Buffer.concat([base.subarray(0, at), Buffer.from(seq), base.subarray(at)]),
      binary: false,
      expect: { t: 'any' },
      terminal: 'bad_utf8_text',
    };
  });
  return fc.oneof(oversize, badText);
}

export const MARKER_BASE = 2 ** 52;
export function markerFrame(format: Format, n: number): { data: Uint8Array | string; binary: boolean } {
  const m = { op: 'ping', id: MARKER_BASE + n };
  return format === 'json' ? { data: JSON.stringify(m), binary: false } : { data: enc(m), binary: true };
}
