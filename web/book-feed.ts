/**
 * The board's one binding to the order-book wire (`book.<SYMBOL>:<depth>`): a local copy of the
 * book, kept with protocol's Book and verified against the checksum the gateway sends with every
 * snapshot and change set. Everything else on the page reads a BookFeed's `book`, so this module
 * is what changes when the SDK's own `client.book()` replaces the generic subscription.
 */
import type { Subscription, SubscriptionEvent, TickwireClient } from '../client/ts/src/index.js';
import { Book, DEFAULT_BOOK_UNITS, type BookChange, type BookSnapshot, type BookUnits, type Level } from '../protocol/src/book.js';

/** A second resync within this long of the previous one waits (1 s, doubling up to this). */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** Why the local book was dropped and fetched again. */
export type BookResyncReason = 'checksum' | 'shape';

/**
 * A verified local copy of one book view, fed the payloads of its topic in order. Pure: no
 * sockets and no timers, so the unit tests drive it with payloads directly.
 */
export class LocalBook {
  private book = new Book();
  units: BookUnits = DEFAULT_BOOK_UNITS;
  /** A snapshot was applied and every change since verified: what the book shows is the gateway's. */
  synced = false;
  /** The gateway flagged the book stale (upstream data rejected): it is empty until refilled. */
  stale = false;
  /** Change sets whose checksum did not match the local copy after applying them (each causes a resync). */
  checksumFailures = 0;
  /** Snapshots and change sets applied. */
  applied = 0;
  /** Bumped on every change, so a renderer can skip unchanged frames. */
  version = 0;

  /** The top `n` levels of each side, best first. */
  levels(n: number): { bids: Level[]; asks: Level[] } {
    return { bids: this.book.bids.levels(n), asks: this.book.asks.levels(n) };
  }

  get ts(): number {
    return this.book.ts;
  }

  /**
   * Applies one payload of the topic: a snapshot replaces the book, a change set is applied on top.
   * Returns false when the local copy can no longer be trusted (checksum mismatch, a change set
   * before any snapshot, an unknown shape); the caller then fetches a fresh snapshot.
   */
  apply(payload: unknown): { ok: true } | { ok: false; reason: BookResyncReason } {
    const p = payload as Partial<BookSnapshot & BookChange> | null;
    if (p && Array.isArray(p.bids) && Array.isArray(p.asks)) return this.applySnapshot(p as BookSnapshot);
    if (p && Array.isArray(p.b) && Array.isArray(p.a) && this.synced) return this.applyChange(p as BookChange);
    this.reset();
    return { ok: false, reason: 'shape' };
  }

  /** Forgets everything (while a fresh snapshot is on its way). */
  reset(): void {
    this.book = new Book();
    this.synced = false;
    this.version++;
  }

  private applySnapshot(s: BookSnapshot): { ok: true } | { ok: false; reason: BookResyncReason } {
    this.book = new Book();
    if (typeof s.tick === 'number' && typeof s.lot === 'number') this.units = { tick: s.tick, lot: s.lot };
    this.book.apply(s.bids, s.asks, s.ts);
    this.stale = s.stale === true;
    return this.verify(s.cs);
  }

  private applyChange(c: BookChange): { ok: true } | { ok: false; reason: BookResyncReason } {
    this.book.apply(c.b, c.a, c.ts);
    this.stale = c.stale === true;
    return this.verify(c.cs);
  }

  private verify(cs: number): { ok: true } | { ok: false; reason: BookResyncReason } {
    this.applied++;
    this.version++;
    if (this.book.checksum(this.units) !== cs) {
      this.checksumFailures++;
      this.reset();
      return { ok: false, reason: 'checksum' };
    }
    this.synced = true;
    return { ok: true };
  }
}

/** What the page is told about a book feed besides its levels. */
export interface BookFeedEvents {
  /** The book changed (a snapshot or a change set was applied). */
  onChange(): void;
  /** The subscription was refused or ended with an error (e.g. the gateway has no books). */
  onError(message: string): void;
}

/**
 * Keeps `book.<symbol>:<depth>` as a LocalBook over a generic SDK subscription. A checksum
 * mismatch drops the local copy and subscribes again for a fresh snapshot, so the page never
 * shows a book that differs from the gateway's.
 */
export class BookFeed {
  readonly book = new LocalBook();
  readonly topic: string;
  /** Times the feed fetched a fresh snapshot because the local copy could not be trusted. */
  resubscribes = 0;
  private sub: Subscription | undefined;
  private closed = false;
  private lastResubscribe = -Infinity;
  private retryMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: TickwireClient,
    symbol: string,
    depth: 10 | 25 | 100,
    private readonly events: BookFeedEvents,
  ) {
    this.topic = `book.${symbol}:${depth}`;
    this.open();
  }

  private open(): void {
    const sub = this.client.subscribe(this.topic, (ev) => this.onEvent(sub, ev));
    this.sub = sub;
    sub.ready.catch((e: Error) => {
      if (!this.closed && this.sub === sub) this.events.onError(`${this.topic}: ${e.message}`);
    });
  }

  private onEvent(sub: Subscription, ev: SubscriptionEvent): void {
    if (this.closed || sub !== this.sub) return;
    // gap: the SDK resubscribes by itself and a resync (a fresh snapshot) follows. moved: same data.
    if (ev.type === 'gap' || ev.type === 'moved') return;
    const r = this.book.apply(ev.tick);
    this.events.onChange();
    if (!r.ok) this.resubscribe();
  }

  /**
   * A fresh snapshot: unsubscribe, then subscribe again (the server handles them in order). Should
   * the gateway keep disagreeing with the local copy, retries back off (up to RETRY_MAX_MS) rather
   * than resubscribe on every change set.
   */
  private resubscribe(): void {
    this.resubscribes++;
    const old = this.sub;
    this.sub = undefined;
    old?.unsubscribe().catch(() => {}); // a closed connection has nothing left to unsubscribe
    const now = Date.now();
    this.retryMs = now - this.lastResubscribe < RETRY_MAX_MS ? Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.retryMs * 2)) : 0;
    this.lastResubscribe = now;
    if (this.retryMs === 0) return this.open();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) this.open();
    }, this.retryMs);
  }

  /** Unsubscribes; the feed delivers nothing more. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.sub?.unsubscribe().catch(() => {});
    this.sub = undefined;
  }
}
