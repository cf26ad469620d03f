import type { Logger } from 'pino';
import {
  Book,
  BOOK_DEPTHS,
  DEFAULT_BOOK_UNITS,
  windowDiff,
  type BookChange,
  type BookUnits,
  type Level,
} from '../../../protocol/src/book.js';
import type { BookDeltaRecord, BookRecord, BookSnapshotRecord } from '../../../protocol/src/book-record.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import type { RejectReason } from '../../../protocol/src/validate.js';
import { RejectLog } from '../sources/reject-log.js';
import type { TickSink } from '../sources/source.js';
import { sidesChecksum } from './checksum.js';
import { boundary, sideWindowChanges, sizeAt, touched, type BookSide } from './window.js';

const PREFIX = 'book.';

export interface BookEngineOptions {
  /** Levels kept per side of each book (setting bookMaxDepth); worse ones are dropped. */
  maxDepth: number;
  /** The symbol's tick and lot sizes for the checksum; DEFAULT_BOOK_UNITS when undefined. */
  units: (symbol: string) => BookUnits | undefined;
  /** Where rejections are counted (the ingest stats behind tickwire_ingest_rejected_total). */
  stats: { rejected: Record<RejectReason, number> };
  log: Logger;
  /** Clock for the change set a rejection without a record time publishes (tests inject one). */
  now?: () => number;
}

/**
 * `live`: a snapshot record was applied and nothing was rejected since. `stale`: a record was
 * rejected; subscribers were told (a change set with `stale: true` emptied the book) and deltas
 * are ignored until the next snapshot record. `none`: no snapshot record yet.
 */
type Status = 'none' | 'live' | 'stale';

interface BookState {
  symbol: string;
  book: Book;
  status: Status;
  /** The previous record's upstream sequence `u`, if it had one. */
  u: number | undefined;
  /** Checksum of the book's top 10 as last published. */
  cs: number;
  /** `book.X` and its depth views, with the depth each shows (the full topic's is maxDepth). */
  topics: readonly string[];
  depths: readonly number[];
}

/**
 * The order-book engine: a TickSink in front of the hub that turns ingest book records (snapshots
 * and deltas, keyed `book.<SYMBOL>`) into the change sets of the four book topics, keeping each
 * symbol's book. Ticks of every other kind go straight through, and so do book change sets a
 * source publishes itself (no `type`; tests script the hub's input so). See docs/ingest.md, "Order books".
 *
 * For each applied record it publishes, with the record's (src, off): on `book.X` the levels that
 * changed within maxDepth (a level pushed out by truncation as an explicit removal), and on each
 * `book.X:<depth>` the window diff of its top levels, skipped when the window did not change.
 * Every change set carries the checksum of the top 10 levels in the symbol's units.
 *
 * A record that cannot be applied (a delta whose `pu` is not the previous `u`, a crossed result)
 * or that the source rejected (`rejected`) makes the book stale; a delta with no book to apply to
 * is counted as `book_no_snapshot`. Runs on the thread that owns the source, once per process.
 */
export class BookEngine implements TickSink {
  private readonly books = new Map<string, BookState>();
  private readonly rejects: RejectLog;
  private readonly now: () => number;
  /** Window boundaries before a delta, per topic (reused: one delta at a time). */
  private readonly bBefore: (number | undefined)[] = [];
  private readonly aBefore: (number | undefined)[] = [];
  /** A delta's window changes per topic (reused likewise). */
  private readonly bOut: Level[][] = [];
  private readonly aOut: Level[][] = [];
  readonly upstreamReset?: (topics: readonly string[]) => void;

  constructor(
    private readonly target: TickSink,
    private readonly opts: BookEngineOptions,
  ) {
    this.rejects = new RejectLog(opts.stats, opts.log, 'book record rejected');
    this.now = opts.now ?? Date.now;
    const reset = target.upstreamReset?.bind(target);
    if (reset) this.upstreamReset = (topics) => reset(this.onReset(topics));
  }

  publish(topic: string, tick: Payload, src?: string, off?: number): void {
    // The one check every other tick pays.
    if (!topic.startsWith(PREFIX)) return this.target.publish(topic, tick, src, off);
    const r = tick as BookRecord;
    // Not a record but a change set already (a test's scripted source): it is the hub's input as is.
    if (r.type !== 'snapshot' && r.type !== 'delta') return this.target.publish(topic, tick, src, off);
    const st = this.state(topic);
    if (r.type === 'snapshot') this.snapshot(st, r, src, off);
    else this.delta(st, r, src, off);
  }

  rejected(topic: string, reason: RejectReason, src?: string, off?: number): void {
    this.target.rejected?.(topic, reason, src, off);
    // Only records of a book itself (not of a made-up view key) leave a book incomplete.
    if (!topic.startsWith(PREFIX) || topic.includes(':')) return;
    this.goStale(this.state(topic), this.now(), src, off);
  }

  /** The symbols' books as they stand (tests, diagnostics): undefined when stale or never filled. */
  book(symbol: string): Book | undefined {
    const st = this.books.get(symbol);
    return st?.status === 'live' ? st.book : undefined;
  }

  private state(topic: string): BookState {
    const symbol = topic.slice(PREFIX.length);
    let st = this.books.get(symbol);
    if (st === undefined) {
      const max = this.opts.maxDepth;
      st = {
        symbol,
        book: new Book(),
        status: 'none',
        u: undefined,
        cs: 0,
        topics: [topic, ...BOOK_DEPTHS.map((d) => `${topic}:${d}`)],
        depths: [max, ...BOOK_DEPTHS.map((d) => Math.min(d, max))],
      };
      this.books.set(symbol, st);
    }
    return st;
  }

  private units(symbol: string): BookUnits {
    return this.opts.units(symbol) ?? DEFAULT_BOOK_UNITS;
  }

  /** Replaces the book: subscribers get the diff from what they hold to the new levels as one change set. */
  private snapshot(st: BookState, r: BookSnapshotRecord, src?: string, off?: number): void {
    const next = new Book();
    next.apply(r.bids, r.asks, r.ts);
    next.truncate(this.opts.maxDepth);
    if (next.crossed()) return this.reject(st, 'book_crossed', `book.${st.symbol}: snapshot is crossed`, r.ts, src, off);
    const old = st.book;
    const cs = sidesChecksum(next.bids, next.asks, this.units(st.symbol));
    for (let i = 0; i < st.topics.length; i++) {
      const d = st.depths[i] as number;
      const b = windowDiff(old.bids.levels(d), next.bids.levels(d), true);
      const a = windowDiff(old.asks.levels(d), next.asks.levels(d), false);
      // Coming back from stale (or the first fill), every topic gets its change set, also an empty
      // one: it is the unflagged change set that tells subscribers the book is live again.
      if (st.status !== 'live' || b.length > 0 || a.length > 0)
        this.target.publish(st.topics[i] as string, { ts: r.ts, b, a, cs }, src, off);
    }
    st.book = next;
    st.status = 'live';
    st.u = r.u;
    st.cs = cs;
  }

  private delta(st: BookState, r: BookDeltaRecord, src?: string, off?: number): void {
    const topic = st.topics[0] as string;
    if (st.status !== 'live') {
      const why = st.status === 'none' ? 'no snapshot record yet' : 'the book is stale until the next snapshot record';
      this.rejects.reject('book_no_snapshot', `${topic}: delta ignored: ${why}`, { topic, src, off });
      return;
    }
    if (r.pu !== undefined && st.u !== undefined && r.pu !== st.u)
      return this.reject(st, 'book_sequence', `${topic}: delta pu ${r.pu} does not follow u ${st.u}`, r.ts, src, off);

    const { book } = st;
    // Window boundaries before the change set, per topic, then the change set itself.
    const bBefore = this.bBefore;
    const aBefore = this.aBefore;
    for (let i = 0; i < st.depths.length; i++) {
      bBefore[i] = boundary(book.bids, st.depths[i] as number);
      aBefore[i] = boundary(book.asks, st.depths[i] as number);
    }
    const bChanged = new Map<number, number>();
    const aChanged = new Map<number, number>();
    for (const [s, px, qty] of r.changes) {
      const side = s === 'b' ? book.bids : book.asks;
      const changed = s === 'b' ? bChanged : aChanged;
      if (!changed.has(px)) changed.set(px, sizeAt(side, px));
      side.set(px, qty);
    }
    if (book.crossed()) {
      revert(book.bids, bChanged);
      revert(book.asks, aChanged);
      return this.reject(st, 'book_crossed', `${topic}: delta would cross the book`, r.ts, src, off);
    }
    const bt = bChanged.size > 0 ? touched(book.bids, bChanged) : undefined;
    const at = aChanged.size > 0 ? touched(book.asks, aChanged) : undefined;
    const n = st.topics.length;
    const bs = this.bOut;
    const as = this.aOut;
    for (let i = 0; i < n; i++) {
      const d = st.depths[i] as number;
      bs[i] = bt ? sideWindowChanges(book.bids, d, bBefore[i], bt) : [];
      as[i] = at ? sideWindowChanges(book.asks, d, aBefore[i], at) : [];
    }
    // The checksum covers the top 10: it changes only with the `:10` window (index 1).
    if ((bs[1] as Level[]).length > 0 || (as[1] as Level[]).length > 0) st.cs = sidesChecksum(book.bids, book.asks, this.units(st.symbol));
    for (let i = 0; i < n; i++) {
      const b = bs[i] as Level[];
      const a = as[i] as Level[];
      if (b.length > 0 || a.length > 0) this.target.publish(st.topics[i] as string, { ts: r.ts, b, a, cs: st.cs }, src, off);
    }
    book.truncate(this.opts.maxDepth);
    book.ts = r.ts;
    st.u = r.u;
  }

  private reject(st: BookState, reason: RejectReason, detail: string, ts: number, src?: string, off?: number): void {
    this.rejects.reject(reason, detail, { topic: st.topics[0], src, off });
    this.goStale(st, ts, src, off);
  }

  /** Empties what every subscriber holds, flagged stale, once; deltas wait for a snapshot record. */
  private goStale(st: BookState, ts: number, src?: string, off?: number): void {
    if (st.status === 'stale') return;
    for (let i = 0; i < st.topics.length; i++) {
      const d = st.depths[i] as number;
      const change: BookChange = { ts, b: removals(st.book.bids.levels(d)), a: removals(st.book.asks.levels(d)), cs: 0, stale: true };
      this.target.publish(st.topics[i] as string, change, src, off);
    }
    st.book = new Book();
    st.status = 'stale';
    st.u = undefined;
    st.cs = 0;
  }

  /** The books of a restarted upstream: what they held belongs to the old one. Returns the topics to pass on. */
  private onReset(topics: readonly string[]): string[] {
    const out: string[] = [];
    for (const t of topics) {
      const st = t.startsWith(PREFIX) && !t.includes(':') ? this.books.get(t.slice(PREFIX.length)) : undefined;
      if (st === undefined) {
        out.push(t);
        continue;
      }
      if (st.status === 'live') this.goStale(st, Math.max(st.book.ts, this.now()));
      out.push(...st.topics);
    }
    return out;
  }
}

function removals(levels: Level[]): Level[] {
  for (const l of levels) l[1] = 0;
  return levels;
}

/** Puts back the sizes a change set found (`changed`: price → size before, 0 none). */
function revert(side: BookSide, changed: ReadonlyMap<number, number>): void {
  for (const [px, qty] of changed) side.set(px, qty);
}
