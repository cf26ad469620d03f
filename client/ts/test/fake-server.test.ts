import { encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/close-codes.js';
import type { SubscriptionEvent, WebSocketConstructor } from '../src/types.js';
import { deflateFrame, type FakeConn, type Msg } from './support/fake-server.js';
import { useFakeServer } from './support/fake-server-client.js';
import { checkEvents, eventSummary as summary, sleep, waitUntil } from './support/util.js';

/**
 * The client against a scripted server over real sockets (`ws` on 127.0.0.1:0): every server
 * frame is written by the test, so resume, resync, gaps, silence, close codes and compressed
 * framing can be produced exactly.
 */

const T = 'trade.BTC-USD';
const Q = 'quote.ETH-USD';
const TH = 'quote.AAPL@100ms';
const trade = (n: number) => ({ ts: 1_700_000_000_000 + n, px: 65_000 + n / 100, qty: 0.5, side: n % 2 ? ('b' as const) : ('s' as const) });
const quote = (n: number) => ({ ts: 1_700_000_000_000 + n, bid: 100 + n / 100, bsz: 1, ask: 100.01 + n / 100, asz: 2 });
const trades = (from: number, n: number) => Array.from({ length: n }, (_, i) => trade(from + i));

const start = useFakeServer();

function collector() {
  const events: SubscriptionEvent[] = [];
  return { events, on: (e: SubscriptionEvent) => void events.push(e) };
}

/** Waits for the client's `sub` on `conn` and acknowledges it. */
async function ackSub(conn: FakeConn, from = 0): Promise<Msg> {
  const sub = await conn.waitFor((m) => m.op === 'sub', 15_000, from);
  conn.send({ op: 'ack', id: sub.id, topics: sub.topics });
  return sub;
}

describe('client against a scripted server', () => {
  it('takes the WebSocket constructors of ws and of the DOM without a cast (type-level)', () => {
    const accept = (ctor: WebSocketConstructor) => typeof ctor;
    expect(accept(WebSocket)).toBe('function');
    const dom: typeof globalThis.WebSocket | undefined = globalThis.WebSocket;
    if (dom) accept(dom);
  });

  it('resumes after a reconnect: one sub with since = last {epoch, seq} of each raw topic with data, then continues gap-free', async () => {
    const { server, client, statuses } = await start();
    const t = collector();
    const th = collector();
    const q = collector();
    client.subscribe(T, t.on);
    client.subscribe(TH, th.on);
    client.subscribe(Q, q.on); // never gets data: nothing to resume
    await client.connect();
    const c1 = await server.connection(0);
    const sub1 = await ackSub(c1);
    expect(sub1).toEqual({ op: 'sub', id: sub1.id, topics: [T, TH, Q] });
    c1.send({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    c1.send({ op: 'upd', topic: T, seq: 11, data: trades(11, 3) });
    c1.send({ op: 'snap', topic: TH, seq: 100, epoch: 'E1', data: quote(100) });
    c1.send({ op: 'upd', topic: TH, seq: 150, data: [quote(150)] });
    await waitUntil(() => t.events.length === 4 && th.events.length === 2, 15_000, 'first events');

    c1.close(1001, 'server shutting down');
    const c2 = await server.connection(1);
    const sub2 = await ackSub(c2);
    expect(sub2).toEqual({ op: 'sub', id: sub2.id, topics: [T, TH, Q], since: { [T]: { epoch: 'E1', seq: 13 } } });
    expect(client.topicState(T)).toMatchObject({ epoch: 'E1', seq: 13 });
    // A server with the history replays from 14; the throttled view restarts with a snap.
    c2.send({ op: 'upd', topic: T, seq: 14, data: trades(14, 2) });
    c2.send({ op: 'snap', topic: TH, seq: 180, epoch: 'E1', data: quote(180) });
    c2.send({ op: 'upd', topic: TH, seq: 230, data: [quote(230)] });
    await waitUntil(() => t.events.length === 6 && th.events.length === 4, 15_000, 'resumed events');

    expect(summary(t.events)).toEqual(['snap@10', 'tick11', 'tick12', 'tick13', 'tick14', 'tick15']);
    expect(summary(th.events)).toEqual(['snap@100', 'tick150', 'tick180', 'tick230']); // seq jumps: normal, no gap
    expect(q.events).toEqual([]);
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
    expect(statuses[2]).toMatchObject({
      state: 'reconnecting',
      attempt: 1,
      code: 1001,
      reason: 'closed by server (1001 server shutting down)',
    });
  });

  it('resync: a server-flagged snapshot, then a new epoch, each announced and continued from', async () => {
    const { server, client } = await start();
    const t = collector();
    client.subscribe(T, t.on);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.send({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    c1.send({ op: 'upd', topic: T, seq: 11, data: trades(11, 1) });
    await waitUntil(() => t.events.length === 2);
    c1.close(4008, 'slow consumer');

    const c2 = await server.connection(1);
    expect((await ackSub(c2)).since).toEqual({ [T]: { epoch: 'E1', seq: 11 } });
    c2.send({ op: 'snap', topic: T, seq: 500, epoch: 'E1', data: trade(500), resync: true }); // history exhausted
    c2.send({ op: 'upd', topic: T, seq: 501, data: trades(501, 2) });
    await waitUntil(() => t.events.length === 5);
    c2.ws.terminate(); // link lost without a close frame (1006)

    const c3 = await server.connection(2);
    expect((await ackSub(c3)).since).toEqual({ [T]: { epoch: 'E1', seq: 502 } });
    c3.send({ op: 'snap', topic: T, seq: 4, epoch: 'E2', data: trade(4) }); // gateway restarted; no resync flag
    c3.send({ op: 'upd', topic: T, seq: 5, data: trades(5, 1) });
    await waitUntil(() => t.events.length === 7);

    expect(summary(t.events)).toEqual(['snap@10', 'tick11', 'resync:server@500', 'tick501', 'tick502', 'resync:epoch@4', 'tick5']);
    expect(t.events[2]).toEqual({
      type: 'resync',
      topic: T,
      epoch: 'E1',
      seq: 500,
      tick: trade(500),
      reason: 'server',
      previous: { epoch: 'E1', seq: 11 },
    });
    expect(t.events[5]).toMatchObject({ epoch: 'E2', previous: { epoch: 'E1', seq: 502 } });
    expect(checkEvents(t.events)).toBe(4);
  });

  it(
    'resume on another instance: since carries the upstream position; a snap of that same position in a new epoch is a `moved`, ' +
      'not a resync',
    async () => {
      const { server, client } = await start();
      const t = collector();
      client.subscribe(T, t.on);
      await client.connect();
      const c1 = await server.connection(0);
      await ackSub(c1);
      c1.send({ op: 'snap', topic: T, seq: 10, epoch: 'EA', data: trade(10), src: 'k/ticks/0', off: 100 });
      c1.send({ op: 'upd', topic: T, seq: 11, data: trades(11, 2), off: 130 });
      await waitUntil(() => t.events.length === 3);
      c1.ws.terminate(); // instance A died

      const c2 = await server.connection(1);
      expect((await ackSub(c2)).since).toEqual({ [T]: { epoch: 'EA', seq: 12, src: 'k/ticks/0', off: 130 } });
      // Instance B: the client's own last tick renumbered (seq 3 in EB), then what follows.
      c2.send({ op: 'snap', topic: T, seq: 3, epoch: 'EB', data: trade(12), src: 'k/ticks/0', off: 130 });
      c2.send({ op: 'upd', topic: T, seq: 4, data: trades(13, 2), off: 150 });
      await waitUntil(() => t.events.length === 6);
      expect(summary(t.events)).toEqual(['snap@10', 'tick11', 'tick12', 'moved@EB/3', 'tick4', 'tick5']);
      expect(t.events[3]).toEqual({ type: 'moved', topic: T, epoch: 'EB', seq: 3, previous: { epoch: 'EA', seq: 12 } });
      expect(t.events.slice(4).map((e) => (e.type === 'tick' ? e.tick : undefined))).toEqual(trades(13, 2));
      expect(checkEvents(t.events)).toBe(4);

      // A frame without a position (the instance cannot offer one) drops the stale one from since.
      c2.send({ op: 'upd', topic: T, seq: 6, data: trades(15, 1) });
      await waitUntil(() => t.events.length === 7);
      c2.ws.terminate();
      const c3 = await server.connection(2);
      expect((await ackSub(c3)).since).toEqual({ [T]: { epoch: 'EB', seq: 6 } });
      // A snap of another position in a new epoch is a reset, whatever its src.
      c3.send({ op: 'snap', topic: T, seq: 9, epoch: 'EC', data: trade(20), src: 'k/ticks/0', off: 200 });
      await waitUntil(() => t.events.length === 8);
      expect(summary(t.events).at(-1)).toBe('resync:epoch@9');
    },
  );

  it('gap: detects a seq jump, reports {expected, got}, recovers with unsub + sub and a fresh snapshot', async () => {
    const { server, client } = await start();
    const t = collector();
    const th = collector();
    client.subscribe(T, t.on);
    client.subscribe(TH, th.on);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.send({ op: 'snap', topic: T, seq: 10, epoch: 'E1', data: trade(10) });
    c1.send({ op: 'snap', topic: TH, seq: 10, epoch: 'E1', data: quote(10) });
    c1.send({ op: 'upd', topic: T, seq: 11, data: trades(11, 2) });
    c1.send({ op: 'upd', topic: TH, seq: 40, data: [quote(40)] }); // throttled: a jump is normal
    c1.send({ op: 'upd', topic: T, seq: 15, data: trades(15, 2) }); // 13 and 14 are missing
    c1.send({ op: 'upd', topic: T, seq: 17, data: trades(17, 1) }); // the broken stream goes on: must be ignored
    const unsub = await c1.waitFor((m) => m.op === 'unsub');
    const resub = await c1.waitFor((m) => m.op === 'sub' && m.id !== c1.received[0]!.id);
    expect(unsub).toEqual({ op: 'unsub', id: unsub.id, topics: [T] });
    expect(resub).toEqual({ op: 'sub', id: resub.id, topics: [T] }); // no since: a fresh snapshot
    expect(c1.received.indexOf(unsub)).toBeLessThan(c1.received.indexOf(resub));
    c1.send({ op: 'ack', id: unsub.id, topics: [T] });
    c1.send({ op: 'ack', id: resub.id, topics: [T] });
    c1.send({ op: 'snap', topic: T, seq: 20, epoch: 'E1', data: trade(20) });
    c1.send({ op: 'upd', topic: T, seq: 21, data: trades(21, 2) });
    await waitUntil(() => t.events.length === 7, 15_000, 'recovery');
    expect(summary(t.events)).toEqual(['snap@10', 'tick11', 'tick12', 'gap13/15', 'resync:gap@20', 'tick21', 'tick22']);
    expect(t.events[3]).toEqual({ type: 'gap', topic: T, expected: 13, got: 15, reason: 'seq' });
    expect(summary(th.events)).toEqual(['snap@10', 'tick40']);
    expect(checkEvents(t.events)).toBe(4);
    expect(server.conns).toHaveLength(1); // recovered on the same connection
  });

  it('heartbeat watchdog: hb keeps an idle link alive; silence for heartbeatTimeoutMs drops it and reconnects', async () => {
    // hb every 100 ms against a 1 s watchdog: a 10x margin for a loaded machine's timer lag.
    const { server, client, statuses } = await start({ heartbeatTimeoutMs: 1000 });
    client.subscribe(T);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      await sleep(100); // deliberate: the hb cadence over 1.5 s is what keeps the link alive here
      c1.send({ op: 'hb', ts: Date.now() });
    }
    expect(client.status.current.state).toBe('open'); // 1.5 s > 1 s, kept alive by hb alone
    expect(server.conns).toHaveLength(1);
    const silentSince = Date.now();
    const c2 = await server.connection(1);
    const waited = Date.now() - silentSince;
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(5000);
    expect(statuses.find((s) => s.state === 'reconnecting')).toMatchObject({ reason: expect.stringMatching(/^heartbeat timeout/) });
    await c1.waitClosed(); // the dead socket was dropped, not left open
    await ackSub(c2);
    await waitUntil(() => client.status.current.state === 'open');
  });

  const byName = (reconnect: boolean) =>
    Object.entries(CLOSE_CODES).flatMap(([name, c]) => (c.reconnect === reconnect ? [[name, { code: c.code }] as const] : []));

  it.each(byName(false))('terminal close code %s (%o) stops reconnecting and reports closed', async (name, { code }) => {
    const { server, client, statuses } = await start();
    const sub = client.subscribe(T);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.close(code, `bye (${name})`);
    await waitUntil(() => client.status.current.state === 'closed');
    expect(client.status.current).toEqual({ state: 'closed', code, reason: `bye (${name})`, terminal: true });
    // 6× the largest backoff: a reconnect would have happened; fails as soon as one arrives.
    await expect(server.connection(1, 300)).rejects.toThrow(/timed out waiting for connection #1/);
    expect(server.conns).toHaveLength(1);
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'open', 'closed']);
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'closed', closeCode: code });
  });

  it.each(byName(true))('reconnecting close code %s (%o) reconnects and resubscribes', async (_name, { code }) => {
    const { server, client } = await start();
    client.subscribe(T);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.close(code);
    const c2 = await server.connection(1);
    expect(await ackSub(c2)).toMatchObject({ op: 'sub', topics: [T] });
  });

  it('msgpack+deflate: mixed 0x00/0x01 frames decode in order; client frames are plain msgpack', async () => {
    const { server, client } = await start({ format: 'msgpack+deflate' });
    const t = collector();
    const q = collector();
    client.subscribe(T, t.on);
    client.subscribe(Q, q.on);
    await client.connect();
    expect(client.status.current).toEqual({ state: 'open', subprotocol: 'tickwire.v1.msgpack+deflate', transport: 'websocket' });
    const c1 = await server.connection(0);
    expect(c1.protocol).toBe('tickwire.v1.msgpack+deflate');
    const sub = await c1.waitFor((m) => m.op === 'sub'); // decoded as plain msgpack by the fake server
    expect(c1.binary).toEqual([true]);
    c1.send({ op: 'ack', id: sub.id, topics: sub.topics }, { compress: false });
    c1.send({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) }, { compress: true });
    c1.send({ op: 'snap', topic: Q, seq: 1, epoch: 'E1', data: quote(1) }, { compress: false });
    // A burst where big compressed frames (slow to inflate) are followed at once by small
    // uncompressed ones (decodable at once): any reordering shows up as a gap.
    let seqT = 2;
    let seqQ = 2;
    for (let i = 0; i < 60; i++) {
      const n = i % 3 === 0 ? 200 : 1;
      c1.send({ op: 'upd', topic: T, seq: seqT, data: trades(seqT, n) }, { compress: n > 1 });
      seqT += n;
      c1.send({ op: 'upd', topic: Q, seq: seqQ, data: [quote(seqQ)] }, { compress: i % 2 === 0 });
      seqQ += 1;
      if (i % 20 === 0) c1.send({ op: 'hb', ts: Date.now() }, { compress: false });
    }
    await waitUntil(() => t.events.length === seqT - 1 && q.events.length === seqQ - 1, 20_000, 'all ticks');
    expect(checkEvents(t.events)).toBe(seqT - 2);
    expect(checkEvents(q.events)).toBe(seqQ - 2);
    expect(t.events.some((e) => e.type === 'gap' || e.type === 'resync')).toBe(false);
    // The client's own frames on this subprotocol carry no flag byte.
    const pingP = client.ping();
    const ping = await c1.waitFor((m) => m.op === 'ping');
    c1.send({ op: 'pong', id: ping.id }, { compress: true });
    expect(await pingP).toBeGreaterThanOrEqual(0);
  });

  it('msgpack+deflate: an unknown flag byte is a protocol error: the client reconnects', async () => {
    const { server, client } = await start({ format: 'msgpack+deflate' });
    const errors: string[] = [];
    client.onError((e) => errors.push(`${e.code}: ${e.message}`));
    client.subscribe(T);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.sendRaw(Buffer.concat([Buffer.from([0x02]), Buffer.from(encode({ op: 'hb', ts: 1 }))]));
    const c2 = await server.connection(1);
    await ackSub(c2);
    expect(errors).toEqual(['protocol_error: unknown flag byte 0x02']);
    c2.sendRaw(deflateFrame(encode({ op: 'hb', ts: 2 }), true));
    // A round trip behind the hb: once the pong is in, the compressed hb was decoded without error.
    const pingP = client.ping();
    c2.send({ op: 'pong', id: (await c2.waitFor((m) => m.op === 'ping')).id });
    await pingP;
    expect(errors).toEqual(['protocol_error: unknown flag byte 0x02']);
    expect(server.conns).toHaveLength(2);
  });

  it('msgpack+deflate falls back to plain msgpack on a server without shared compression', async () => {
    const { server, client } = await start({ format: 'msgpack+deflate' }, { accept: ['tickwire.v1.msgpack', 'tickwire.v1.json'] });
    const t = collector();
    client.subscribe(T, t.on);
    await client.connect();
    expect(client.status.current).toEqual({ state: 'open', subprotocol: 'tickwire.v1.msgpack', transport: 'websocket' });
    const c1 = await server.connection(0);
    await ackSub(c1);
    c1.send({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    c1.send({ op: 'upd', topic: T, seq: 2, data: trades(2, 3) });
    await waitUntil(() => t.events.length === 4);
    expect(checkEvents(t.events)).toBe(3);
  });

  it('json: text frames both ways; ping measures a round trip; unsubscribe stops the events', async () => {
    const { server, client } = await start({ format: 'json' });
    const t = collector();
    const sub = client.subscribe(T, t.on);
    await client.connect();
    const c1 = await server.connection(0);
    await ackSub(c1);
    await sub.ready;
    c1.send({ op: 'snap', topic: T, seq: 1, epoch: 'E1', data: trade(1) });
    await waitUntil(() => t.events.length === 1);
    const pingP = client.ping();
    const ping = await c1.waitFor((m) => m.op === 'ping');
    await sleep(20); // deliberate: the measured round trip must include this delay
    c1.send({ op: 'pong', id: ping.id });
    expect(await pingP).toBeGreaterThanOrEqual(15);
    const unsubbing = sub.unsubscribe();
    const unsub = await c1.waitFor((m) => m.op === 'unsub');
    c1.send({ op: 'upd', topic: T, seq: 2, data: trades(2, 1) }); // crossed the unsub on the wire
    c1.send({ op: 'ack', id: unsub.id, topics: [T] });
    await unsubbing;
    c1.send({ op: 'upd', topic: T, seq: 3, data: trades(3, 1) });
    // A round trip behind the upd proves it was handled (and dropped) before the check.
    const afterP = client.ping();
    c1.send({ op: 'pong', id: (await c1.waitFor((m) => m.op === 'ping' && m.id !== ping.id)).id });
    await afterP;
    expect(summary(t.events)).toEqual(['snap@1']);
    expect(c1.binary.every((b) => b === false)).toBe(true);
  });

  it('a sub refused with err rejects ready with code, msg and topics; the valid topic still works', async () => {
    const { server, client } = await start();
    const bad = client.subscribe('trade.btc');
    const good = client.subscribe(T);
    await client.connect();
    const c1 = await server.connection(0);
    const sub = await c1.waitFor((m) => m.op === 'sub');
    c1.send({ op: 'err', id: sub.id, code: 'bad_topic', msg: 'invalid topic name(s)', topics: ['trade.btc'] });
    c1.send({ op: 'ack', id: sub.id, topics: [T] });
    await expect(bad.ready).rejects.toMatchObject({
      name: 'TickwireError',
      code: 'bad_topic',
      message: 'invalid topic name(s)',
      topics: ['trade.btc'],
    });
    await expect(good.ready).resolves.toBeUndefined();
  });
});
