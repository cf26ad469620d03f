import { describe, expect, it } from 'vitest';
import { candleInterval, type Candle, type CandleEvent } from '../src/candles.js';
import type { FetchLike } from '../src/sse-socket.js';
import { memoryClient } from './support/memory-client.js';

/**
 * Candle streams over an in-memory socket and a scripted fetch: the test decides when the
 * history answer arrives relative to the live updates, which is where the seam can go wrong.
 */

const TOPIC = 'candle.1s.BTC-USD';
const T0 = 1_700_000_000_000;
/** Candle of bucket `i` (1 s buckets from T0); `x` closed. */
const candle = (i: number, x?: boolean, n = 1): Candle => ({
  t: T0 + i * 1000,
  o: 100 + i,
  h: 101 + i,
  l: 99 + i,
  c: 100.5 + i,
  v: n,
  q: n * 100,
  n,
  x: x ?? false,
});

/** A fetch whose answers the test gives, one per request, in order. */
function scriptedFetch() {
  const requests: Array<{ url: string; headers: Record<string, string>; answer: (status: number, body: unknown) => void }> = [];
  let wake: (() => void) | undefined;
  const fetch: FetchLike = (url, init) =>
    new Promise((resolve) => {
      requests.push({
        url,
        headers: init?.headers ?? {},
        answer: (status, body) => resolve({ status, text: () => Promise.resolve(JSON.stringify(body)) } as unknown as Response),
      });
      wake?.();
    });
  /** The `i`-th request, waiting for it to be made. */
  const request = async (i: number) => {
    while (requests.length <= i) await new Promise<void>((r) => (wake = r));
    return requests[i]!;
  };
  return { fetch, requests, request };
}

function setup(history: number, url = 'ws://gw/v1?access_token=tok') {
  const f = scriptedFetch();
  const t = memoryClient({ url, fetch: f.fetch });
  const stream = t.client.candles(TOPIC, { history });
  const events: CandleEvent[] = [];
  let ended: unknown = 'running';
  void (async () => {
    try {
      for await (const ev of stream) events.push(ev);
      ended = 'done';
    } catch (e) {
      ended = e;
    }
  })();
  t.open();
  t.sock().serverSend({ op: 'ack', id: 1, topics: [TOPIC] });
  const send = (m: unknown) => t.sock().serverSend(m);
  const snap = (c: Candle, seq: number, extra: Record<string, unknown> = {}) =>
    send({ op: 'snap', topic: TOPIC, seq, epoch: 'E1', data: c, ...extra });
  const upd = (seq: number, ...cs: Candle[]) => send({ op: 'upd', topic: TOPIC, seq, data: cs });
  /** Events as `h<i>`/`l<i>` (history/live, bucket index) with `x` when closed, and gaps. */
  const summary = () =>
    events.map((e) =>
      e.type === 'gap'
        ? `gap(${(e.after - T0) / 1000},${(e.before - T0) / 1000})`
        : `${e.history ? 'h' : 'l'}${(e.candle.t - T0) / 1000}${e.candle.x ? 'x' : ''}`,
    );
  return { ...t, ...f, stream, events, snap, upd, summary, ended: () => ended };
}

describe('candleInterval', () => {
  it('parses candle topics and refuses others', () => {
    expect(candleInterval('candle.15m.ETH-USD')).toBe('15m');
    expect(() => candleInterval('candle.2m.BTC-USD')).toThrow(TypeError);
    expect(() => candleInterval('trade.BTC-USD')).toThrow(/not a candle topic/);
  });
});

describe('client.candles (in-memory socket, scripted fetch)', () => {
  it('history is fetched after the first live snapshot; live updates wait; the overlap is delivered once, in order', async () => {
    const t = setup(4);
    await t.tick(5);
    expect(t.requests).toHaveLength(0); // not before the live stream has a starting point
    t.snap(candle(100), 1); // bucket 100 open
    const req = await t.request(0);
    expect(req.url).toBe(`http://gw/v1/candles?topic=${encodeURIComponent(TOPIC)}&limit=4`);
    expect(req.headers).toMatchObject({ authorization: 'Bearer tok', accept: 'application/json' });
    // While the history request is out, bucket 100 grows, closes, and 101 opens.
    t.upd(2, candle(100, false, 2), candle(100, true, 3), candle(101));
    await t.tick(5);
    expect(t.events).toEqual([]);
    // The endpoint already has 100 closed: the live copies of 100 must not follow it.
    req.answer(200, { topic: TOPIC, candles: [candle(97, true), candle(98, true), candle(99, true), candle(100, true, 3)] });
    await t.tick(10);
    t.upd(5, candle(101, false, 2));
    await t.tick(5);
    expect(t.summary()).toEqual(['h97x', 'h98x', 'h99x', 'h100x', 'l101', 'l101']);
    expect(t.events.at(-1)).toEqual({ type: 'candle', candle: candle(101, false, 2), history: false });
  });

  it('history that ends before the live bucket: the open candle follows it, and its updates too', async () => {
    const t = setup(3);
    t.snap(candle(100, false, 1), 1);
    t.upd(2, candle(100, false, 2));
    (await t.request(0)).answer(200, { topic: TOPIC, candles: [candle(98, true), candle(99, true)] });
    await t.tick(10);
    t.upd(3, candle(100, true, 3), candle(101));
    await t.tick(5);
    expect(t.summary()).toEqual(['h98x', 'h99x', 'l100', 'l100', 'l100x', 'l101']);
    expect(t.events.map((e) => (e.type === 'candle' ? e.candle.n : -1))).toEqual([1, 1, 1, 2, 3, 1]);
  });

  it('without history: no request, live candles at once', async () => {
    const t = setup(0);
    t.snap(candle(5), 1);
    t.upd(2, candle(5, true), candle(6));
    await t.tick(5);
    expect(t.requests).toHaveLength(0);
    expect(t.summary()).toEqual(['l5', 'l5x', 'l6']);
  });

  it('an error from the endpoint ends the stream with the server’s code, and unsubscribes', async () => {
    const t = setup(10);
    t.snap(candle(1), 1);
    (await t.request(0)).answer(401, { op: 'err', code: 'unauthorized', msg: 'invalid token' });
    await t.tick(10);
    expect(t.ended()).toMatchObject({ name: 'TickwireError', code: 'unauthorized', topics: [TOPIC] });
    expect((t.ended() as Error).message).toContain('HTTP 401: invalid token');
    expect(t.events).toEqual([]);
    expect(t.sent().at(-1)).toEqual({ op: 'unsub', id: 2, topics: [TOPIC] });
  });

  it('a broken live stream (resync) is repaired from the endpoint: the buckets closed meanwhile, then the new live candle', async () => {
    const t = setup(0);
    t.snap(candle(100), 1);
    t.upd(2, candle(100, false, 2));
    await t.tick(5);
    t.snap(candle(105), 9, { resync: true }); // 100's close and whatever came until 105 were missed
    const req = await t.request(0);
    expect(req.url).toContain('&limit=7'); // buckets 100..105 plus one
    t.upd(10, candle(105, false, 2));
    req.answer(200, { topic: TOPIC, candles: [candle(99, true), candle(100, true, 4), candle(101, true), candle(103, true)] });
    await t.tick(10);
    expect(t.summary()).toEqual(['l100', 'l100', 'h100x', 'h101x', 'h103x', 'l105', 'l105']);
  });

  it('a failed repair is flagged as a gap, and the live stream carries on', async () => {
    const t = setup(0);
    t.snap(candle(100), 1);
    await t.tick(5);
    t.snap(candle(103), 7, { resync: true });
    (await t.request(0)).answer(503, { op: 'err', code: 'unavailable', msg: 'try later' });
    await t.tick(10);
    expect(t.summary()).toEqual(['l100', 'gap(100,103)', 'l103']);
    expect(t.events[1]).toMatchObject({ type: 'gap', error: { code: 'unavailable' } });
    expect(t.ended()).toBe('running');
  });

  it('candleHistory: one request with limit and before', async () => {
    const f = scriptedFetch();
    const t = memoryClient({ url: 'wss://gw.example/v1', fetch: f.fetch });
    const p = t.client.candleHistory('candle.1m.ETH-USD', { limit: 2, before: T0 });
    const req = await f.request(0);
    expect(req.url).toBe(`https://gw.example/v1/candles?topic=candle.1m.ETH-USD&limit=2&before=${T0}`);
    req.answer(200, { topic: 'candle.1m.ETH-USD', candles: [candle(-2, true), candle(-1, true)] });
    await expect(p).resolves.toEqual([candle(-2, true), candle(-1, true)]);
    expect(() => t.client.candleHistory('trade.ETH-USD')).toThrow(TypeError);
  });
});
