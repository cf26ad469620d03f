import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { TickwireClient, type TickwireClientOptions } from '../src/client.js';
import { SUBPROTOCOLS } from '../src/codec.js';
import type { Status, SubscriptionEvent, TradeTick } from '../src/types.js';
import { waitFor } from '../../../gateway/test/support/wait.js';
import { checkEvents, waitUntil } from './support/util.js';

/**
 * The SDK against the real gateway (uWS, real sockets, embedded feed), in-process. Only what the
 * gateway implements today is tested here; resume that continues gap-free, throttled topics and
 * msgpack+deflate are covered by fake-server.test.ts until the gateway lands them (see
 * gateway-next.test.ts.txt).
 */

const FEED = { feedRate: 5000, flushIntervalMs: 2 } as const;
const BUSY = ['quote.BTC-USD', 'trade.BTC-USD', 'quote.ETH-USD'];

/** A gateway on a port that was just released: the listen socket may take a moment to free. */
async function startOnPort(port: number): Promise<Gateway> {
  const started = await waitFor(
    () =>
      startTestGateway({ ...FEED, port }).then(
        (gw) => ({ gw }),
        (e: unknown) => (/cannot listen/.test(String(e)) ? undefined : { error: e }),
      ),
    { what: `port ${port} to be free`, timeoutMs: 15_000, intervalMs: 50 },
  );
  if ('error' in started) throw started.error;
  return started.gw;
}

const clients: TickwireClient[] = [];
function newClient(port: number, opts: Partial<TickwireClientOptions> = {}): TickwireClient {
  const c = new TickwireClient({ url: `ws://127.0.0.1:${port}/v1`, WebSocket, ...opts });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe.each(['msgpack-compact', 'msgpack-compact+deflate'] as const)('real gateway, %s', (format) => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway(FEED);
  });
  afterAll(async () => {
    await gw.stop();
  });

  /** The first `n` events of `topic` (snap, then ticks). */
  async function eventsOf(client: TickwireClient, topic: string, n: number): Promise<SubscriptionEvent[]> {
    const events: SubscriptionEvent[] = [];
    for await (const ev of client.subscribe(topic)) {
      events.push(ev);
      if (events.length >= n) break;
    }
    return events;
  }

  it('negotiates its subprotocol and delivers the same consecutive ticks as a msgpack client', async () => {
    // msgpack-compact+deflate inflates with the default DecompressionStream (the dictionary goes in as a stored block).
    const compact = newClient(gw.port, { format });
    const msgpack = newClient(gw.port, { format: 'msgpack' });
    await Promise.all([compact.connect(), msgpack.connect()]);
    expect(compact.status.current).toMatchObject({ state: 'open', subprotocol: SUBPROTOCOLS[format] });
    for (const topic of ['trade.BTC-USD', 'quote.ETH-USD']) {
      const [a, b] = await Promise.all([eventsOf(compact, topic, 300), eventsOf(msgpack, topic, 300)]);
      expect(checkEvents(a)).toBe(299);
      expect(checkEvents(b)).toBe(299);
      const bySeq = new Map(b.flatMap((e) => (e.type === 'tick' ? [[e.seq, e.tick] as const] : [])));
      let same = 0;
      for (const e of a) {
        if (e.type !== 'tick' || !bySeq.has(e.seq)) continue;
        expect(e.tick).toEqual(bySeq.get(e.seq));
        same++;
      }
      expect(same).toBeGreaterThan(100);
    }
  });
});

describe.each(['msgpack', 'json'] as const)('real gateway, %s', (format) => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway(FEED);
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('status stream shows connecting → open with the negotiated subprotocol', async () => {
    const client = newClient(gw.port, { format });
    const it = client.status[Symbol.asyncIterator]();
    const connected = client.connect();
    const first = await it.next();
    const second = await it.next();
    await connected;
    expect([first.value, second.value]).toEqual([
      { state: 'connecting', transport: 'websocket' },
      { state: 'open', subprotocol: `tickwire.v1.${format}`, transport: 'websocket' },
    ]);
    await it.return?.();
  });

  it('async iterator: a snap of the current epoch, then consecutive ticks', async () => {
    const client = newClient(gw.port, { format });
    await client.connect();
    const sub = client.subscribe('trade.BTC-USD');
    const events: SubscriptionEvent<TradeTick>[] = [];
    const deadline = Date.now() + 10_000;
    for await (const ev of sub) {
      events.push(ev);
      if (events.length >= 200 || Date.now() > deadline) break; // break unsubscribes
    }
    expect(events).toHaveLength(200);
    const first = events[0]!;
    expect(first).toMatchObject({ type: 'snap', topic: 'trade.BTC-USD', epoch: gw.epoch });
    expect(checkEvents(events)).toBe(199);
    for (const ev of events) {
      if (ev.type !== 'tick' && ev.type !== 'snap') continue;
      expect(Object.keys(ev.tick).sort()).toEqual(['px', 'qty', 'side', 'ts']);
      expect(ev.tick.px).toBeGreaterThan(0);
    }
    expect(sub.active).toBe(false);
    expect(client.subscribedTopics).toEqual([]);
  });

  it('callback API over several topics: consecutive ticks; unsubscribe stops them', async () => {
    const client = newClient(gw.port, { format });
    await client.connect();
    const events = new Map<string, SubscriptionEvent[]>(BUSY.map((t) => [t, []]));
    const subs = BUSY.map((t) => client.subscribe(t, (ev) => events.get(t)!.push(ev)));
    await Promise.all(subs.map((s) => s.ready));
    await waitUntil(() => BUSY.every((t) => events.get(t)!.length >= 50), 20_000, '50 events per topic');
    for (const t of BUSY) {
      expect(events.get(t)![0]).toMatchObject({ type: 'snap', epoch: gw.epoch });
      expect(checkEvents(events.get(t)!)).toBeGreaterThanOrEqual(49);
      expect(client.topicState(t)).toMatchObject({ live: true, epoch: gw.epoch, seq: (events.get(t)!.at(-1) as { seq: number }).seq });
    }
    const [first, ...rest] = BUSY as [string, ...string[]];
    await client.unsubscribe(first);
    const stoppedAt = events.get(first)!.length;
    const othersAt = rest.map((t) => events.get(t)!.length);
    // Barrier: the feed went on for the other topics, so an event of the dropped one would be here.
    await waitUntil(() => rest.every((t, i) => events.get(t)!.length > othersAt[i]! + 5), 15_000, 'the other topics moving on');
    expect(events.get(first)!.length).toBe(stoppedAt);
    expect(subs[0]!.active).toBe(false);
  });

  it('ping resolves with a round-trip time', async () => {
    const client = newClient(gw.port, { format });
    await client.connect();
    const rtts = [await client.ping(), await client.ping(), await client.ping()];
    for (const rtt of rtts) {
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(rtt).toBeLessThan(1000);
    }
  });

  it('an invalid topic: ready rejects with the gateway err (code, msg, topics)', async () => {
    const client = newClient(gw.port, { format });
    await client.connect();
    const bad = client.subscribe('trade.btc-usd');
    await expect(bad.ready).rejects.toMatchObject({
      name: 'TickwireError',
      code: 'bad_topic',
      topics: ['trade.btc-usd'],
      message: expect.stringMatching(/invalid topic/),
    });
    await expect(bad[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'bad_topic' });
    expect(client.status.current.state).toBe('open'); // an err never closes the connection
  });
});

describe('real gateway, msgpack+deflate requested', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway(FEED);
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('connects whichever the gateway picks (shared compression, or plain msgpack before it exists), streams in-order ticks', async () => {
    const client = newClient(gw.port, { format: 'msgpack+deflate' });
    await client.connect();
    const status = client.status.current as Extract<Status, { state: 'open' }>;
    expect(['tickwire.v1.msgpack+deflate', 'tickwire.v1.msgpack']).toContain(status.subprotocol);
    const events: SubscriptionEvent[] = [];
    client.subscribe('quote.BTC-USD', (ev) => events.push(ev));
    await waitUntil(() => events.length >= 100, 20_000, '100 events');
    expect(checkEvents(events)).toBeGreaterThanOrEqual(99);
  });
});

describe('real gateway restart on the same port', () => {
  const gateways: Gateway[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it('the client reconnects, resubscribes, and sees resync (new epoch) then consecutive ticks: never a silent gap', async () => {
    const gwA = await startTestGateway(FEED);
    gateways.push(gwA);
    const port = gwA.port;
    const client = newClient(port, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const statuses: Status[] = [];
    client.onStatus((s) => statuses.push(s));
    const events: SubscriptionEvent[] = [];
    const topics = ['quote.BTC-USD', 'trade.BTC-USD'];
    const other: SubscriptionEvent[] = [];
    client.subscribe(topics[0]!, (ev) => events.push(ev));
    client.subscribe(topics[1]!, (ev) => other.push(ev));
    await client.connect();
    await waitUntil(() => events.length >= 50 && other.length >= 5, 20_000, 'ticks before the restart');

    await gwA.stop(); // clients get 1001 going_away
    await waitUntil(() => client.status.current.state !== 'open', 15_000, 'the client to notice');
    const beforeRestart = events.length;
    const lostAt = statuses.length;
    // A few failed attempts against the closed port: each ends in another `reconnecting`.
    await waitUntil(() => statuses.slice(lostAt).filter((s) => s.state === 'reconnecting').length >= 2, 15_000, 'failed attempts');
    const gwB = await startOnPort(port);
    gateways.push(gwB);
    expect(gwB.epoch).not.toBe(gwA.epoch);

    await waitUntil(() => events.some((e) => e.type === 'resync'), 20_000, 'the resync');
    const resyncAt = events.findIndex((e) => e.type === 'resync');
    await waitUntil(() => events.length >= resyncAt + 50, 20_000, 'ticks after the restart');

    expect(resyncAt).toBe(beforeRestart); // nothing between the last tick of A and the resync
    const resync = events[resyncAt]!;
    expect(resync).toMatchObject({ type: 'resync', topic: topics[0], epoch: gwB.epoch, previous: { epoch: gwA.epoch } });
    // A `since` of another epoch with no upstream position (the embedded feed has none) is
    // answered with a snap flagged `resync: true`; a new epoch is reported as `epoch` (both SDKs).
    expect((resync as { reason: string }).reason).toBe('epoch');
    expect(checkEvents(events)).toBeGreaterThanOrEqual(events.length - 2);
    expect(events.filter((e) => e.type === 'gap')).toEqual([]);
    await waitUntil(() => other.some((e) => e.type === 'resync'), 20_000, "the second topic's resync");
    expect(checkEvents(other)).toBeGreaterThan(0);

    const states = statuses.map((s) => s.state);
    expect(states.slice(0, 2)).toEqual(['connecting', 'open']);
    // The gateway's shutdown notice (before its 1001) sends the client away at once, no backoff.
    expect(statuses[2]).toMatchObject({ state: 'reconnecting', delayMs: 0, reason: expect.stringContaining('server shutting down') });
    expect(states.at(-1)).toBe('open');
    expect(client.topicState(topics[0]!)).toMatchObject({ live: true, epoch: gwB.epoch });
  });
});
