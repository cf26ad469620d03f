import { C1, Unpackr } from 'msgpackr';
import { kindSpec, type Validated } from './kinds.js';
import type { PayloadLimits } from './payload.js';
import { parseTopic, type ParsedTopic } from './topics.js';

/**
 * The Kafka record contract (docs/ingest.md): key = the tickwire topic (`trade.BTC-USD`), value =
 * one tick as a standard msgpack map or a JSON object (told apart by the first byte). Pure: turns
 * bytes into a tick or a rejection reason; the gateway's Kafka source counts and logs rejections,
 * and feeds' replay validates recorded lines with it. Each kind's validation is its registry
 * entry's (kinds.ts). Node-side: keys and values are Buffers (as kafkajs gives them).
 */
export { REJECT_REASONS, TS_MAX, TS_MIN, type RejectReason } from './validate.js';

/** The default largest record value (the gateway's kafkaMaxRecordBytes), for callers without a config. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;

/** The configuration defaults (payloadMaxDepth, payloadMaxBytes), for callers without a config. */
export const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = { maxDepth: 32, maxBytes: 64 * 1024 };

/** The accepted tick with its topic, or the rejection. */
export type DecodedRecord = Validated;

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
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v === C1)
    return { reject: 'undecodable', detail: `${topic}: value is not a map` };
  // Market ticks come out with exactly the protocol's fields; user channels and announcements
  // carry the producer's own, bounded.
  return kindSpec(parsed.kind).validate(topic, v as Record<string, unknown>, { fallbackTs, limits });
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
