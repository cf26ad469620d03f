import type { QuoteTick, TradeTick } from './ticks.js';

/**
 * Validation of one ingest value per topic kind (docs/ingest.md#valid-ranges): a decoded map in,
 * a payload with exactly the protocol's fields or a rejection out. The registry (kinds.ts) names
 * which validator a kind uses; record.ts decodes the bytes around it.
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
  // Order books (book-record.ts; the last three are found by the gateway's book engine, which holds the book).
  'book_negative_size',
  'book_unknown_side',
  'book_crossed',
  'book_sequence',
  'book_no_snapshot',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export type Rejection = { reject: RejectReason; detail: string };

/**
 * Valid tick values (docs/ingest.md#valid-ranges). `ts` within [2000-01-01, 2100-01-01) UTC in
 * epoch ms: catches seconds or microseconds sent as milliseconds, and values such as 1e300 that
 * would break every client's date handling. Prices and trade sizes are positive; quote sizes may
 * be 0 (an empty side of the book). A crossed or locked quote (bid >= ask) is accepted: it
 * happens on real feeds for short moments and is the venue's data, not a corrupt record.
 */
export const TS_MIN = Date.UTC(2000, 0, 1);
export const TS_MAX = Date.UTC(2100, 0, 1);

function num(field: string, v: unknown, topic: string): number | Rejection {
  if (typeof v !== 'number')
    return { reject: 'bad_fields', detail: `${topic}: ${field} must be a number, got ${v === undefined ? 'nothing' : typeof v}` };
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

/** `rawTs` is the record's ts, or the receive time when the record has none. */
export function validateTrade(topic: string, o: Record<string, unknown>, rawTs: unknown): TradeTick | Rejection {
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
  return { ts, px, qty, side };
}

export function validateQuote(topic: string, o: Record<string, unknown>, rawTs: unknown): QuoteTick | Rejection {
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
  return { ts, bid, bsz, ask, asz };
}
