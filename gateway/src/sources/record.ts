import { C1, Unpackr } from 'msgpackr';
import { checkPayload, type PayloadLimits } from '../../../protocol/src/payload.js';
import { parseTopic, type ParsedTopic } from '../../../protocol/src/topics.js';
import type { Payload, QuoteTick, TradeTick } from '../../../protocol/src/ticks.js';

/**
 * The Kafka record contract (docs/ingest.md): key = the tickwire topic (`trade.BTC-USD`), value =
 * one tick as a standard msgpack map or a JSON object (told apart by the first byte). Pure: turns
 * bytes into a tick or a rejection reason; the source counts and logs rejections.
 */
export const REJECT_REASONS = [
  'bad_key',
  'oversize',
  'undecodable',
  'bad_fields',
  'non_finite',
  'out_of_range',
  'too_deep',
  'too_large',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** The configuration defaults (payloadMaxDepth, payloadMaxBytes), for callers without a config. */
export const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = { maxDepth: 32, maxBytes: 64 * 1024 };

/**
 * Valid tick values (docs/ingest.md#valid-ranges). `ts` within [2000-01-01, 2100-01-01) UTC in
 * epoch ms: catches seconds or microseconds sent as milliseconds, and values such as 1e300 that
 * would break every client's date handling. Prices and trade sizes are positive; quote sizes may
 * be 0 (an empty side of the book). A crossed or locked quote (bid >= ask) is accepted: it
 * happens on real feeds for short moments and is the venue's data, not a corrupt record.
 */
export const TS_MIN = Date.UTC(2000, 0, 1);
export const TS_MAX = Date.UTC(2100, 0, 1);

export type DecodedRecord = { topic: string; tick: Payload } | { reject: RejectReason; detail: string };

// Standard producers write epoch-ms integers as uint64; msgpackr would return BigInt for those.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/**
 * Valid keys already seen, with their parse: a feed has few distinct topics, so the per-record
 * cost is one Map lookup instead of the topic regexes. Bounded (cleared when full) so a producer
 * writing ever-new keys cannot grow it; invalid keys are not cached (they are rejected, rarely).
 */
const TOPIC_CACHE_MAX = 4096;
const topicCache = new Map<string, ParsedTopic>();

function topicOf(topic: string): ParsedTopic | undefined {
  const hit = topicCache.get(topic);
  if (hit !== undefined) return hit;
  const parsed = parseTopic(topic);
  if (parsed === undefined) return undefined;
  if (topicCache.size >= TOPIC_CACHE_MAX) topicCache.clear();
  topicCache.set(topic, parsed);
  return parsed;
}

export function decodeRecord(
  key: Buffer | null,
  value: Buffer | null,
  maxBytes: number,
  fallbackTs: number,
  limits = DEFAULT_PAYLOAD_LIMITS,
): DecodedRecord {
  if (!key || key.length === 0) return { reject: 'bad_key', detail: 'record has no key' };
  // latin1: every valid topic is ASCII, where it equals UTF-8, and a non-ASCII key fails the
  // grammar either way; it decodes faster. The rejection detail shows the key as UTF-8.
  const topic = key.length <= 64 ? key.toString('latin1') : '';
  const parsed = topicOf(topic);
  if (!parsed) return { reject: 'bad_key', detail: `key is not a topic: ${JSON.stringify(key.subarray(0, 64).toString('utf8'))}` };
  if (!value || value.length === 0) return { reject: 'undecodable', detail: `${topic}: empty value` };
  if (value.length > maxBytes) return { reject: 'oversize', detail: `${topic}: value of ${value.length} bytes exceeds ${maxBytes}` };

  let v: unknown;
  try {
    // One unpack: msgpackr throws on truncated data and on bytes left after the value.
    v = looksLikeJson(value) ? JSON.parse(value.toString('utf8')) : unpackr.unpack(value);
  } catch (e) {
    // msgpackr decodes recursively: a value nested deeper than the stack allows ends here.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return { reject: 'too_deep', detail: `${topic}: value nested too deep to decode` };
    }
    return { reject: 'undecodable', detail: `${topic}: ${(e as Error).message}`.slice(0, 200) };
  }
  // msgpackr reads the reserved byte 0xc1 as a marker object; standard msgpack has no such value.
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v === C1) return { reject: 'undecodable', detail: `${topic}: value is not a map` };
  const o = v as Record<string, unknown>;
  // User channels and announcements carry the producer's own fields, passed through.
  if (parsed.kind === 'user' || parsed.kind === 'sys') {
    const problem = checkPayload(o, limits);
    return problem ? { reject: problem.reason, detail: `${topic}: value ${problem.detail}` } : { topic, tick: o };
  }
  const ts = o.ts === undefined ? fallbackTs : o.ts;
  return parsed.kind === 'trade' ? trade(topic, o, ts) : quote(topic, o, ts);
}

/** JSON objects start with `{` (after optional whitespace); a msgpack map never starts with 0x7b. */
function looksLikeJson(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b;
  }
  return false;
}

type Rejection = { reject: RejectReason; detail: string };

function num(field: string, v: unknown, topic: string): number | Rejection {
  if (typeof v !== 'number') return { reject: 'bad_fields', detail: `${topic}: ${field} must be a number, got ${v === undefined ? 'nothing' : typeof v}` };
  if (!Number.isFinite(v)) return { reject: 'non_finite', detail: `${topic}: ${field} is ${v}` };
  return v;
}

const outOfRange = (topic: string, field: string, v: number, range: string): Rejection => ({
  reject: 'out_of_range',
  detail: `${topic}: ${field} is ${v}, must be ${range}`,
});

// Ranges are checked once every field has the right type, so a record with a wrong-typed field is
// `bad_fields` whatever its other values.
function tsRange(ts: number, topic: string): Rejection | undefined {
  return ts >= TS_MIN && ts < TS_MAX ? undefined : outOfRange(topic, 'ts', ts, 'epoch ms from 2000-01-01 to 2100-01-01');
}
const positive = (field: string, v: number, topic: string): Rejection | undefined =>
  v > 0 ? undefined : outOfRange(topic, field, v, '> 0');
const notNegative = (field: string, v: number, topic: string): Rejection | undefined =>
  v >= 0 ? undefined : outOfRange(topic, field, v, '>= 0');

function trade(topic: string, o: Record<string, unknown>, rawTs: unknown): DecodedRecord {
  const ts = num('ts', rawTs, topic);
  if (typeof ts !== 'number') return ts;
  const px = num('px', o.px, topic);
  if (typeof px !== 'number') return px;
  const qty = num('qty', o.qty, topic);
  if (typeof qty !== 'number') return qty;
  const side = o.side;
  if (side !== 'b' && side !== 's') return { reject: 'bad_fields', detail: `${topic}: side must be "b" or "s"` };
  const bad = tsRange(ts, topic) ?? positive('px', px, topic) ?? positive('qty', qty, topic);
  if (bad) return bad;
  // A fresh object with exactly the protocol's fields: extra upstream fields never reach clients.
  const tick: TradeTick = { ts, px, qty, side };
  return { topic, tick };
}

function quote(topic: string, o: Record<string, unknown>, rawTs: unknown): DecodedRecord {
  const ts = num('ts', rawTs, topic);
  if (typeof ts !== 'number') return ts;
  const bid = num('bid', o.bid, topic);
  if (typeof bid !== 'number') return bid;
  const bsz = num('bsz', o.bsz, topic);
  if (typeof bsz !== 'number') return bsz;
  const ask = num('ask', o.ask, topic);
  if (typeof ask !== 'number') return ask;
  const asz = num('asz', o.asz, topic);
  if (typeof asz !== 'number') return asz;
  const bad =
    tsRange(ts, topic) ??
    positive('bid', bid, topic) ??
    notNegative('bsz', bsz, topic) ??
    positive('ask', ask, topic) ??
    notNegative('asz', asz, topic);
  if (bad) return bad;
  const tick: QuoteTick = { ts, bid, bsz, ask, asz };
  return { topic, tick };
}
