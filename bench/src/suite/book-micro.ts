/**
 * In-process order-book micro figures (issue 15, Performance): the cost of turning one upstream
 * book record into change sets (the engine), of folding one change set into a topic's book (the
 * hub's fold), of a snapshot at depth 10 / 100 / 1 000 (`Book.snapshot` and the snap frame's
 * encode), and the wire bytes per change set per codec, for the raw topic and a 100 ms throttled
 * view. Inputs are the embedded feed's own book records (feeds/src/simulator.ts, one symbol), so
 * the figures describe the same change sets the fan-out runs send. No sockets, no timers.
 */
import { MarketSimulator, type FeedEvent } from '../../../feeds/src/simulator.js';
import { DEFAULT_SYMBOLS } from '../../../feeds/src/symbols.js';
import { BookEngine } from '../../../gateway/src/books/engine.js';
import { nodeDeflate } from '../../../gateway/src/codecs.js';
import { FOLDS, type FoldState } from '../../../gateway/src/hub/fold.js';
import { createLogger } from '../../../gateway/src/log.js';
import { Book, type BookChange, type BookUnits, type Level } from '../../../protocol/src/book.js';
import { createCodecs, type WireCodec } from '../../../protocol/src/codec.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import { REJECT_REASONS, type RejectReason } from '../../../protocol/src/validate.js';
import { round } from './stats.js';

export const BOOK_SYMBOL = 'BTC-USD';
export const BOOK_TOPIC = `book.${BOOK_SYMBOL}`;
const SPEC = DEFAULT_SYMBOLS.find((s) => s.symbol === BOOK_SYMBOL)!;
export const BOOK_UNITS: BookUnits = { tick: SPEC.tick, lot: SPEC.lot };

export interface BookMicroSizes {
  /** Upstream book records generated (the engine's input); every measurement reuses them. */
  records: number;
  /** Repetitions of each snapshot measurement (the median is reported). */
  snapshotReps: number;
  /** Records per second of event time (spacing of their ts): sets how many fall in one 100 ms interval. */
  rate: number;
}

export const FULL_MICRO: BookMicroSizes = { records: 200_000, snapshotReps: 2_000, rate: 50_000 };
export const QUICK_MICRO: BookMicroSizes = { records: 20_000, snapshotReps: 200, rate: 50_000 };

export interface WireRow {
  codec: string;
  /** Bytes per raw change set, one change set per frame (what a raw subscriber gets at low rates). */
  rawPerChangeSet: number;
  /** Bytes per raw change set in frames of 20 (the batching a busy raw topic sees). */
  rawBatchedPerChangeSet: number;
  /** Bytes per merged change set of the 100 ms view (one per frame). */
  throttledPerChangeSet: number;
  /** The view's bytes per raw change set it covers. */
  throttledPerRawChangeSet: number;
}

export interface BookMicroResult {
  records: number;
  changeSets: number;
  levelsPerChangeSet: number;
  /** Engine: ns per upstream record (apply, window diffs, checksum, publish to a no-op sink). */
  engineNsPerRecord: number;
  /** Hub fold: ns per change set applied to a topic's BookFold. */
  foldNsPerChangeSet: number;
  /** Throttle merge: ns per change set added to the view's merger (take included). */
  mergeNsPerChangeSet: number;
  /** Per depth: µs for `Book.snapshot(depth)` and for encoding its msgpack snap frame, and the frame's bytes. */
  snapshots: { depth: number; snapshotUs: number; encodeUs: number; frameBytes: number }[];
  wire: WireRow[];
  /** Merged change sets of the 100 ms view and the raw ones they cover. */
  throttled: { intervals: number; rawCovered: number };
}

/**
 * The embedded feed's book records for one symbol, `rate` events per second of event time. Times
 * are whole milliseconds, as the feed's clock gives them (feeds/src/pacer.ts): a fractional ts is
 * off the compact codec's grid, and every frame carrying one would be measured in map form.
 */
export function bookRecords(n: number, rate: number, seed = 1): FeedEvent[] {
  const sim = new MarketSimulator({ seed, symbols: [SPEC], books: true });
  const out: FeedEvent[] = [];
  const books: FeedEvent[] = [];
  const t0 = 1_700_000_000_000;
  for (let i = 0; books.length < n; i++) {
    out.length = 0;
    sim.nextInto(t0 + Math.floor((i * 1000) / rate), out);
    for (const e of out) if (e.topic === BOOK_TOPIC) books.push(e);
  }
  return books.slice(0, n);
}

function stats(): { rejected: Record<RejectReason, number> } {
  return { rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number> };
}

/** The codecs whose bytes the micro reports, with BOOK_SYMBOL's units as the gateway's directory gives them. */
export function microCodecs(): readonly WireCodec[] {
  return createCodecs(nodeDeflate, (symbol) => (symbol === BOOK_SYMBOL ? BOOK_UNITS : undefined));
}

/** Runs the records through a BookEngine; returns the change sets of the raw topic and the ns per record. */
export function runEngine(records: FeedEvent[]): { changeSets: BookChange[]; nsPerRecord: number } {
  const mk = (sink: (topic: string, p: Payload) => void): BookEngine =>
    new BookEngine(
      { publish: sink },
      { maxDepth: 1000, units: () => BOOK_UNITS, stats: stats(), log: createLogger('silent'), now: () => 0 },
    );
  const changeSets: BookChange[] = [];
  const collect = mk((topic, p) => {
    if (topic === BOOK_TOPIC) changeSets.push(p as BookChange);
  });
  for (const r of records) collect.publish(r.topic, r.tick);
  // Timed on a fresh engine with a sink that does nothing (the hub's cost is the fold's, below).
  let sinkCount = 0;
  const timed = mk(() => void sinkCount++);
  const t = process.hrtime.bigint();
  for (const r of records) timed.publish(r.topic, r.tick);
  const ns = Number(process.hrtime.bigint() - t);
  if (sinkCount === 0) throw new Error('book engine published nothing');
  return { changeSets, nsPerRecord: ns / records.length };
}

function foldOf(): FoldState {
  return FOLDS.book!.create(BOOK_TOPIC, { unitsOf: () => BOOK_UNITS });
}

/** A book with `levels` per side around a mid, on the BTC-USD grid. */
function deepBook(levels: number): Book {
  const b = new Book();
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let i = 0; i < levels; i++) {
    bids.push([round(65000 - i * 0.05, 2), round(0.01 + (i % 17) * 0.003, 5)]);
    asks.push([round(65000.2 + i * 0.05, 2), round(0.01 + (i % 13) * 0.004, 5)]);
  }
  b.apply(bids, asks, 1_700_000_000_000);
  return b;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** µs per call, the median of `reps` single timings after a warm-up of reps/10. */
function timeUs(reps: number, f: () => unknown): number {
  for (let i = 0; i < Math.max(10, reps / 10); i++) f();
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    f();
    xs.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return median(xs);
}

/** The 100 ms view's merged change sets over the raw ones (intervals of the change sets' ts). */
export function throttledSets(raw: BookChange[], intervalMs: number): { merged: BookChange[]; nsPerChangeSet: number } {
  const state = foldOf();
  const merger = FOLDS.book!.merger!();
  const merged: BookChange[] = [];
  const t = process.hrtime.bigint();
  let due = (raw[0]?.ts ?? 0) + intervalMs;
  for (const c of raw) {
    if (c.ts >= due && merger.count > 0) {
      merged.push(merger.take(state) as BookChange);
      due += intervalMs * Math.max(1, Math.floor((c.ts - due) / intervalMs) + 1);
    }
    merger.add(c);
  }
  if (merger.count > 0) merged.push(merger.take(state) as BookChange);
  return { merged, nsPerChangeSet: Number(process.hrtime.bigint() - t) / raw.length };
}

function frameBytes(codec: WireCodec, sets: BookChange[], perFrame: number): number {
  let bytes = 0;
  for (let i = 0, seq = 1; i < sets.length; i += perFrame, seq += perFrame) {
    bytes += codec.encodeUpd(BOOK_TOPIC, 'book', seq, sets, i, Math.min(sets.length, i + perFrame)).length;
  }
  return bytes;
}

/** All the micro figures (a few seconds at FULL_MICRO on one core). */
export function measureBookMicro(sizes: BookMicroSizes): BookMicroResult {
  const records = bookRecords(sizes.records, sizes.rate);
  const { changeSets, nsPerRecord } = runEngine(records);
  // The fold: every raw change set into a fresh topic book, timed as a whole.
  const fold = foldOf();
  const t = process.hrtime.bigint();
  for (const c of changeSets) fold.apply(c);
  const foldNs = Number(process.hrtime.bigint() - t) / changeSets.length;

  const snapshots = [10, 100, 1000].map((depth) => {
    const book = deepBook(1000);
    const codec = microCodecs()[0] as WireCodec;
    const snap = book.snapshot(depth, BOOK_UNITS);
    return {
      depth,
      snapshotUs: round(
        timeUs(sizes.snapshotReps, () => book.snapshot(depth, BOOK_UNITS)),
        3,
      ),
      encodeUs: round(
        timeUs(sizes.snapshotReps, () => codec.encodeSnap(BOOK_TOPIC, 'book', 1, 'e', snap)),
        3,
      ),
      frameBytes: codec.encodeSnap(BOOK_TOPIC, 'book', 1, 'e', snap).length,
    };
  });

  const { merged, nsPerChangeSet: mergeNs } = throttledSets(changeSets, 100);
  const codecs = microCodecs();
  const wire: WireRow[] = codecs.map((codec) => ({
    codec: codec.name,
    rawPerChangeSet: round(frameBytes(codec, changeSets, 1) / changeSets.length, 2),
    rawBatchedPerChangeSet: round(frameBytes(codec, changeSets, 20) / changeSets.length, 2),
    throttledPerChangeSet: round(frameBytes(codec, merged, 1) / merged.length, 2),
    throttledPerRawChangeSet: round(frameBytes(codec, merged, 1) / changeSets.length, 2),
  }));
  const levels = changeSets.reduce((a, c) => a + c.b.length + c.a.length, 0);
  return {
    records: records.length,
    changeSets: changeSets.length,
    levelsPerChangeSet: round(levels / changeSets.length, 2),
    engineNsPerRecord: round(nsPerRecord, 0),
    foldNsPerChangeSet: round(foldNs, 0),
    mergeNsPerChangeSet: round(mergeNs, 0),
    snapshots,
    wire,
    throttled: { intervals: merged.length, rawCovered: changeSets.length },
  };
}
