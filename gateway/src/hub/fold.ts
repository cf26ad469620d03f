import { Book, ChangeMerger, DEFAULT_BOOK_UNITS, type BookChange, type BookSnapshot, type BookUnits } from '../../../protocol/src/book.js';
import type { TopicKind } from '../../../protocol/src/kinds.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import { parseTopic } from '../../../protocol/src/topics.js';

/**
 * Snapshot `fold` and throttle `merge` (TopicSemantics), per kind: the hub folds every flushed
 * update of such a topic into a state, and a snap carries that state instead of the newest
 * update; a throttled view merges the updates of its interval into one. The hub only calls
 * these interfaces; what a state is (an order book) is the kind's adapter, registered in FOLDS.
 */

/** The state a topic folds its updates into, at the topic's newest flushed seq. */
export interface FoldState {
  /** Applies one update, in seq order. */
  apply(update: Payload): void;
  /** What a snap carries: the whole state as the kind's snapshot payload. */
  snapshot(): Payload;
  /**
   * The replica gap or dropped updates (continuity.ts): updates were lost, the state cannot be
   * trusted. It must say so in every snapshot until the updates themselves rebuild it.
   */
  lose(): void;
  /** Loads a `snapshot()` of another hub's state into this empty one (a replica's importState). */
  load(snapshot: Payload): void;
  /** An independent copy (a throttled view keeps the state at its own last seq). */
  clone(): FoldState;
}

/** Accumulates the updates of a view's interval; `take` turns them into the one update a view sends. */
export interface Merger {
  /** Updates added since the last take. */
  readonly count: number;
  add(update: Payload): void;
  /**
   * The merged update, applied to `state` (the view's state at its last update, which this
   * advances), complete with whatever the kind derives from the state after it. Resets.
   */
  take(state: FoldState): Payload;
}

/** What the hub needs from a kind to serve snapshot `fold` (and, with `merger`, throttle `merge`). */
export interface FoldAdapter {
  /** An empty state for `topic`. */
  create(topic: string, deps: FoldDeps): FoldState;
  /** Present when the kind's updates can be merged per interval (throttle `merge`). */
  merger?(): Merger;
}

/** What adapters get from the hub's options. */
export interface FoldDeps {
  /** A symbol's tick and lot sizes (order-book checksums); DEFAULT_BOOK_UNITS when unknown. */
  unitsOf(symbol: string): BookUnits;
}

/**
 * An order book topic (`book.<SYMBOL>` or a depth-limited `book.<SYMBOL>:<depth>`): its change
 * sets (BookChange), applied from an empty book, are the book; a snap is the whole book in the
 * symbol's units. A change set flagged `stale` empties it and the flag stays until the next one.
 */
class BookFold implements FoldState {
  private book = new Book();
  private stale = false;
  /** Change sets were lost (see lose): until a `stale` one empties it, the book is not known. */
  private lost = false;

  /** `units` is asked at each snapshot: the symbol directory may learn the symbol after the book's first change. */
  constructor(private readonly units: () => BookUnits) {}

  apply(update: Payload): void {
    const c = update as BookChange;
    if (this.lost) {
      if (c.stale !== true) return;
      this.lost = false;
      this.book = new Book();
    }
    this.book.apply(c.b, c.a, c.ts);
    this.stale = c.stale === true;
  }

  snapshot(): BookSnapshot {
    // A lost book is shown as a stale empty one: flagged, never silently wrong.
    if (this.lost) return { ...new Book().snapshot(0, this.units()), ts: this.book.ts, stale: true };
    const s = this.book.snapshot(Infinity, this.units());
    return this.stale ? { ...s, stale: true } : s;
  }

  lose(): void {
    this.lost = true;
  }

  load(snapshot: Payload): void {
    const s = snapshot as BookSnapshot;
    this.book = new Book();
    this.book.apply(s.bids, s.asks, s.ts);
    this.stale = s.stale === true;
  }

  clone(): BookFold {
    const c = new BookFold(this.units);
    c.book = this.book.clone();
    c.stale = this.stale;
    c.lost = this.lost;
    return c;
  }

  /** Checksum of the top levels (what a merged change set carries as `cs`). */
  checksum(): number {
    return this.lost ? 0 : this.book.checksum(this.units());
  }
}

/** Per-level last-write-wins over a view's interval (ChangeMerger), with the last change's `stale` flag. */
class BookMerger implements Merger {
  private readonly m = new ChangeMerger();
  private stale = false;

  get count(): number {
    return this.m.count;
  }

  add(update: Payload): void {
    const c = update as BookChange;
    this.m.add(c);
    this.stale = c.stale === true;
  }

  take(state: FoldState): BookChange {
    const out: BookChange = { ...this.m.take(), cs: 0 };
    if (this.stale) out.stale = true;
    this.stale = false;
    const book = state as BookFold;
    book.apply(out);
    // The checksum of the state the merged change set leads to: the base topic's at the same seq.
    out.cs = book.checksum();
    return out;
  }
}

const book: FoldAdapter = {
  create(topic, deps) {
    const symbol = parseTopic(topic)?.symbol;
    return new BookFold(symbol === undefined ? () => DEFAULT_BOOK_UNITS : () => deps.unitsOf(symbol));
  },
  merger: () => new BookMerger(),
};

/** The kinds whose snapshot is a fold, by kind. A kind asking for `fold` without an entry here is refused (semantics.ts). */
export const FOLDS: Partial<Record<TopicKind, FoldAdapter>> = { book };

export const NO_UNITS: FoldDeps = { unitsOf: () => DEFAULT_BOOK_UNITS };
