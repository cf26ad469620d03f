/**
 * A maintained, verified order book on top of one book subscription: the SDK applies the topic's
 * snapshots and change sets to the protocol's {@link Book}, checks the checksum after each, and
 * resubscribes by itself when it fails. Continuity (gaps, resume, reconnect) is the
 * subscription's job; this module only turns its events into book states.
 */
import {
  Book,
  BOOK_DEPTHS,
  type BookChange,
  type BookDepth,
  type BookSnapshot,
  type BookUnits,
  type Level,
} from '../../../protocol/src/book.js';
import { TickwireError } from './errors.js';
import type { Subscription } from './subscription.js';
import type { ResyncReason, SubscriptionEvent, Tick } from './types.js';

export type { BookChange, BookDepth, BookSnapshot, BookUnits, Level } from '../../../protocol/src/book.js';
export { bookChecksum, BOOK_DEPTHS, CHECKSUM_LEVELS } from '../../../protocol/src/book.js';

/**
 * Throttle intervals of a book view, in ms (`book.<SYMBOL>@100ms` …): the protocol's
 * THROTTLE_INTERVALS, listed here because topics.ts brings the whole kind registry into a bundle.
 */
export const BOOK_THROTTLES = [100, 250, 500, 1000] as const;
export type BookThrottle = (typeof BOOK_THROTTLES)[number];

/** Options of {@link TickwireClient.book}. */
export interface BookOptions {
  /** Levels per side (the view `book.<SYMBOL>:<depth>`). Default: every level the gateway keeps (`book.<SYMBOL>`). */
  depth?: BookDepth;
  /**
   * At most one change set per interval (the view `…@<throttle>ms`): the changes of the interval
   * merged per level. Default: every change set.
   */
  throttle?: BookThrottle;
}

/**
 * The topic of a book view: `book.<SYMBOL>[:<depth>][@<throttle>ms]`. Throws a TypeError for a
 * depth or throttle the protocol has no view for.
 */
export function bookTopic(symbol: string, opts: BookOptions = {}): string {
  if (typeof symbol !== 'string' || symbol === '') throw new TypeError('tickwire: book symbol must be a non-empty string');
  let topic = `book.${symbol}`;
  if (opts.depth !== undefined) {
    if (!(BOOK_DEPTHS as readonly number[]).includes(opts.depth))
      throw new TypeError(`tickwire: book depth must be one of ${BOOK_DEPTHS.join(', ')} (got ${String(opts.depth)})`);
    topic += `:${opts.depth}`;
  }
  if (opts.throttle !== undefined) {
    if (!(BOOK_THROTTLES as readonly number[]).includes(opts.throttle))
      throw new TypeError(`tickwire: book throttle must be one of 100, 250, 500, 1000 (got ${String(opts.throttle)})`);
    topic += `@${opts.throttle}ms`;
  }
  return topic;
}

/**
 * Why the book was (re)built from a snapshot: `start` (the first one), a subscription
 * {@link ResyncReason} (`server`, `epoch`, `gap`, `snapshot`, and `checksum` after a failed
 * verification), or `resubscribed` (a fresh snapshot that continues the stream, as a throttled
 * view sends after a reconnect).
 */
export type BookSnapshotReason = 'start' | 'resubscribed' | ResyncReason;

/**
 * What happened to an {@link OrderBook}, in order. The book itself is always in a verified state
 * when a listener sees it.
 *
 * - `snapshot`: the book was replaced by a verified snapshot (`reason` says why).
 * - `change`: one verified change set was applied (`bids`/`asks` as received: qty 0 removed the
 *   level). On a throttled view `seq` may jump: the change set covers the whole interval.
 * - `stale`: the gateway flagged the upstream book invalid; the book is now empty and `stale`
 *   until a later change set or snapshot refills it (a `change` or `snapshot` event).
 * - `resyncing`: the book stopped following the stream (`checksum`: a snapshot or change set
 *   did not verify, and it was not applied; `gap`: the subscription saw a sequence gap). It keeps
 *   its last verified state, `synced` is false, and a fresh snapshot follows by itself.
 */
export type BookEvent =
  | { type: 'snapshot'; seq: number; reason: BookSnapshotReason }
  | { type: 'change'; seq: number; bids: readonly Level[]; asks: readonly Level[] }
  | { type: 'stale'; seq: number }
  | { type: 'resyncing'; reason: 'checksum'; seq: number; expected: number; got: number }
  | { type: 'resyncing'; reason: 'gap'; expected: number; got: number };

/** What an {@link OrderBook} needs from its client. @internal */
export interface BookOwner {
  /** Subscribes the book's topic with a synchronous listener. */
  subscribe(topic: string, listener: (ev: SubscriptionEvent) => void): Subscription;
  /** Restarts the topic's stream (unsub + sub); its fresh snapshot is a resync with reason `checksum`. */
  resync(topic: string): void;
  /** A book listener threw. */
  listenerError(err: unknown): void;
}

const noop = (): void => {};

/**
 * Consecutive failed verifications (with no verified state between them) after which the book
 * gives up with `checksum_mismatch` instead of resubscribing again: a gateway whose snapshots keep
 * failing would otherwise be asked for a fresh one forever.
 */
export const MAX_CHECKSUM_RESYNCS = 5;

/**
 * An order book the SDK keeps in sync with a book topic, returned by {@link TickwireClient.book}.
 *
 * Every snapshot and change set is verified against its checksum (`cs`, CRC-32 of the top 10
 * levels in tick and lot units, the protocol's `bookChecksum`) before the book shows it. On a
 * mismatch the book is left at its last verified state, `synced` turns false, a `resyncing` event
 * says why, and the topic is resubscribed; the fresh snapshot rebuilds the book. Gaps, resume and
 * reconnects are handled by the subscription underneath, as for any topic.
 *
 * Two ways to follow it:
 * - `for await (const book of orderBook)` yields the book (this same object) whenever it has
 *   changed since the last iteration: a slow loop skips intermediate states and always reads the
 *   newest verified one, never a queue of old ones. Read what you need before the next `await`
 *   elsewhere: the object keeps changing. Leaving the loop (`break`) closes the book.
 * - `onChange(cb)` is called synchronously with every {@link BookEvent} (each change set, each
 *   snapshot), for consumers that need every step.
 */
export class OrderBook implements AsyncIterable<OrderBook> {
  /**
   * Resolves when the book first holds a verified snapshot; rejects with a {@link TickwireError}
   * when the subscription is refused (`bad_topic`, `forbidden`, …) or ends first.
   */
  readonly ready: Promise<void>;
  private resolveReady: () => void = noop;
  private rejectReady: (e: unknown) => void = noop;
  private book = new Book();
  private unitsNow: BookUnits | undefined;
  private seqNow: number | undefined;
  private staleNow = false;
  private syncedNow = false;
  private ended = false;
  private endError: TickwireError | undefined;
  private version = 0;
  /** Failed verifications since the last verified state. */
  private mismatches = 0;
  /** Why the book closed itself. */
  private giveUp: TickwireError | undefined;
  private cache: { version: number; bids: readonly Level[]; asks: readonly Level[] } | undefined;
  private readonly listeners = new Set<(ev: BookEvent, book: OrderBook) => void>();
  private readonly iterators = new Set<BookIterator>();
  private readonly sub: Subscription;

  /** @internal Created by {@link TickwireClient.book}. */
  constructor(
    /** The book view's topic, e.g. `book.BTC-USD:10@100ms`. */
    readonly topic: string,
    private readonly owner: BookOwner,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(noop);
    this.sub = owner.subscribe(topic, (ev) => this.onEvent(ev));
    this.sub._onFinish((err) => this.finish(err));
  }

  /** Bid levels `[px, qty]`, best (highest) first. Read-only: the same array until the book changes. */
  get bids(): readonly Level[] {
    return this.levels().bids;
  }

  /** Ask levels `[px, qty]`, best (lowest) first. */
  get asks(): readonly Level[] {
    return this.levels().asks;
  }

  /** The best bid `[px, qty]`, or undefined when there is no bid. */
  get bestBid(): Level | undefined {
    return best(this.book.bids);
  }

  /** The best ask `[px, qty]`, or undefined when there is no ask. */
  get bestAsk(): Level | undefined {
    return best(this.book.asks);
  }

  /** Best ask price minus best bid price; undefined unless both sides have a level. */
  get spread(): number | undefined {
    const b = this.bestBid;
    const a = this.bestAsk;
    return b && a ? a[0] - b[0] : undefined;
  }

  /** Midpoint of the best bid and ask prices; undefined unless both sides have a level. */
  get mid(): number | undefined {
    const b = this.bestBid;
    const a = this.bestAsk;
    return b && a ? (a[0] + b[0]) / 2 : undefined;
  }

  /** Seq of the snapshot or change set the book is at (the last verified one); undefined before the first. */
  get seq(): number | undefined {
    return this.seqNow;
  }

  /** Time of the newest change in the book (the gateway's `ts`, epoch ms). */
  get ts(): number {
    return this.book.ts;
  }

  /** The symbol's tick and lot sizes, as the last snapshot gave them (undefined before the first). */
  get units(): BookUnits | undefined {
    return this.unitsNow;
  }

  /** The gateway flagged the upstream book invalid: the book is empty until it is refilled. */
  get stale(): boolean {
    return this.staleNow;
  }

  /** The book follows the stream: false before the first snapshot and while resyncing (it then keeps its last verified state). */
  get synced(): boolean {
    return this.syncedNow;
  }

  /** False once closed, or when the subscription was refused or the client closed. */
  get active(): boolean {
    return !this.ended;
  }

  /** Calls `cb` synchronously with every event and the book after it. Returns a function that removes it. */
  onChange(cb: (ev: BookEvent, book: OrderBook) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Stops following the topic (unsubscribing it unless another subscription uses it); iterators finish. */
  close(): Promise<void> {
    return this.sub.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<OrderBook> {
    const it = new BookIterator(this, () => {
      this.iterators.delete(it);
      void this.close();
    });
    if (this.ended) it.end(this.endError);
    else {
      this.iterators.add(it);
      if (this.syncedNow) it.changed();
    }
    return it;
  }

  private levels(): { bids: readonly Level[]; asks: readonly Level[] } {
    if (this.cache?.version !== this.version)
      this.cache = { version: this.version, bids: this.book.bids.levels(Infinity), asks: this.book.asks.levels(Infinity) };
    return this.cache;
  }

  private onEvent(ev: SubscriptionEvent<Tick>): void {
    switch (ev.type) {
      case 'snap':
        return this.load(ev.tick as unknown as BookSnapshot, ev.seq, 'start');
      case 'resync':
        return this.load(ev.tick as unknown as BookSnapshot, ev.seq, ev.reason);
      case 'tick': {
        const data = ev.tick as unknown as BookChange | BookSnapshot;
        // A fresh snap that continues the stream reaches subscriptions as a tick: it carries the whole book.
        if ('bids' in data) return this.load(data, ev.seq, 'resubscribed');
        return this.change(data, ev.seq);
      }
      case 'gap':
        if (ev.reason !== 'seq') return; // overflow concerns iterators only; the book listens synchronously
        this.syncedNow = false;
        return this.emit({ type: 'resyncing', reason: 'gap', expected: ev.expected, got: ev.got });
      case 'moved':
        this.seqNow = ev.seq; // renumbered by another instance, same book
        return;
    }
  }

  /** Replaces the book by a snapshot, once it verifies. */
  private load(d: BookSnapshot, seq: number, reason: BookSnapshotReason): void {
    const units = { tick: d.tick, lot: d.lot };
    const next = new Book();
    next.apply(d.bids, d.asks, d.ts);
    if (next.checksum(units) !== d.cs) return this.mismatch(seq, d.cs, next.checksum(units));
    this.book = next;
    this.unitsNow = units;
    this.staleNow = d.stale === true;
    this.accept(seq, { type: 'snapshot', seq, reason });
  }

  /** Applies one change set; undoes it again when the result does not verify. */
  private change(c: BookChange, seq: number): void {
    const units = this.unitsNow;
    if (!this.syncedNow || !units) return; // waiting for the fresh snapshot
    const book = this.book;
    if (c.stale === true) {
      const empty = new Book();
      empty.apply(c.b, c.a, c.ts);
      const got = empty.checksum(units);
      if (got !== c.cs) return this.mismatch(seq, c.cs, got);
      this.book = empty;
      this.staleNow = true;
      return this.accept(seq, { type: 'stale', seq });
    }
    const undoB = c.b.map(([px]) => priorLevel(book.bids, px));
    const undoA = c.a.map(([px]) => priorLevel(book.asks, px));
    const ts = book.ts;
    book.apply(c.b, c.a, c.ts);
    const got = book.checksum(units);
    if (got !== c.cs) {
      // Restore the last verified state (in reverse, so a level listed twice gets its first prior size).
      book.apply(undoB.reverse(), undoA.reverse(), ts);
      return this.mismatch(seq, c.cs, got);
    }
    this.staleNow = false;
    this.accept(seq, { type: 'change', seq, bids: c.b, asks: c.a });
  }

  private accept(seq: number, ev: BookEvent): void {
    this.seqNow = seq;
    this.syncedNow = true;
    this.mismatches = 0;
    this.version++;
    this.emit(ev);
    for (const it of this.iterators) it.changed();
    this.resolveReady();
  }

  private mismatch(seq: number, expected: number, got: number): void {
    this.syncedNow = false;
    this.emit({ type: 'resyncing', reason: 'checksum', seq, expected, got });
    if (++this.mismatches < MAX_CHECKSUM_RESYNCS) return this.owner.resync(this.topic);
    this.giveUp = new TickwireError(
      'checksum_mismatch',
      `book ${this.topic}: ${this.mismatches} checksums in a row failed to verify (last at seq ${seq}: expected ${expected}, got ${got})`,
      [this.topic],
    );
    void this.close();
  }

  private emit(ev: BookEvent): void {
    for (const cb of [...this.listeners]) {
      try {
        cb(ev, this);
      } catch (e) {
        this.owner.listenerError(e);
      }
    }
  }

  private finish(subErr?: TickwireError): void {
    const err = subErr ?? this.giveUp;
    this.ended = true;
    this.endError = err;
    this.syncedNow = false;
    this.rejectReady(err ?? new TickwireError('closed', `book ${this.topic} closed before its first snapshot`, [this.topic]));
    for (const it of this.iterators) it.end(err);
    this.iterators.clear();
  }
}

/** The best level of one side, read without copying the side (`bids`/`asks` copy all of it once per change). */
function best(side: Book['bids']): Level | undefined {
  const px = side.px[0];
  return px === undefined ? undefined : [px, side.qty[0] as number];
}

/** The size at `px` on one side before a change (0: no level), to undo the change with. */
function priorLevel(side: Book['bids'], px: number): Level {
  const i = side.find(px);
  return [px, i >= 0 ? (side.qty[i] as number) : 0];
}

/** One `for await` over a book: yields the book when it changed since the last yield (conflated). */
class BookIterator implements AsyncIterableIterator<OrderBook> {
  private dirty = false;
  private done = false;
  private error: Error | undefined;
  private waiter: ((r: IteratorResult<OrderBook>) => void) | undefined;
  private failWaiter: ((e: unknown) => void) | undefined;

  constructor(
    private readonly book: OrderBook,
    private readonly onReturn: () => void,
  ) {}

  changed(): void {
    const w = this.waiter;
    if (w) {
      this.waiter = this.failWaiter = undefined;
      w({ value: this.book, done: false });
    } else this.dirty = true;
  }

  end(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    const w = this.waiter;
    const f = this.failWaiter;
    if (!w || this.dirty) return;
    this.waiter = this.failWaiter = undefined;
    this.error = undefined;
    if (err && f) f(err);
    else w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<OrderBook>> {
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve({ value: this.book, done: false });
    }
    if (this.done) {
      const err = this.error;
      this.error = undefined; // thrown once, then finished
      return err ? Promise.reject(err) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('OrderBook iterator: concurrent next() calls are not supported'));
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<OrderBook>> {
    const wasOpen = !this.done;
    this.done = true;
    this.dirty = false;
    this.error = undefined;
    const w = this.waiter;
    this.waiter = this.failWaiter = undefined;
    w?.({ value: undefined, done: true });
    if (wasOpen) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<OrderBook> {
    return this;
  }
}
