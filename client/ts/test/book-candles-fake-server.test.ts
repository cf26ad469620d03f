import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Book, windowDiff, type BookUnits, type Level } from '../../../protocol/src/book.js';
import type { BookEvent } from '../src/book.js';
import type { Candle, CandleEvent } from '../src/candles.js';
import type { FakeConn, Msg } from './support/fake-server.js';
import { useFakeServer } from './support/fake-server-client.js';
import { waitUntil } from './support/util.js';

/**
 * Order books and candle streams against a scripted server over real sockets (`ws` and
 * `node:http` on 127.0.0.1:0): the wire formats, the resubscription after a failed checksum, the
 * resume after a reconnect, and the candles endpoint with its authentication.
 */

const UNITS: BookUnits = { tick: 0.5, lot: 0.01 };
const BOOK = 'book.BTC-USD:10';
const CANDLES = 'candle.1m.BTC-USD';
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);

const start = useFakeServer('?access_token=secret');

async function ackSub(conn: FakeConn, from = 0): Promise<Msg> {
  const sub = await conn.waitFor((m) => m.op === 'sub', 15_000, from);
  conn.send({ op: 'ack', id: sub.id, topics: sub.topics });
  return sub;
}

/** The gateway's book for one topic, producing snaps and checksummed change sets. */
class ServerBook {
  readonly book = new Book();
  ts = T0;
  constructor() {
    for (let i = 0; i < 12; i++) this.book.apply([[1000 - i * 0.5, 1 + i]], [[1000.5 + i * 0.5, 2 + i]], this.ts);
  }
  snap(seq: number, extra: Record<string, unknown> = {}) {
    return { op: 'snap', topic: BOOK, seq, epoch: 'E1', data: this.book.snapshot(10, UNITS), ...extra };
  }
  /** Applies upstream changes to the full book; returns what the 10-level view sends (levels leaving and entering its window). */
  change(b: Level[], a: Level[]) {
    const before = this.top();
    this.book.apply(b, a, ++this.ts);
    const after = this.top();
    return {
      ts: this.ts,
      b: windowDiff(before.bids, after.bids, true),
      a: windowDiff(before.asks, after.asks, false),
      cs: this.book.checksum(UNITS),
    };
  }
  top() {
    return { bids: this.book.bids.levels(10), asks: this.book.asks.levels(10) };
  }
}

describe.each(['msgpack', 'json'] as const)('order book over a real socket (%s)', (format) => {
  it('verified book: changes, a failed checksum resyncs, a reconnect resumes with since and the replay continues the book', async () => {
    const { server, client } = await start({ format });
    const sb = new ServerBook();
    const book = client.book('BTC-USD', { depth: 10 });
    const events: BookEvent[] = [];
    book.onChange((e) => events.push(e));
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.send(sb.snap(20));
    await book.ready;
    // Levels leave the 10-level window and others enter it: the gateway sends both, as windowDiff does.
    c1.send({ op: 'upd', topic: BOOK, seq: 21, data: [sb.change([[1000, 0]], [[1000.5, 0]]), sb.change([[999.75, 3]], [])] });
    await waitUntil(() => book.seq === 22, 15_000, 'seq 22');
    expect({ bids: [...book.bids], asks: [...book.asks] }).toEqual(sb.top());
    expect(book.bids).toHaveLength(10);

    // A corrupted checksum: the SDK unsubscribes and subscribes afresh.
    c1.send({ op: 'upd', topic: BOOK, seq: 23, data: [{ ...sb.change([[999.5, 7]], []), cs: 99 }] });
    const resub = await ackSub(c1, 1);
    expect(resub.since).toBeUndefined();
    expect(c1.received.some((m) => m.op === 'unsub')).toBe(true);
    c1.send(sb.snap(23));
    await waitUntil(() => book.synced && book.seq === 23, 15_000, 'resynced');

    // Connection lost: the raw view resumes with since, and the replayed change sets continue the same book.
    c1.close(1001, 'restart');
    const c2 = await server.connection(1);
    const sub2 = await ackSub(c2);
    expect(sub2.since).toEqual({ [BOOK]: { epoch: 'E1', seq: 23 } });
    c2.send({ op: 'upd', topic: BOOK, seq: 24, data: [sb.change([], [[1001, 0.25]])] });
    await waitUntil(() => book.seq === 24, 15_000, 'seq 24');
    expect({ bids: [...book.bids], asks: [...book.asks] }).toEqual(sb.top());
    expect(book.bestAsk).toEqual([1001, 0.25]);
    expect(events.map((e) => e.type + (e.type === 'snapshot' || e.type === 'resyncing' ? `:${e.reason}` : ''))).toEqual([
      'snapshot:start',
      'change',
      'change',
      'resyncing:checksum',
      'snapshot:checksum',
      'change',
    ]);
  });
});

describe('candle stream against a scripted server with the HTTP endpoint', () => {
  const closed = (i: number): Candle => ({ t: T0 + i * 60_000, o: 10, h: 12, l: 9, c: 11, v: 2, q: 21, n: 3, x: true });
  const open = (i: number, n: number): Candle => ({ t: T0 + i * 60_000, o: 10, h: 12, l: 9, c: 11, v: n, q: n * 10, n, x: false });

  function endpoint(answer: (url: URL) => { status: number; body: unknown }) {
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      const { status, body } = answer(new URL(req.url ?? '/', 'http://x'));
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    return { seen, handler };
  }

  it('history from /v1/candles with the token, then live, ordered without duplicates at the seam', async () => {
    const ep = endpoint((u) => {
      const limit = Number(u.searchParams.get('limit'));
      // Buckets 0..5 closed; the newest `limit` of them, oldest first.
      const all = [0, 1, 2, 3, 4, 5].map(closed);
      return { status: 200, body: { topic: u.searchParams.get('topic'), candles: all.slice(-limit) } };
    });
    const { server, client } = await start({}, { http: ep.handler });
    const stream = client.candles(CANDLES, { history: 3 });
    const events: CandleEvent[] = [];
    const done = (async () => {
      for await (const ev of stream) {
        events.push(ev);
        if (ev.type === 'candle' && ev.candle.t === T0 + 6 * 60_000 && ev.candle.n === 2) break;
      }
    })();
    await client.connect();
    const c = await server.connection(0);
    await ackSub(c);
    // Live starts at bucket 5 (still open when the snap was taken); 5 closes, 6 opens.
    c.send({ op: 'snap', topic: CANDLES, seq: 1, epoch: 'E1', data: open(5, 1) });
    c.send({ op: 'upd', topic: CANDLES, seq: 2, data: [closed(5), open(6, 1), open(6, 2)] });
    await done;
    expect(ep.seen).toEqual([{ url: `/v1/candles?topic=${CANDLES}&limit=3`, auth: 'Bearer secret' }]);
    expect(
      events.map((e) => (e.type === 'candle' ? `${e.history ? 'h' : 'l'}${(e.candle.t - T0) / 60_000}/${e.candle.n}` : e.type)),
    ).toEqual(['h3/3', 'h4/3', 'h5/3', 'l6/1', 'l6/2']);
    await waitUntil(() => c.received.some((m) => m.op === 'unsub'), 15_000, 'unsub after break');
  });

  it('an endpoint error (400 {op: err}) ends the stream with the server’s code', async () => {
    const ep = endpoint(() => ({ status: 400, body: { op: 'err', code: 'bad_request', msg: 'limit must be 1..1000' } }));
    const { server, client } = await start({}, { http: ep.handler });
    const stream = client.candles(CANDLES, { history: 5000 });
    await client.connect();
    const c = await server.connection(0);
    await ackSub(c);
    c.send({ op: 'snap', topic: CANDLES, seq: 1, epoch: 'E1', data: open(0, 1) });
    const it = stream[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('limit must be 1..1000') });
  });
});
