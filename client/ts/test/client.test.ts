import { describe, expect, it } from 'vitest';
import { TickwireClient } from '../src/client.js';
import { TickwireError } from '../src/errors.js';
import type { Status, SubscriptionEvent } from '../src/types.js';
import { memoryClient as setup } from './support/memory-client.js';
import { eventSummary as types } from './support/util.js';

/**
 * The client's protocol logic over an in-memory socket: deterministic, no network. The same
 * behaviours are exercised over real sockets in fake-server.test.ts.
 */

const T = 'trade.BTC-USD';
const trade = (px: number) => ({ ts: px, px, qty: 1, side: 'b' as const });
const collect = () => {
  const events: SubscriptionEvent[] = [];
  return { events, on: (e: SubscriptionEvent) => events.push(e) };
};

describe('TickwireClient (in-memory socket)', () => {
  it('subscriptions made before connect() go out in one sub when the socket opens', () => {
    const t = setup();
    t.client.subscribe(T);
    t.client.subscribe('quote.AAPL');
    t.open();
    expect(t.sent()).toEqual([{ op: 'sub', id: 1, topics: [T, 'quote.AAPL'] }]);
  });

  it('subscriptions made while open in one task are batched into one sub', async () => {
    const t = setup();
    t.open();
    for (const s of ['trade.A', 'trade.B', 'trade.C']) t.client.subscribe(s);
    expect(t.sent()).toEqual([]);
    await t.tick(1);
    expect(t.sent()).toEqual([{ op: 'sub', id: 1, topics: ['trade.A', 'trade.B', 'trade.C'] }]);
  });

  it('ack resolves ready; err rejects the listed topics with code, msg and topics, and the ack serves the rest', async () => {
    const t = setup();
    const good = t.client.subscribe(T);
    const bad = t.client.subscribe('trade.btc');
    t.open();
    t.sock().serverSend({ op: 'err', id: 1, code: 'bad_topic', msg: 'invalid topic name(s)', topics: ['trade.btc'] });
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    await expect(good.ready).resolves.toBeUndefined();
    const err = await bad.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TickwireError);
    expect(err).toMatchObject({ code: 'bad_topic', message: 'invalid topic name(s)', topics: ['trade.btc'] });
    await expect(bad[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'bad_topic' });
    expect(bad.active).toBe(false);
    expect(t.client.subscribedTopics).toEqual([T]);
  });

  it('an err without topics fails every topic of the request (e.g. too_many_topics)', async () => {
    const t = setup();
    const a = t.client.subscribe('trade.A');
    const b = t.client.subscribe('trade.B');
    t.open();
    t.sock().serverSend({ op: 'err', id: 1, code: 'too_many_topics', msg: 'at most 1 topics per request' });
    await expect(a.ready).rejects.toMatchObject({ code: 'too_many_topics', topics: ['trade.A'] });
    await expect(b.ready).rejects.toMatchObject({ code: 'too_many_topics', topics: ['trade.B'] });
  });

  it('splits a large resubscription by maxTopicsPerRequest', () => {
    const t = setup({ maxTopicsPerRequest: 2 });
    for (const s of ['trade.A', 'trade.B', 'trade.C']) t.client.subscribe(s);
    t.open();
    expect(t.sent().map((m) => m.topics)).toEqual([['trade.A', 'trade.B'], ['trade.C']]);
  });

  it('delivers snap then ticks, to the listener and the iterator alike', async () => {
    const t = setup();
    const c = collect();
    const sub = t.client.subscribe(T, c.on);
    const it = sub[Symbol.asyncIterator]();
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 11, data: [trade(11), trade(12)] });
    expect(c.events).toEqual([
      { type: 'snap', topic: T, epoch: 'E1', seq: 10, tick: trade(10) },
      { type: 'tick', topic: T, seq: 11, tick: trade(11) },
      { type: 'tick', topic: T, seq: 12, tick: trade(12) },
    ]);
    const got: SubscriptionEvent[] = [];
    for (let i = 0; i < 3; i++) got.push((await it.next()).value as SubscriptionEvent);
    expect(got).toEqual(c.events);
    expect(t.client.topicState(T)).toEqual({ topic: T, throttled: false, live: true, epoch: 'E1', seq: 12 });
  });

  it("ignores a topic's messages until its sub is acknowledged", () => {
    const t = setup();
    const c = collect();
    t.client.subscribe(T, c.on);
    t.open();
    t.sock().serverSend({ op: 'snap', topic: T, seq: 5, epoch: 'E1', data: trade(5) });
    expect(c.events).toEqual([]);
  });

  describe('a snapshot for a topic the client already has (after a reconnect)', () => {
    async function reconnectWith(snap: Record<string, unknown>, topic = T) {
      const t = setup();
      const c = collect();
      t.client.subscribe(topic, c.on);
      t.open();
      t.sock().serverSend({ op: 'ack', id: 1, topics: [topic] });
      t.sock().serverSend({ op: 'snap', topic, seq: 10, epoch: 'E1', data: trade(10) });
      t.sock().serverClose(1001);
      t.open();
      const sub = t.sent()[0]!;
      t.sock().serverSend({ op: 'ack', id: sub.id, topics: [topic] });
      t.sock().serverSend({ op: 'snap', topic, data: trade(99), ...snap });
      t.sock().serverSend({ op: 'upd', topic, seq: (snap.seq as number) + 1, data: [trade(100)] });
      return { t, c, sub };
    }

    it('sends since with the last epoch and seq', async () => {
      const { sub } = await reconnectWith({ seq: 11, epoch: 'E1' });
      expect(sub).toEqual({ op: 'sub', id: 2, topics: [T], since: { [T]: { epoch: 'E1', seq: 10 } } });
    });
    it.each([
      ['resync: true → resync (server)', { seq: 40, epoch: 'E1', resync: true }, ['snap@10', 'resync:server@40', 'tick41']],
      ['a new epoch → resync (epoch)', { seq: 3, epoch: 'E2' }, ['snap@10', 'resync:epoch@3', 'tick4']],
      ['a flagged new epoch → resync (epoch), as in Python', { seq: 3, epoch: 'E2', resync: true }, ['snap@10', 'resync:epoch@3', 'tick4']],
      ['same epoch, seq + 1 → just the next tick', { seq: 11, epoch: 'E1' }, ['snap@10', 'tick11', 'tick12']],
      ['same epoch, same seq → nothing new', { seq: 10, epoch: 'E1' }, ['snap@10', 'tick11']],
      ['same epoch, skipped ticks → resync (snapshot)', { seq: 15, epoch: 'E1' }, ['snap@10', 'resync:snapshot@15', 'tick16']],
      ['same epoch, an older seq → resync (snapshot)', { seq: 7, epoch: 'E1' }, ['snap@10', 'resync:snapshot@7', 'tick8']],
    ])('%s', async (_name, snap, expected) => {
      const { c } = await reconnectWith(snap);
      expect(types(c.events)).toEqual(expected);
      const resync = c.events.find((e) => e.type === 'resync');
      if (resync) expect(resync).toMatchObject({ previous: { epoch: 'E1', seq: 10 }, tick: trade(99) });
    });
    it('throttled topic: no since, and a later seq in the same epoch is just the next tick', async () => {
      const { c, sub } = await reconnectWith({ seq: 15, epoch: 'E1' }, 'trade.BTC-USD@100ms');
      expect(sub.since).toBeUndefined();
      expect(types(c.events)).toEqual(['snap@10', 'tick15', 'tick16']);
    });
  });

  it('a later subscription to the same topic starts with a snap of the cached last tick', async () => {
    const t = setup();
    const a = collect();
    t.client.subscribe(T, a.on);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 11, data: [trade(11)] });
    const b = collect();
    const second = t.client.subscribe(T, b.on);
    await expect(second.ready).resolves.toBeUndefined();
    t.sock().serverSend({ op: 'upd', topic: T, seq: 12, data: [trade(12)] });
    expect(types(b.events)).toEqual(['snap@11', 'tick12']);
    expect(types(a.events)).toEqual(['snap@10', 'tick11', 'tick12']);
    await t.tick(2);
    expect(t.sent()).toHaveLength(1); // one server subscription for both
    await second.unsubscribe();
    expect(t.sent()).toHaveLength(1); // the first still uses it
  });

  it('gap: emits {expected, got}, ignores the broken stream, resubscribes (unsub + sub, no since) and resyncs', () => {
    const t = setup();
    const c = collect();
    t.client.subscribe(T, c.on);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 12, data: [trade(12)] });
    expect(c.events.at(-1)).toEqual({ type: 'gap', topic: T, expected: 11, got: 12, reason: 'seq' });
    expect(t.sent().slice(1)).toEqual([
      { op: 'unsub', id: 2, topics: [T] },
      { op: 'sub', id: 3, topics: [T] },
    ]);
    expect(t.client.topicState(T)?.live).toBe(false);
    t.sock().serverSend({ op: 'upd', topic: T, seq: 13, data: [trade(13)] }); // old stream: ignored
    t.sock().serverSend({ op: 'ack', id: 2, topics: [T] });
    t.sock().serverSend({ op: 'ack', id: 3, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 14, epoch: 'E1', data: trade(14) });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 15, data: [trade(15)] });
    expect(types(c.events)).toEqual(['snap@10', 'gap11/12', 'resync:gap@14', 'tick15']);
  });

  it('the shutdown notice: leaves at once and reconnects with no backoff, resuming with since', async () => {
    const t = setup();
    const c = collect();
    t.client.subscribe(T, c.on);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    const first = t.sock();
    first.serverSend({ op: 'shutdown', ts: 1, msg: 'draining' });
    // A new socket is opening already: no timer had to run, no 1001 was awaited.
    expect(t.sockets.length).toBe(2);
    expect(t.statuses.at(-2)).toMatchObject({ state: 'reconnecting', delayMs: 0, reason: 'server shutting down: draining' });
    t.sock().serverOpen();
    expect(t.sent()[0]).toEqual({ op: 'sub', id: 2, topics: [T], since: { [T]: { epoch: 'E1', seq: 10 } } });
  });

  it('an upd before any snapshot is a protocol error: reported, and the topic is resubscribed', () => {
    const t = setup();
    const errors: TickwireError[] = [];
    t.client.onError((e) => errors.push(e));
    const c = collect();
    t.client.subscribe(T, c.on);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 5, data: [trade(5)] });
    expect(errors.map((e) => e.code)).toEqual(['protocol_error']);
    expect(
      t
        .sent()
        .slice(1)
        .map((m) => m.op),
    ).toEqual(['unsub', 'sub']);
    t.sock().serverSend({ op: 'ack', id: 3, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 6, epoch: 'E1', data: trade(6) });
    expect(types(c.events)).toEqual(['snap@6']);
  });

  it('ping resolves with the round-trip time; rejects when not connected or when the link drops', async () => {
    const t = setup();
    await expect(t.client.ping()).rejects.toMatchObject({ code: 'not_connected' });
    t.open();
    const p = t.client.ping();
    expect(t.sent()).toEqual([{ op: 'ping', id: 2 }]);
    t.timers.advance(7);
    t.sock().serverSend({ op: 'pong', id: 2 });
    await expect(p).resolves.toBe(7);
    const lost = t.client.ping();
    t.sock().serverClose(1006);
    await expect(lost).rejects.toMatchObject({ code: 'connection_lost' });
  });

  it('unsubscribe sends unsub and resolves on its ack; the iterator ends after buffered events', async () => {
    const t = setup();
    const sub = t.client.subscribe(T);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    let done = false;
    const un = t.client.unsubscribe(T).then(() => (done = true));
    expect(t.sent().at(-1)).toEqual({ op: 'unsub', id: 2, topics: [T] });
    await t.tick(3);
    expect(done).toBe(false);
    t.sock().serverSend({ op: 'upd', topic: T, seq: 2, data: [trade(2)] }); // in flight before the unsub: ignored
    t.sock().serverSend({ op: 'ack', id: 2, topics: [T] });
    await un;
    const evs: SubscriptionEvent[] = [];
    for await (const ev of sub) evs.push(ev);
    expect(types(evs)).toEqual(['snap@1']);
    expect(t.client.topicState(T)).toBeUndefined();
  });

  it('breaking out of for-await unsubscribes', async () => {
    const t = setup();
    const sub = t.client.subscribe(T);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    for await (const ev of sub) {
      expect(ev.type).toBe('snap');
      break;
    }
    expect(t.sent().at(-1)).toEqual({ op: 'unsub', id: 2, topics: [T] });
    expect(sub.active).toBe(false);
  });

  it('an iterator that falls behind loses its oldest ticks, reported by an overflow gap; other events are kept', async () => {
    const t = setup({ maxBufferedEvents: 3 });
    const sub = t.client.subscribe(T);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    t.sock().serverSend({ op: 'upd', topic: T, seq: 2, data: [trade(2), trade(3), trade(4), trade(5), trade(6)] });
    // Full of ticks: a resync event makes room by dropping a tick, never itself.
    t.sock().serverSend({ op: 'snap', topic: T, seq: 20, epoch: 'E1', data: trade(20), resync: true });
    expect(sub.dropped).toBe(4);
    const it = sub[Symbol.asyncIterator]();
    const seen: SubscriptionEvent[] = [];
    for (let i = 0; i < 4; i++) seen.push((await it.next()).value as SubscriptionEvent);
    expect(types(seen)).toEqual(['snap@1', 'gap2/6', 'tick6', 'resync:server@20']);
    expect(seen[1]).toEqual({ type: 'gap', topic: T, expected: 2, got: 6, reason: 'overflow' });
    // The subscription carries on.
    t.sock().serverSend({ op: 'upd', topic: T, seq: 21, data: [trade(21)] });
    expect(types([(await it.next()).value as SubscriptionEvent])).toEqual(['tick21']);
    expect(sub.active).toBe(true);
    await it.return!();
    expect(t.sent().at(-1)).toMatchObject({ op: 'unsub', topics: [T] });
  });

  it('a listener that throws is reported to onError and does not disturb the others', () => {
    const t = setup();
    const errors: TickwireError[] = [];
    t.client.onError((e) => errors.push(e));
    const c = collect();
    t.client.subscribe(T, () => {
      throw new Error('boom');
    });
    t.client.subscribe(T, c.on);
    t.open();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverSend({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    expect(errors.map((e) => [e.code, e.message])).toEqual([['listener_error', 'a listener threw: boom']]);
    expect(types(c.events)).toEqual(['snap@1']);
  });

  it('an err without a known id goes to onError', () => {
    const t = setup();
    const errors: TickwireError[] = [];
    t.client.onError((e) => errors.push(e));
    t.open();
    t.sock().serverSend({ op: 'err', code: 'bad_frame', msg: 'expected binary msgpack frames' });
    expect(errors).toMatchObject([{ code: 'bad_frame', message: 'expected binary msgpack frames' }]);
  });

  it('close(): iterators end, pending ready rejects, status iterator ends; the client cannot be reused', async () => {
    const t = setup();
    const statusIt = t.client.status[Symbol.asyncIterator]();
    const sub = t.client.subscribe(T);
    const open = t.client.connect();
    t.sock().serverOpen();
    await open;
    const closing = t.client.close();
    t.sock().serverClose(1000); // the server completes the close handshake
    await closing;
    await expect(sub.ready).rejects.toMatchObject({ code: 'closed' });
    expect(await sub[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
    const seen: Status[] = [];
    for (;;) {
      const r = await statusIt.next();
      if (r.done) break;
      seen.push(r.value);
    }
    expect(seen.map((s) => s.state)).toEqual(['connecting', 'open', 'closed']);
    expect(() => t.client.subscribe(T)).toThrow(TickwireError);
    await expect(t.client.connect()).resolves.toBeUndefined(); // the first connect() had succeeded
    // A status iterator made after the end yields the final status once.
    const late: Status[] = [];
    for await (const s of t.client.status) late.push(s);
    expect(late).toEqual([{ state: 'closed', code: 1000, reason: 'closed by client', terminal: true }]);
  });

  it('a terminal close by the server makes iterators throw a closed error carrying the code', async () => {
    const t = setup();
    const sub = t.client.subscribe(T);
    const connecting = t.client.connect();
    t.sock().serverOpen();
    t.sock().serverSend({ op: 'ack', id: 1, topics: [T] });
    t.sock().serverClose(1000, 'no longer needed');
    await connecting;
    expect(t.client.status.current).toEqual({ state: 'closed', code: 1000, reason: 'no longer needed', terminal: true });
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'closed', closeCode: 1000 });
  });

  it('connect() rejects if the client closes before it ever opened, saying why', async () => {
    const t = setup({ reconnect: false });
    const p = t.client.connect();
    t.sock().serverClose(1006);
    await expect(p).rejects.toMatchObject({ code: 'connect_failed', closeCode: 1006, message: 'connection failed (1006) at ws://gw/v1' });
  });

  it('requires a WebSocket constructor when there is no global one', () => {
    expect(() => new TickwireClient({ url: 'ws://x/v1' })).toThrow(/pass options.WebSocket/);
  });
});
