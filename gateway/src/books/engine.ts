import type { Logger } from 'pino';
import {
  Book,
  BOOK_DEPTHS,
  CHECKSUM_LEVELS,
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
import { TopChecksum } from './checksum.js';
import { NO_CHANGES, setFound, SideChanges, Touched, windowChanges, windowEdge } from './window.js';

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
  /** Keeps `cs` incrementally: its cached prefix always describes the book's current top 10. */
  checksum: TopChecksum;
  /** `book.X` and its depth views, with the depth each shows (the full topic's is maxDepth). */
  topics: readonly string[];
  depths: readonly number[];
  /**
   * Topic indexes by depth, deepest first. Windows nest: when the top D levels of a side are the
   * same before and after a change set, so are its top d < D, so a delta stops at the first
   * window (per side) that did not change.
   */
  deepestFirst: readonly number[];
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
  /** The same states by `book.<SYMBOL>`, the key every record comes with. */
  private readonly byTopic = new Map<string, BookState>();
  private readonly rejects: RejectLog;
  private readonly now: () => number;
  /** Window boundaries before a delta, per topic (reused: one delta at a time). */
  // Doubles in typed arrays (±∞: the side had fewer levels, windowEdge): no boxed number per boundary.
  private readonly bBefore = new Float64Array(BOOK_DEPTHS.length + 1);
  private readonly aBefore = new Float64Array(BOOK_DEPTHS.length + 1);
  /** A delta's window changes per topic (reused likewise). */
  private readonly bOut: (readonly Level[])[] = [];
  private readonly aOut: (readonly Level[])[] = [];
  /** A delta's touched prices per side (reused likewise). */
  private readonly bTouched = new Touched();
  private readonly aTouched = new Touched();
  /** A delta's changed levels per side, best first (reused likewise). */
  private readonly bChanges = new SideChanges();
  private readonly aChanges = new SideChanges();
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
    // By topic first: slicing out the symbol made a new string to hash on every record.
    let st = this.byTopic.get(topic);
    if (st !== undefined) return st;
    const symbol = topic.slice(PREFIX.length);
    st = this.books.get(symbol);
    if (st === undefined) {
      const max = this.opts.maxDepth;
      const depths = [max, ...BOOK_DEPTHS.map((d) => Math.min(d, max))];
      st = {
        symbol,
        book: new Book(),
        status: 'none',
        u: undefined,
        cs: 0,
        checksum: new TopChecksum(),
        topics: [topic, ...BOOK_DEPTHS.map((d) => `${topic}:${d}`)],
        depths,
        deepestFirst: depths.map((_, i) => i).sort((x, y) => (depths[y] as number) - (depths[x] as number)),
      };
      this.books.set(symbol, st);
    }
    this.byTopic.set(topic, st);
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
    const cs = st.checksum.update(next.bids, next.asks, this.units(st.symbol));
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
      bBefore[i] = windowEdge(book.bids, st.depths[i] as number);
      aBefore[i] = windowEdge(book.asks, st.depths[i] as number);
    }
    const bT = this.bTouched;
    const aT = this.aTouched;
    bT.clear();
    aT.clear();
    for (const c of r.changes) {
      const px = c[1];
      const bid = c[0] === 'b';
      const side = bid ? book.bids : book.asks;
      // One binary search for both the size before and the update.
      const i = side.find(px);
      (bid ? bT : aT).add(px, i >= 0 ? (side.qty[i] as number) : 0, c[2]);
      setFound(side, i, px, c[2]);
    }
    if (book.crossed()) {
      bT.revert(book.bids);
      aT.revert(book.asks);
      return this.reject(st, 'book_crossed', `${topic}: delta would cross the book`, r.ts, src, off);
    }
    const bf = this.bChanges.build(bT, true);
    const af = this.aChanges.build(aT, false);
    const n = st.topics.length;
    const bs = this.bOut;
    const as = this.aOut;
    // Deepest window first; once a side's window did not change, the shallower ones did not either.
    let bLive = bf.size > 0;
    let aLive = af.size > 0;
    for (const i of st.deepestFirst) {
      const d = st.depths[i] as number;
      bs[i] = bLive ? windowChanges(book.bids, d, bBefore[i] as number, bf) : NO_CHANGES;
      as[i] = aLive ? windowChanges(book.asks, d, aBefore[i] as number, af) : NO_CHANGES;
      bLive = bs[i].length > 0;
      aLive = as[i].length > 0;
    }
    // The checksum covers the top 10: it changes only with the `:10` window (index 1).
    const b10 = bs[1] as readonly Level[];
    const a10 = as[1] as readonly Level[];
    if (b10.length > 0 || a10.length > 0) {
      // A side whose `:10` window did not change kept its top 10 (unless bookMaxDepth is below 10).
      const exact = st.depths[1] === CHECKSUM_LEVELS;
      st.cs = st.checksum.update(book.bids, book.asks, this.units(st.symbol), exact && b10.length === 0, exact && a10.length === 0);
    }
    for (let i = 0; i < n; i++) {
      const b = bs[i] as readonly Level[];
      const a = as[i] as readonly Level[];
      // An empty side is the shared NO_CHANGES: published as a fresh array, like every other.
      if (b.length > 0 || a.length > 0)
        this.target.publish(st.topics[i] as string, { ts: r.ts, b: b.length > 0 ? b : [], a: a.length > 0 ? a : [], cs: st.cs }, src, off);
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
    st.checksum.reset();
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
