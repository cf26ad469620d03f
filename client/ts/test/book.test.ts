import { describe, expect, it } from 'vitest';
import { Book, type BookUnits, type Level } from '../../../protocol/src/book.js';
import { THROTTLE_INTERVALS } from '../../../protocol/src/topics.js';
import { BOOK_THROTTLES, bookChecksum, bookTopic, MAX_CHECKSUM_RESYNCS, type BookEvent, type OrderBook } from '../src/book.js';
import type { SubscriptionEvent } from '../src/types.js';
import { memoryClient } from './support/memory-client.js';

/**
 * Maintained order books over an in-memory socket: the test plays a gateway that keeps its own
 * book (the protocol's Book) and sends snapshots and change sets with their checksums, correct or
 * deliberately wrong.
 */

const UNITS: BookUnits = { tick: 0.01, lot: 0.001 };

/** The gateway side of one book topic: its state, and the messages it would send. */
class ServerBook {
  readonly book = new Book();
  ts = 1_700_000_000_000;

  constructor(
    readonly topic: string,
    bids: Level[] = [
      [100, 1],
      [99.99, 2],
      [99.98, 3],
    ],
    asks: Level[] = [
      [100.01, 1.5],
      [100.02, 2.5],
    ],
  ) {
    this.book.apply(bids, asks, this.ts);
  }

  snap(seq: number, extra: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
    return { op: 'snap', topic: this.topic, seq, epoch: 'E1', data: { ...this.book.snapshot(Infinity, UNITS), ...data }, ...extra };
  }

  /** Applies a change set and returns it as the gateway sends it, with the checksum after it. */
  change(b: Level[], a: Level[]) {
    this.book.apply(b, a, ++this.ts);
    return { ts: this.ts, b, a, cs: this.book.checksum(UNITS) };
  }

  levels() {
    return { bids: this.book.bids.levels(Infinity), asks: this.book.asks.levels(Infinity) };
  }
}

function setup(topicOpts: Parameters<typeof bookTopic>[1] = {}) {
  const t = memoryClient();
  const topic = bookTopic('BTC-USD', topicOpts);
  const server = new ServerBook(topic);
  const book = t.client.book('BTC-USD', topicOpts);
  const events: BookEvent[] = [];
  book.onChange((ev) => events.push(ev));
  t.open();
  t.sock().serverSend({ op: 'ack', id: 1, topics: [topic] });
  const send = (m: unknown) => t.sock().serverSend(m);
  const summary = () =>
    events.map((e) =>
      e.type === 'snapshot' ? `snapshot:${e.reason}@${e.seq}` : e.type === 'resyncing' ? `resyncing:${e.reason}` : `${e.type}@${e.seq}`,
    );
  /** The book's levels as plain arrays, to compare with the server's. */
  const held = (b: OrderBook = book) => ({ bids: [...b.bids], asks: [...b.asks] });
  return { ...t, topic, server, book, events, send, summary, held };
}

describe('bookChecksum (the protocol’s, re-exported)', () => {
  it('matches an independent CRC-32 (zlib) of the interleaved integer units', () => {
    // "300:2000:302:1500:299:1000": bid 0, ask 0, bid 1, in ticks of 0.01 and lots of 0.001; zlib.crc32 gives 240060637.
    const cs = bookChecksum(
      [
        [3, 2],
        [2.99, 1],
      ],
      [[3.02, 1.5]],
      UNITS,
    );
    expect(cs).toBe(240060637);
    expect(bookChecksum([], [], UNITS)).toBe(0);
  });
});

describe('bookTopic', () => {
  it('names the view from depth and throttle, and refuses views the protocol does not have', () => {
    expect(bookTopic('BTC-USD')).toBe('book.BTC-USD');
    expect(bookTopic('BTC-USD', { depth: 10 })).toBe('book.BTC-USD:10');
    expect(bookTopic('ETH-USD', { depth: 100, throttle: 250 })).toBe('book.ETH-USD:100@250ms');
    expect(() => bookTopic('BTC-USD', { depth: 5 as never })).toThrow(/depth must be one of 10, 25, 100/);
    expect(() => bookTopic('BTC-USD', { throttle: 50 as never })).toThrow(/throttle/);
  });
});

describe('OrderBook (in-memory socket)', () => {
  it('builds from the snapshot and applies each verified change set: levels, best, spread, mid, seq', async () => {
    const t = setup({ depth: 10 });
    expect(t.book.synced).toBe(false);
    t.send(t.server.snap(5));
    await t.book.ready;
    expect(t.held()).toEqual(t.server.levels());
    const c1 = t.server.change([[100, 0]], [[100.01, 0.5]]); // best bid removed, best ask resized
    const c2 = t.server.change([[100.005, 4]], [[100.03, 1]]);
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [c1, c2] });
    expect(t.held()).toEqual(t.server.levels());
    expect(t.book.bestBid).toEqual([100.005, 4]);
    expect(t.book.bestAsk).toEqual([100.01, 0.5]);
    expect(t.book.spread).toBeCloseTo(0.005, 9);
    expect(t.book.mid).toBeCloseTo(100.0075, 9);
    expect(t.book).toMatchObject({ seq: 7, synced: true, stale: false, ts: t.server.ts, units: UNITS });
    expect(t.summary()).toEqual(['snapshot:start@5', 'change@6', 'change@7']);
    expect(t.events[1]).toEqual({ type: 'change', seq: 6, bids: [[100, 0]], asks: [[100.01, 0.5]] });
  });

  it('a change set failing its checksum is not applied: last verified state kept, unsub + sub, rebuilt from the fresh snap', async () => {
    const t = setup();
    t.send(t.server.snap(5));
    await t.book.ready;
    const verified = t.held();
    const bad = { ...t.server.change([[99.99, 7]], []), cs: 12345 };
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [bad] });
    expect(t.book.synced).toBe(false);
    expect(t.held()).toEqual(verified); // never the unverified state
    expect(t.book.seq).toBe(5);
    expect(t.events.at(-1)).toMatchObject({ type: 'resyncing', reason: 'checksum', seq: 6, expected: 12345 });
    expect(t.sent().slice(1)).toEqual([
      { op: 'unsub', id: 2, topics: [t.topic] },
      { op: 'sub', id: 3, topics: [t.topic] }, // no since: a fresh snapshot
    ]);
    // Upds still in flight for the old subscription are not applied.
    t.send({ op: 'upd', topic: t.topic, seq: 7, data: [t.server.change([[99.5, 1]], [])] });
    expect(t.held()).toEqual(verified);
    t.send({ op: 'ack', id: 3, topics: [t.topic] });
    t.send(t.server.snap(7));
    expect(t.book.synced).toBe(true);
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'resyncing:checksum', 'snapshot:checksum@7']);
  });

  it('another subscription of the same topic sees the checksum resync as a resync with reason checksum', () => {
    const t = setup();
    const other: SubscriptionEvent[] = [];
    t.client.subscribe(t.topic, (e) => other.push(e));
    t.send(t.server.snap(5));
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [{ ...t.server.change([], [[100.01, 9]]), cs: 1 }] });
    t.send({ op: 'ack', id: 3, topics: [t.topic] });
    t.send(t.server.snap(6));
    expect(other.map((e) => (e.type === 'resync' ? `resync:${e.reason}` : e.type))).toEqual(['snap', 'tick', 'resync:checksum']);
  });

  it('a first snapshot that fails verification is never shown: ready waits for a verified one', async () => {
    const t = setup();
    let ready = false;
    void t.book.ready.then(() => (ready = true));
    t.send(t.server.snap(5, {}, { cs: 7 }));
    await t.tick(3);
    expect(ready).toBe(false);
    expect(t.held()).toEqual({ bids: [], asks: [] });
    expect(t.sent().at(-1)).toEqual({ op: 'sub', id: 3, topics: [t.topic] });
    t.send({ op: 'ack', id: 3, topics: [t.topic] });
    t.send(t.server.snap(5));
    await t.book.ready;
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['resyncing:checksum', 'snapshot:checksum@5']);
  });

  it(`gives up with checksum_mismatch after ${MAX_CHECKSUM_RESYNCS} failed verifications in a row`, async () => {
    const t = setup();
    const it = t.book[Symbol.asyncIterator]();
    for (let i = 0; i < MAX_CHECKSUM_RESYNCS; i++) {
      const sub = t.sent().at(-1) as { id: number };
      if (i > 0) t.send({ op: 'ack', id: sub.id, topics: [t.topic] });
      t.send(t.server.snap(5 + i, {}, { cs: 1 }));
    }
    await expect(t.book.ready).rejects.toMatchObject({ code: 'checksum_mismatch', topics: [t.topic] });
    await expect(it.next()).rejects.toMatchObject({ code: 'checksum_mismatch' });
    expect(t.book.active).toBe(false);
    expect(t.sent().filter((m) => m.op === 'sub')).toHaveLength(MAX_CHECKSUM_RESYNCS);
    expect(t.sent().at(-1)).toMatchObject({ op: 'unsub', topics: [t.topic] });
  });

  it('stale: a flagged change set empties the book (stale, verified against the empty checksum); a later one refills it', () => {
    const t = setup({ depth: 10 });
    t.send(t.server.snap(5));
    const gone = t.server.levels();
    const removeAll = t.server.change(
      gone.bids.map(([px]): Level => [px, 0]),
      gone.asks.map(([px]): Level => [px, 0]),
    );
    expect(removeAll.cs).toBe(0);
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [{ ...removeAll, stale: true }] });
    expect(t.book).toMatchObject({ stale: true, synced: true, seq: 6, bids: [], asks: [], bestBid: undefined, spread: undefined });
    const refill = t.server.change([[101, 1]], [[101.5, 2]]);
    t.send({ op: 'upd', topic: t.topic, seq: 7, data: [refill] });
    expect(t.book.stale).toBe(false);
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'stale@6', 'change@7']);
  });

  it('stale: a snapshot flagged stale gives an empty stale book; a change set without the flag clears it', () => {
    const t = setup();
    const empty = new ServerBook(t.topic, [], []);
    t.send(empty.snap(3, {}, { stale: true }));
    expect(t.book).toMatchObject({ stale: true, synced: true, seq: 3, bids: [], asks: [] });
    t.send({ op: 'upd', topic: t.topic, seq: 4, data: [empty.change([[99, 1]], [])] });
    expect(t.book).toMatchObject({ stale: false, seq: 4, bids: [[99, 1]] });
  });

  it('throttled view: seq jumps between change sets are normal (no resync), each merged change set verified', () => {
    const t = setup({ depth: 10, throttle: 100 });
    expect(t.topic).toBe('book.BTC-USD:10@100ms');
    t.send(t.server.snap(10));
    t.send({ op: 'upd', topic: t.topic, seq: 15, data: [t.server.change([[99.99, 0]], [])] });
    t.send({ op: 'upd', topic: t.topic, seq: 42, data: [t.server.change([], [[100.05, 3]])] });
    expect(t.held()).toEqual(t.server.levels());
    expect(t.book.seq).toBe(42);
    expect(t.summary()).toEqual(['snapshot:start@10', 'change@15', 'change@42']);
    expect(t.sent()).toHaveLength(1); // only the first sub: no resubscription
  });

  it('a resync snapshot (resync: true) replaces the book', () => {
    const t = setup();
    t.send(t.server.snap(5));
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [t.server.change([[98, 1]], [])] });
    const fresh = new ServerBook(t.topic, [[90, 1]], [[91, 1]]);
    t.send(fresh.snap(50, { resync: true }));
    expect(t.held()).toEqual(fresh.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'change@6', 'snapshot:server@50']);
  });

  it('a seq gap on a raw view: resyncing (gap), and the fresh snapshot rebuilds the book', () => {
    const t = setup();
    t.send(t.server.snap(5));
    t.send({ op: 'upd', topic: t.topic, seq: 8, data: [t.server.change([[98, 1]], [])] });
    expect(t.book.synced).toBe(false);
    expect(t.events.at(-1)).toEqual({ type: 'resyncing', reason: 'gap', expected: 6, got: 8 });
    t.send({ op: 'ack', id: 3, topics: [t.topic] });
    t.send(t.server.snap(9));
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'resyncing:gap', 'snapshot:gap@9']);
  });

  it('after a reconnect, a throttled view’s fresh snap (delivered as the next tick) replaces the book', () => {
    const t = setup({ throttle: 250 });
    t.send(t.server.snap(5));
    t.sock().serverClose(1001);
    t.open();
    expect(t.sent()).toEqual([{ op: 'sub', id: 2, topics: [t.topic] }]); // throttled: never resumed with since
    t.send({ op: 'ack', id: 2, topics: [t.topic] });
    t.server.change([[99.97, 5]], [[100.01, 0]]);
    t.send(t.server.snap(9));
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'snapshot:resubscribed@9']);
  });

  it('the iterator yields the newest verified book, conflating states a slow loop missed; break closes it', async () => {
    const t = setup();
    const it = t.book[Symbol.asyncIterator]();
    const first = it.next();
    t.send(t.server.snap(5));
    expect((await first).value).toBe(t.book);
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [t.server.change([[98, 1]], []), t.server.change([[97, 1]], [])] });
    t.send({ op: 'upd', topic: t.topic, seq: 8, data: [t.server.change([], [[100.2, 1]])] });
    const r = await it.next(); // one iteration for three change sets
    expect(r.value?.seq).toBe(8);
    let pending = true;
    const next = it.next().finally(() => (pending = false));
    await t.tick(3);
    expect(pending).toBe(true); // nothing new yet
    t.send({ op: 'upd', topic: t.topic, seq: 9, data: [t.server.change([], [[100.3, 1]])] });
    expect((await next).value?.seq).toBe(9);
    await it.return?.();
    expect(t.book.active).toBe(false);
    expect(t.sent().at(-1)).toMatchObject({ op: 'unsub', topics: [t.topic] });
  });

  it('a refused topic rejects ready and ends the iterator with the server error', async () => {
    const t = memoryClient();
    const book = t.client.book('NOPE', { depth: 25 });
    t.open();
    t.sock().serverSend({ op: 'err', id: 1, code: 'unknown_symbol', msg: 'unknown symbol NOPE', topics: ['book.NOPE:25'] });
    await expect(book.ready).rejects.toMatchObject({ code: 'unknown_symbol' });
    await expect(book[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'unknown_symbol' });
  });

  it('a listener that throws is reported through onError and does not stop the book', () => {
    const t = setup();
    const errors: string[] = [];
    t.client.onError((e) => errors.push(e.code));
    t.book.onChange(() => {
      throw new Error('boom');
    });
    t.send(t.server.snap(5));
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [t.server.change([[98, 1]], [])] });
    expect(t.held()).toEqual(t.server.levels());
    expect(errors).toEqual(['listener_error', 'listener_error']);
  });
});

describe('BOOK_THROTTLES', () => {
  it('are the protocol’s throttle intervals', () => {
    expect(BOOK_THROTTLES.map((ms) => THROTTLE_INTERVALS[`${ms}ms`])).toEqual([...BOOK_THROTTLES]);
    expect(Object.keys(THROTTLE_INTERVALS)).toHaveLength(BOOK_THROTTLES.length);
  });
});

describe('two consumers of one book topic', () => {
  it('a second book on a live topic gets a fresh snapshot from the server, not the last change set; the first one carries on', () => {
    const t = setup({ depth: 10 });
    t.send(t.server.snap(5));
    t.send({ op: 'upd', topic: t.topic, seq: 6, data: [t.server.change([[98, 1]], [])] });
    const second = t.client.book('BTC-USD', { depth: 10 });
    expect(second.synced).toBe(false); // nothing from the client's cache
    expect(t.sent().slice(1)).toEqual([
      { op: 'unsub', id: 2, topics: [t.topic] },
      { op: 'sub', id: 3, topics: [t.topic] },
    ]);
    t.send({ op: 'ack', id: 3, topics: [t.topic] });
    t.send(t.server.snap(6)); // the same seq: nothing new for the first book
    expect(t.held(second)).toEqual(t.server.levels());
    expect(t.held()).toEqual(t.server.levels());
    t.send({ op: 'upd', topic: t.topic, seq: 7, data: [t.server.change([], [[100.04, 1]])] });
    expect(t.held(second)).toEqual(t.server.levels());
    expect(t.held()).toEqual(t.server.levels());
    expect(t.summary()).toEqual(['snapshot:start@5', 'change@6', 'change@7']);
  });

  it('after a reconnect, a book that has not started yet makes the topic resubscribe without since', () => {
    const t = setup();
    t.send(t.server.snap(5));
    t.sock().serverClose(1001);
    t.client.book('BTC-USD'); // joins while disconnected
    t.open();
    expect(t.sent()).toEqual([{ op: 'sub', id: 2, topics: [t.topic] }]);
  });
});
