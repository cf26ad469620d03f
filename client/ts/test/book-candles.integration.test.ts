import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { waitFor } from '../../../gateway/test/support/wait.js';
import { bookChecksum, type BookEvent, type BookSnapshot, type Level } from '../src/book.js';
import type { CandleEvent } from '../src/candles.js';
import { TickwireClient } from '../src/client.js';

/**
 * Order books and candles from the SDK against the real gateway (uWS, embedded feed), in-process:
 * a verified book that moves and agrees with what a second client receives as its snapshot at the
 * same seq, and a candle stream that is ordered across the history seam.
 */

const FEED = { feedRate: 5000, flushIntervalMs: 2 } as const;

let gw: Gateway;
const clients: TickwireClient[] = [];
const newClient = () => {
  const c = new TickwireClient({ url: `ws://127.0.0.1:${gw.port}/v1`, WebSocket });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  gw = await startTestGateway(FEED);
});
afterAll(async () => {
  await gw.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const isSorted = (levels: readonly Level[], bid: boolean) =>
  levels.every((l, i) => i === 0 || (bid ? levels[i - 1]![0] > l[0] : levels[i - 1]![0] < l[0]));

describe.each([{}, { throttle: 100 as const }])('book BTC-USD depth 10 %o, real gateway', (view) => {
  it('a verified book that changes, equal at a seq to the snapshot another client gets at that seq', async () => {
    const client = newClient();
    const book = client.book('BTC-USD', { depth: 10, ...view });
    const events: BookEvent[] = [];
    /** The book's top 10 at every seq it reached. */
    const states = new Map<number, { bids: Level[]; asks: Level[] }>();
    book.onChange((ev, b) => {
      events.push(ev);
      if (b.synced) states.set(b.seq!, { bids: b.bids.slice(0, 10), asks: b.asks.slice(0, 10) });
    });
    await client.connect();
    await book.ready;
    const start = book.seq!;
    const changes = () => events.filter((e) => e.type === 'change').length;
    const before = changes();
    await waitFor(() => changes() >= before + 20, { what: '20 change sets', timeoutMs: 20_000 });
    expect(book.seq!).toBeGreaterThan(start);
    expect(events.filter((e) => e.type === 'resyncing')).toEqual([]); // every checksum verified
    expect(book.bids.length).toBeGreaterThan(0);
    expect(book.bids.length).toBeLessThanOrEqual(10);
    expect(book.asks.length).toBeLessThanOrEqual(10);
    expect(isSorted(book.bids, true) && isSorted(book.asks, false)).toBe(true);
    expect(book.bestBid![0]).toBeLessThan(book.bestAsk![0]);
    expect(book.spread).toBeGreaterThan(0);

    // A second client's snapshot at seq S holds the same top 10 the maintained book had at S.
    const other = newClient();
    const snaps: Array<{ seq: number; data: BookSnapshot }> = [];
    other.subscribe(book.topic, (ev) => {
      if (ev.type === 'snap') snaps.push({ seq: ev.seq, data: ev.tick as unknown as BookSnapshot });
    });
    await other.connect();
    const snap = await waitFor(() => snaps[0], { what: 'the second client’s snapshot', timeoutMs: 15_000 });
    const mine = await waitFor(() => states.get(snap.seq), { what: `the book at seq ${snap.seq}`, timeoutMs: 15_000 });
    expect(mine).toEqual({ bids: snap.data.bids.slice(0, 10), asks: snap.data.asks.slice(0, 10) });
    expect(bookChecksum(mine.bids, mine.asks, { tick: snap.data.tick, lot: snap.data.lot })).toBe(snap.data.cs);
    await book.close();
  });
});

describe('candles, real gateway', () => {
  it('history then live for candle.1s.BTC-USD: ordered buckets, closed history, nothing twice', async () => {
    const client = newClient();
    await client.connect();
    const topic = 'candle.1s.BTC-USD';
    // The gateway just started: wait until it has closed 5 one-second candles.
    await waitFor(async () => (await client.candleHistory(topic, { limit: 5 })).length === 5, {
      what: '5 closed candles',
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    const events: CandleEvent[] = [];
    for await (const ev of client.candles(topic, { history: 5 })) {
      events.push(ev);
      const live = events.filter((e) => e.type === 'candle' && !e.history);
      // Until the live stream has closed one bucket and opened the next.
      if (live.some((e) => e.type === 'candle' && e.candle.x) && ev.type === 'candle' && !ev.candle.x && !ev.history) break;
    }
    expect(events.filter((e) => e.type === 'gap')).toEqual([]);
    const candles = events.flatMap((e) => (e.type === 'candle' ? [e] : []));
    const history = candles.filter((e) => e.history);
    expect(history).toHaveLength(5);
    expect(history.every((e) => e.candle.x === true)).toBe(true);
    expect(candles.findIndex((e) => !e.history)).toBe(5); // history first, then live
    for (let i = 1; i < candles.length; i++) {
      const prev = candles[i - 1]!.candle;
      const cur = candles[i]!.candle;
      expect(cur.t % 1000).toBe(0);
      expect(cur.t).toBeGreaterThanOrEqual(prev.t); // never backwards
      if (cur.t === prev.t) {
        expect(prev.x).not.toBe(true); // nothing after a bucket's final update
        expect(cur.n).toBeGreaterThanOrEqual(prev.n); // the open candle only grows
      }
    }
    for (const { candle: c } of candles) {
      expect(c.l).toBeLessThanOrEqual(Math.min(c.o, c.c));
      expect(c.h).toBeGreaterThanOrEqual(Math.max(c.o, c.c));
      expect(c.n).toBeGreaterThan(0);
    }
  });
});
