import type { Level } from './book.js';
import type { Rejection } from './validate.js';
import { TS_MAX, TS_MIN } from './validate.js';

/**
 * The Kafka record contract for order books (docs/ingest.md, "Order books"): key `book.<SYMBOL>`,
 * value a snapshot or a delta. What can be checked on one record alone is checked here (shape,
 * finite numbers, sides, sizes); what needs the book (a crossed result, a delta whose `pu` is not
 * the previous record's `u`) is checked by the gateway's book engine, which keeps the book.
 */
export type BookRecord = BookSnapshotRecord | BookDeltaRecord;

/** The whole book, best first or in any order; replaces what the gateway holds. */
export type BookSnapshotRecord = {
  type: 'snapshot';
  ts: number;
  bids: Level[];
  asks: Level[];
  /** Upstream sequence of this state (optional): the next delta's `pu` must equal it. */
  u?: number;
};

/** Level changes: `[side, px, qty]` with side `b` or `a`; qty 0 deletes the level. */
export type BookDeltaRecord = {
  type: 'delta';
  ts: number;
  changes: [side: 'b' | 'a', px: number, qty: number][];
  /** Upstream sequence of this delta, and of the one it follows (as exchanges number their diffs). */
  u?: number;
  pu?: number;
};

const bad = (topic: string, detail: string): Rejection => ({ reject: 'bad_fields', detail: `${topic}: ${detail}` });

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function seqField(topic: string, o: Record<string, unknown>, f: 'u' | 'pu'): number | undefined | Rejection {
  const v = o[f];
  if (v === undefined) return undefined;
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : bad(topic, `${f} must be a non-negative integer`);
}

function price(topic: string, what: string, px: unknown): Rejection | undefined {
  if (typeof px !== 'number') return bad(topic, `${what} price must be a number`);
  if (!Number.isFinite(px)) return { reject: 'non_finite', detail: `${topic}: ${what} price is ${px}` };
  return px > 0 ? undefined : { reject: 'out_of_range', detail: `${topic}: ${what} price is ${px}, must be > 0` };
}

function size(topic: string, what: string, qty: unknown): Rejection | undefined {
  if (typeof qty !== 'number') return bad(topic, `${what} size must be a number`);
  if (!Number.isFinite(qty)) return { reject: 'non_finite', detail: `${topic}: ${what} size is ${qty}` };
  return qty >= 0 ? undefined : { reject: 'book_negative_size', detail: `${topic}: ${what} size is ${qty}` };
}

function levels(topic: string, side: string, v: unknown): Level[] | Rejection {
  if (!Array.isArray(v)) return bad(topic, `${side} must be an array of [px, qty]`);
  const out: Level[] = [];
  for (const l of v) {
    if (!Array.isArray(l) || l.length !== 2) return bad(topic, `${side} must be an array of [px, qty]`);
    const r = price(topic, side, l[0]) ?? size(topic, side, l[1]);
    if (r) return r;
    out.push([l[0] as number, l[1] as number]);
  }
  return out;
}

/** One decoded book record: its exact fields, or the reason it is rejected. `rawTs` as for ticks. */
export function validateBookRecord(topic: string, o: Record<string, unknown>, rawTs: unknown): BookRecord | Rejection {
  if (topic.includes(':')) return { reject: 'bad_key', detail: `${topic}: book records are keyed by book.<SYMBOL>, not by a view` };
  if (!finite(rawTs)) return bad(topic, 'ts must be a finite number');
  if (rawTs < TS_MIN || rawTs >= TS_MAX)
    return { reject: 'out_of_range', detail: `${topic}: ts is ${rawTs}, must be epoch ms from 2000-01-01 to 2100-01-01` };
  const u = seqField(topic, o, 'u');
  if (typeof u === 'object') return u;
  if (o.type === 'snapshot') {
    const bids = levels(topic, 'bids', o.bids);
    if (!Array.isArray(bids)) return bids;
    const asks = levels(topic, 'asks', o.asks);
    if (!Array.isArray(asks)) return asks;
    return u === undefined ? { type: 'snapshot', ts: rawTs, bids, asks } : { type: 'snapshot', ts: rawTs, bids, asks, u };
  }
  if (o.type === 'delta') {
    const pu = seqField(topic, o, 'pu');
    if (typeof pu === 'object') return pu;
    if (!Array.isArray(o.changes)) return bad(topic, 'changes must be an array of [side, px, qty]');
    const changes: BookDeltaRecord['changes'] = [];
    for (const c of o.changes as unknown[]) {
      if (!Array.isArray(c) || c.length !== 3) return bad(topic, 'changes must be an array of [side, px, qty]');
      const side = c[0] as unknown;
      if (side !== 'b' && side !== 'a')
        return { reject: 'book_unknown_side', detail: `${topic}: side ${JSON.stringify(side)} is not "b" or "a"` };
      const r = price(topic, 'change', c[1]) ?? size(topic, 'change', c[2]);
      if (r) return r;
      changes.push([side, c[1] as number, c[2] as number]);
    }
    const d: BookDeltaRecord = { type: 'delta', ts: rawTs, changes };
    if (u !== undefined) d.u = u;
    if (pu !== undefined) d.pu = pu;
    return d;
  }
  return bad(topic, 'type must be "snapshot" or "delta"');
}
