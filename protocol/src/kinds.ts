import { BOOK_DEPTHS, type BookChange, type BookSnapshot, type Level } from './book.js';
import { validateBookRecord, type BookRecord } from './book-record.js';
import { CANDLE_INTERVAL_NAMES, isCandleInterval, writeCandle, writeStats, type CandleTick, type StatsTick } from './candle.js';
import { K } from './msgpack-keys.js';
import type { MsgpackWriter } from './msgpack-writer.js';
import { checkPayload, type PayloadLimits } from './payload.js';
import type { EventPayload, Payload, QuoteTick, TradeTick } from './ticks.js';
import { validateQuote, validateTrade, type Rejection } from './validate.js';

/**
 * The topic-kind registry: everything the protocol knows about a kind of topic, in one entry.
 * `TopicKind` is derived from it, so a kind exists exactly when it has an entry, and code that
 * must treat every kind uses `satisfies Record<TopicKind, …>` or `assertNever` and stops compiling
 * when a kind is added without it. docs/extending.md walks through adding one.
 */

/** What a topic name says after `<kind>.`: the symbol (or user, or "announce") and a user channel's stream. */
export interface TopicParts {
  symbol: string;
  stream?: string;
  /** A depth-limited book view's depth (`book.<SYMBOL>:<depth>`). */
  depth?: number;
  /** A candle topic's interval (`candle.<interval>.<SYMBOL>`, candle.ts). */
  interval?: string;
}

/** What record validation needs besides the value: the receive time (for a record without ts) and payload bounds. */
export interface ValidationContext {
  fallbackTs: number;
  limits: PayloadLimits;
}

/**
 * `P` is what the kind's topics carry on the wire; `R` what its ingest records validate to (the
 * same, except for order books, whose records are folded into change sets by the gateway).
 */
export interface KindSpec<P extends Payload = Payload, R extends Payload = P> {
  /** The grammar as a human reads it (docs, `bad_topic` errors). */
  readonly grammar: string;
  /** Parses what follows `<kind>.` in a topic name; undefined when it does not match the kind's grammar. */
  parseRest(rest: string): TopicParts | undefined;
  /**
   * Market kinds whose names have a part between `<kind>.` and `.<SYMBOL>` (a candle's interval):
   * that part as a regex source, for the one market-topic pattern of the docs and the SDKs.
   */
  readonly prefixPattern?: string;
  /** Market data: fixed tick shapes, public, throttleable. Otherwise free-form events (private or system). */
  readonly market: boolean;
  /** Whether `<topic>@<interval>` views exist. Private and system events are never conflated. */
  readonly throttleable: boolean;
  /** `last`: a snapshot is the last payload. `fold`: a state that each update is applied to. */
  readonly snapshot: 'last' | 'fold';
  /** `latest`: a throttled view sends the latest payload per interval. `merge`: the updates of the interval merged. */
  readonly throttle: 'latest' | 'merge';
  /**
   * Checks one decoded ingest value (Kafka record, replay line): the payload with exactly the
   * fields the wire carries, or why not. Wrapped in `{topic, tick}` because a free-form payload
   * may itself have a `reject` field.
   */
  validate(topic: string, value: Record<string, unknown>, ctx: ValidationContext): Validated<R>;
  /**
   * How a payload is written per codec. msgpack: a fixed-shape writer (every number float64, as
   * protocol v1 promises for ticks) or `free-form` (the producer's map through msgpackr). JSON:
   * `as-is`, the payload object serialized as it is.
   */
  readonly write: { readonly msgpack: 'free-form' | { write(w: MsgpackWriter, payload: P): void }; readonly json: 'as-is' };
}

export type Validated<P extends Payload = Payload> = { topic: string; tick: P } | Rejection;

/** Market symbols: 1–32 of upper-case letters, digits, `-` and `_`, starting with a letter or digit. */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;
/** `<sub>.<stream>` of a private user channel. */
const USER_REST = /^([A-Za-z0-9_-]{1,64})\.([a-z][a-z0-9_]{0,31})$/;

const symbolOnly = (rest: string): TopicParts | undefined => (SYMBOL_PATTERN.test(rest) ? { symbol: rest } : undefined);

/** Market ticks use the record's ts, or the receive time when the producer sent none. */
const tsOf = (value: Record<string, unknown>, ctx: ValidationContext): unknown => (value.ts === undefined ? ctx.fallbackTs : value.ts);

function freeForm(topic: string, value: Record<string, unknown>, ctx: ValidationContext): Validated<EventPayload> {
  const problem = checkPayload(value, ctx.limits);
  return problem ? { reject: problem.reason, detail: `${topic}: value ${problem.detail}` } : { topic, tick: value };
}

/** A fixed-shape tick or its rejection (tick shapes have no `reject` field). */
function fixed<P extends TradeTick | QuoteTick>(topic: string, r: P | Rejection): Validated<P> {
  return 'reject' in r ? r : { topic, tick: r };
}

const trade: KindSpec<TradeTick> = {
  grammar: 'trade.<SYMBOL>',
  parseRest: symbolOnly,
  market: true,
  throttleable: true,
  snapshot: 'last',
  throttle: 'latest',
  validate: (topic, value, ctx) => fixed(topic, validateTrade(topic, value, tsOf(value, ctx))),
  write: {
    msgpack: {
      write(w, t) {
        w.mapHeader(4);
        w.raw(K.ts);
        w.f64(t.ts);
        w.raw(K.px);
        w.f64(t.px);
        w.raw(K.qty);
        w.f64(t.qty);
        w.raw(K.side);
        w.raw(t.side === 'b' ? K.b : K.s);
      },
    },
    json: 'as-is',
  },
};

const quote: KindSpec<QuoteTick> = {
  grammar: 'quote.<SYMBOL>',
  parseRest: symbolOnly,
  market: true,
  throttleable: true,
  snapshot: 'last',
  throttle: 'latest',
  validate: (topic, value, ctx) => fixed(topic, validateQuote(topic, value, tsOf(value, ctx))),
  write: {
    msgpack: {
      write(w, q) {
        w.mapHeader(5);
        w.raw(K.ts);
        w.f64(q.ts);
        w.raw(K.bid);
        w.f64(q.bid);
        w.raw(K.bsz);
        w.f64(q.bsz);
        w.raw(K.ask);
        w.f64(q.ask);
        w.raw(K.asz);
        w.f64(q.asz);
      },
    },
    json: 'as-is',
  },
};

/** Levels as msgpack arrays of two float64. */
function writeLevels(w: MsgpackWriter, levels: readonly Level[]): void {
  w.arrayHeader(levels.length);
  for (const [px, qty] of levels) {
    w.arrayHeader(2);
    w.f64(px);
    w.f64(qty);
  }
}

const BOOK_REST = new RegExp(`^(${SYMBOL_PATTERN.source.slice(1, -1)})(?::(${BOOK_DEPTHS.join('|')}))?$`);

/**
 * Order books (book.ts): `book.<SYMBOL>` carries every level the gateway keeps, `book.<SYMBOL>:<depth>`
 * the top 10, 25 or 100. Snapshots are folded from the change sets (`fold`), and a throttled view
 * sends the change sets of its interval merged per level (`merge`). Ingest records (book-record.ts)
 * are snapshots and deltas, which the gateway's book engine turns into change sets.
 */
const book: KindSpec<BookChange | BookSnapshot, BookRecord> = {
  grammar: `book.<SYMBOL>[:${BOOK_DEPTHS.join('|')}]`,
  parseRest(rest) {
    const m = BOOK_REST.exec(rest);
    if (!m) return undefined;
    return m[2] === undefined ? { symbol: m[1] as string } : { symbol: m[1] as string, depth: Number(m[2]) };
  },
  market: true,
  throttleable: true,
  snapshot: 'fold',
  throttle: 'merge',
  validate(topic, value, ctx) {
    const r = validateBookRecord(topic, value, tsOf(value, ctx));
    return 'reject' in r ? r : { topic, tick: r };
  },
  write: {
    msgpack: {
      write(w, p) {
        const snap = 'bids' in p;
        w.mapHeader((snap ? 6 : 4) + (p.stale ? 1 : 0));
        w.raw(K.ts);
        w.f64(p.ts);
        if (snap) {
          w.str('bids');
          writeLevels(w, p.bids);
          w.str('asks');
          writeLevels(w, p.asks);
          w.str('tick');
          w.f64(p.tick);
          w.str('lot');
          w.f64(p.lot);
        } else {
          w.raw(K.b);
          writeLevels(w, p.b);
          w.str('a');
          writeLevels(w, p.a);
        }
        w.str('cs');
        w.uint(p.cs);
        if (p.stale) {
          w.str('stale');
          w.bool(true);
        }
      },
    },
    json: 'as-is',
  },
};

/**
 * Topics the gateway computes itself (candle.ts): a record keyed with one is a producer's mistake
 * (or an attempt to forge them), rejected as `bad_key` so that nothing upstream can overwrite them.
 */
function computedOnly(topic: string): Rejection {
  return { reject: 'bad_key', detail: `${topic}: candle.* and stats.* topics are computed by the gateway from trades, never ingested` };
}

const CANDLE_REST = new RegExp(`^(${CANDLE_INTERVAL_NAMES.join('|')})\\.(${SYMBOL_PATTERN.source.slice(1, -1)})$`);

/**
 * Candles (candle.ts), computed by the gateway from `trade.<SYMBOL>`. The snapshot is the current
 * candle. Not throttleable: the gateway already publishes a candle at most once per flush, and a
 * `latest` view could skip the final `x: true` update of a candle that closed within its interval.
 */
const candle: KindSpec<CandleTick> = {
  grammar: `candle.<${CANDLE_INTERVAL_NAMES.join('|')}>.<SYMBOL>`,
  parseRest(rest) {
    const m = CANDLE_REST.exec(rest);
    return m && isCandleInterval(m[1] as string) ? { symbol: m[2] as string, interval: m[1] as string } : undefined;
  },
  prefixPattern: `(?:${CANDLE_INTERVAL_NAMES.join('|')})`,
  market: true,
  throttleable: false,
  snapshot: 'last',
  throttle: 'latest',
  validate: computedOnly,
  write: { msgpack: { write: writeCandle }, json: 'as-is' },
};

/**
 * Rolling 24-hour statistics (candle.ts), computed by the gateway from the 1-minute candles. Not
 * throttleable: published at most once a second per symbol already, a view would only delay it.
 */
const stats: KindSpec<StatsTick> = {
  grammar: 'stats.<SYMBOL>',
  parseRest: symbolOnly,
  market: true,
  throttleable: false,
  snapshot: 'last',
  throttle: 'latest',
  validate: computedOnly,
  write: { msgpack: { write: writeStats }, json: 'as-is' },
};

/**
 * Private per-user channels: `user.<sub>.<stream>`, readable only by a connection whose token has
 * that `sub`. The grammar is strict (no dots, no case folding, no escapes), so each channel has
 * exactly one spelling and equality of strings is equality of channels.
 */
const user: KindSpec<EventPayload> = {
  grammar: 'user.<sub>.<stream>',
  parseRest(rest) {
    const m = USER_REST.exec(rest);
    return m ? { symbol: m[1] as string, stream: m[2] as string } : undefined;
  },
  market: false,
  throttleable: false,
  snapshot: 'last',
  throttle: 'latest',
  validate: freeForm,
  write: { msgpack: 'free-form', json: 'as-is' },
};

/** The broadcast every connection receives without subscribing: `sys.announce` only. */
const sys: KindSpec<EventPayload> = {
  grammar: 'sys.announce',
  parseRest: (rest) => (rest === 'announce' ? { symbol: 'announce' } : undefined),
  market: false,
  throttleable: false,
  snapshot: 'last',
  throttle: 'latest',
  validate: freeForm,
  write: { msgpack: 'free-form', json: 'as-is' },
};

/** The registry. Key order is the documented order (market kinds first). */
export const KINDS = { trade, quote, book, candle, stats, user, sys } as const;

export type TopicKind = keyof typeof KINDS;

/** The payload type of a kind's topics. */
export type PayloadOf<K extends TopicKind> = (typeof KINDS)[K] extends KindSpec<infer P, infer _R> ? P : never;

export const TOPIC_KINDS = Object.keys(KINDS) as TopicKind[];

export function isTopicKind(name: string): name is TopicKind {
  return Object.hasOwn(KINDS, name);
}

/** A kind's entry, typed for callers that hold a payload of unknown kind (codecs, record decoding). */
export function kindSpec(kind: TopicKind): KindSpec {
  return KINDS[kind];
}

export interface KindSemantics {
  snapshot: 'last' | 'fold';
  throttle: 'latest' | 'merge';
}

/** How the hub keeps a kind's snapshot and throttled views. */
export function semanticsOf(kind: TopicKind): KindSemantics {
  const k = KINDS[kind];
  return { snapshot: k.snapshot, throttle: k.throttle };
}

/** For exhaustive switches over kinds: the `default:` branch that stops compiling when a case is missing. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
