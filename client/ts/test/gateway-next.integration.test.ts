import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { ManualSource, startTestGateway, waitForMetric } from '../../../gateway/test/support/gateway.js';
import { waitFor } from '../../../gateway/test/support/wait.js';
import { TickwireClient, type TickwireClientOptions } from '../src/client.js';
import type { Status, SubscriptionEvent } from '../src/types.js';
import { checkEvents, eventSummary as summary, waitUntil } from './support/util.js';

/**
 * The SDK against the real gateway for the protocol additions (resume with since, resync: true,
 * throttled views, msgpack+deflate, slow-consumer conflation and 4008). Rename to
 * gateway-next.test.ts once the gateway implements them.
 */

const T = 'trade.BTC-USD';
const Q = 'quote.BTC-USD';
const FEED = { feedRate: 5000, flushIntervalMs: 2 } as const;
const trade = (n: number) => ({ ts: 1_700_000_000_000 + n, px: 100 + n, qty: 1, side: 'b' as const });
const lastSeq = (evs: SubscriptionEvent[]) => {
  const e = evs.at(-1);
  return e && e.type !== 'gap' ? e.seq : 0;
};
/** A gateway on a port that was just released: the listen socket may take a moment to free. */
async function startOnPort(port: number, overrides: Parameters<typeof startTestGateway>[0], source?: ManualSource): Promise<Gateway> {
  const started = await waitFor(
    () =>
      startTestGateway({ ...overrides, port }, source).then(
        (gw) => ({ gw }),
        (e: unknown) => (/cannot listen/.test(String(e)) ? undefined : { error: e }),
      ),
    { what: `port ${port} to be free`, timeoutMs: 15_000, intervalMs: 50 },
  );
  if ('error' in started) throw started.error;
  return started.gw;
}

/** A `ws` WebSocket that remembers its instances, so a test can cut or stall the client's link. */
const sockets: WebSocket[] = [];
class RecordingWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    sockets.push(this);
  }
}

const clients: TickwireClient[] = [];
function newClient(port: number, opts: Partial<TickwireClientOptions> = {}) {
  const client = new TickwireClient({
    url: `ws://127.0.0.1:${port}/v1`,
    WebSocket: RecordingWebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    transport: 'websocket',
    ...opts,
  });
  clients.push(client);
  const statuses: Status[] = [];
  client.onStatus((s) => statuses.push(s));
  return { client, statuses };
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  sockets.splice(0);
});

describe('resume with since (manual source: exact ticks)', () => {
  const gateways: Gateway[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it('a dropped link resumes gap-free: the ticks published while away are replayed, no snapshot, no resync', async () => {
    const source = new ManualSource();
    const gw = await startTestGateway({ flushIntervalMs: 2 }, source);
    gateways.push(gw);
    const { client, statuses } = newClient(gw.port);
    const events: SubscriptionEvent[] = [];
    const sub = client.subscribe(T, (e) => events.push(e));
    await client.connect();
    await sub.ready;
    source.publish(T, trade(1)); // the topic's first tick: its snap
    await waitUntil(() => lastSeq(events) === 1, 15_000, 'the snap');
    for (let n = 2; n <= 5; n++) source.publish(T, trade(n));
    await waitUntil(() => lastSeq(events) === 5, 15_000, 'ticks 2..5');
    sockets.at(-1)!.terminate(); // the link dies (the client sees 1006)
    for (let n = 6; n <= 10; n++) source.publish(T, trade(n)); // while it is away
    await waitUntil(() => sockets.length === 2 && client.status.current.state === 'open', 15_000, 'the reconnect');
    await waitUntil(() => lastSeq(events) === 10, 15_000, 'the replay');
    for (let n = 11; n <= 12; n++) source.publish(T, trade(n));
    await waitUntil(() => lastSeq(events) === 12, 15_000, 'live ticks after the resume');
    expect(summary(events)).toEqual(['snap@1', ...Array.from({ length: 11 }, (_, i) => `tick${i + 2}`)]);
    expect(events.filter((e) => e.type === 'tick').map((e) => (e as { tick: unknown }).tick)).toEqual(
      Array.from({ length: 11 }, (_, i) => trade(i + 2)),
    );
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
  });

  it('a resume point older than the history gets resync (server) and continues from the snapshot', async () => {
    const source = new ManualSource();
    const gw = await startTestGateway({ flushIntervalMs: 2, historyBudgetBytes: 0 }, source);
    gateways.push(gw);
    const { client } = newClient(gw.port);
    const events: SubscriptionEvent[] = [];
    const sub = client.subscribe(T, (e) => events.push(e));
    await client.connect();
    await sub.ready;
    source.publish(T, trade(1));
    await waitUntil(() => lastSeq(events) === 1, 15_000, 'the snap');
    source.publish(T, trade(2));
    await waitUntil(() => lastSeq(events) === 2, 15_000, 'tick 2');
    sockets.at(-1)!.terminate();
    // A budget of 0 keeps only the chunk being written (16 ticks): seq 33..40 stay, 3..32 go.
    for (let n = 3; n <= 40; n++) source.publish(T, trade(n));
    await waitUntil(() => events.some((e) => e.type === 'resync'), 15_000, 'the resync');
    source.publish(T, trade(41));
    await waitUntil(() => lastSeq(events) === 41, 15_000, 'tick 41');
    expect(summary(events)).toEqual(['snap@1', 'tick2', 'resync:server@40', 'tick41']);
    expect(events[2]).toEqual({
      type: 'resync',
      topic: T,
      epoch: gw.epoch,
      seq: 40,
      tick: trade(40),
      reason: 'server',
      previous: { epoch: gw.epoch, seq: 2 },
    });
  });

  it('a gateway restart (new epoch) answers since with resync: true, reported as reason epoch (as by the Python SDK)', async () => {
    const sourceA = new ManualSource();
    const gwA = await startTestGateway({ flushIntervalMs: 2 }, sourceA);
    gateways.push(gwA);
    const port = gwA.port;
    const { client } = newClient(port);
    const events: SubscriptionEvent[] = [];
    client.subscribe(T, (e) => events.push(e));
    await client.connect();
    sourceA.publish(T, trade(1));
    await waitUntil(() => lastSeq(events) === 1, 15_000, 'the snap from A');
    for (let n = 2; n <= 3; n++) sourceA.publish(T, trade(n));
    await waitUntil(() => lastSeq(events) === 3, 15_000, 'ticks from A');
    await gwA.stop();
    const sourceB = new ManualSource();
    const gwB = await startOnPort(port, { flushIntervalMs: 2 }, sourceB);
    gateways.push(gwB);
    sourceB.publish(T, trade(100)); // seq 1 of the new epoch
    await waitUntil(() => events.some((e) => e.type === 'resync'), 20_000, 'the resync');
    sourceB.publish(T, trade(101));
    await waitUntil(() => lastSeq(events) === 2, 15_000, 'tick 2 of B');
    expect(summary(events)).toEqual(['snap@1', 'tick2', 'tick3', 'resync:epoch@1', 'tick2']);
    expect(events[3]).toMatchObject({ epoch: gwB.epoch, previous: { epoch: gwA.epoch, seq: 3 } });
  });
});

describe('real gateway with the embedded feed', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway(FEED);
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('resume under load: dropping the link twice never shows a resync, a gap or a snapshot', async () => {
    const { client } = newClient(gw.port);
    const events = new Map<string, SubscriptionEvent[]>([T, Q].map((t) => [t, []]));
    for (const t of [T, Q]) client.subscribe(t, (e) => events.get(t)!.push(e));
    await client.connect();
    for (let drop = 0; drop < 2; drop++) {
      const before = events.get(Q)!.length;
      await waitUntil(() => events.get(Q)!.length > before + 30, 20_000, 'ticks');
      const seen = lastSeq(events.get(Q)!);
      sockets.at(-1)!.terminate();
      // Ticks flow while away: the resume must replay them.
      await waitFor(() => gw.hub.position(Q).seq > seen + 30, { what: 'ticks published after the drop', timeoutMs: 20_000 });
    }
    const after = events.get(Q)!.length;
    await waitUntil(
      () => events.get(Q)!.length > after + 30 && client.status.current.state === 'open',
      20_000,
      'ticks after the last resume',
    );
    for (const t of [T, Q]) {
      const evs = events.get(t)!;
      expect(evs.filter((e) => e.type !== 'tick').map((e) => e.type)).toEqual(['snap']);
      expect(checkEvents(evs)).toBe(evs.length - 1);
    }
  });

  it(
    'throttled view next to the raw topic: seq only increases, at most one tick per interval, no gap events; after a reconnect it ' +
      'restarts with a snap (a jump, no resync)',
    async () => {
      const { client } = newClient(gw.port);
      const raw: SubscriptionEvent[] = [];
      const slow: SubscriptionEvent[] = [];
      client.subscribe(Q, (e) => raw.push(e));
      const sub = client.subscribe(`${Q}@100ms`, (e) => slow.push(e));
      await client.connect();
      await sub.ready;
      const t0 = Date.now();
      await waitUntil(() => slow.filter((e) => e.type === 'tick').length >= 6, 15_000, 'six throttled ticks');
      const elapsed = Date.now() - t0;
      const ticks = slow.filter((e) => e.type === 'tick').length;
      expect(slow[0]).toMatchObject({ type: 'snap', topic: `${Q}@100ms`, epoch: gw.epoch });
      expect(ticks).toBeGreaterThanOrEqual(5);
      expect(ticks).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 1);
      expect(checkEvents(slow, true)).toBe(ticks);
      expect(checkEvents(raw)).toBeGreaterThan(ticks);
      expect(client.topicState(`${Q}@100ms`)).toMatchObject({ throttled: true, live: true });
      // Through a reconnect the throttled view restarts with a snap: a seq jump, still no resync.
      sockets.at(-1)!.terminate();
      await waitUntil(() => client.status.current.state === 'open' && sockets.length === 2, 15_000, 'the reconnect');
      const n = slow.length;
      await waitUntil(() => slow.length > n + 2, 15_000, 'throttled ticks after the reconnect');
      expect(slow.some((e) => e.type === 'resync' || e.type === 'gap')).toBe(false);
      expect(checkEvents(slow, true)).toBe(slow.length - 1);
      expect(raw.some((e) => e.type === 'resync' || e.type === 'gap')).toBe(false);
    },
  );

  it('msgpack+deflate: shared compression negotiated, decoded in order, the same ticks as plain msgpack', async () => {
    const a = newClient(gw.port, { format: 'msgpack+deflate' }).client;
    const b = newClient(gw.port).client;
    const da: SubscriptionEvent[] = [];
    const db: SubscriptionEvent[] = [];
    a.subscribe(Q, (e) => da.push(e));
    b.subscribe(Q, (e) => db.push(e));
    await Promise.all([a.connect(), b.connect()]);
    expect(a.status.current).toEqual({ state: 'open', subprotocol: 'tickwire.v1.msgpack+deflate', transport: 'websocket' });
    await waitUntil(() => da.length >= 300 && db.length >= 300, 20_000, '300 events each');
    expect(checkEvents(da)).toBe(da.length - 1);
    const bySeq = new Map(db.map((e) => [(e as { seq: number }).seq, (e as { tick: unknown }).tick]));
    let compared = 0;
    for (const e of da) {
      if (e.type !== 'tick' || !bySeq.has(e.seq)) continue;
      expect(e.tick).toEqual(bySeq.get(e.seq));
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
  });
});

describe('slow consumers', () => {
  const TOPICS = [T, Q, 'quote.ETH-USD', 'trade.ETH-USD'];
  // 20 000 ticks/s (not 40 000) and long bounds: the gateway shares this process and, on a busy
  // machine, the CPUs; the stall still fills the socket buffers, only a little later.

  it('a stalled SDK client is conflated, then gets resync (server) per topic and continues consecutively', async () => {
    const gw = await startTestGateway({
      feedRate: 20_000,
      flushIntervalMs: 2,
      slowSoftBytes: 64 * 1024,
      maxBackpressureBytes: 64 * 1024 * 1024,
      slowTimeoutMs: 60_000,
    });
    try {
      const { client } = newClient(gw.port, { heartbeatTimeoutMs: 0 }); // the stall must not trip the watchdog
      const events = new Map<string, SubscriptionEvent[]>(TOPICS.map((t) => [t, []]));
      for (const t of TOPICS) client.subscribe(t, (e) => events.get(t)!.push(e));
      await client.connect();
      await waitUntil(() => TOPICS.every((t) => events.get(t)!.length > 3), 15_000, 'first ticks');
      sockets.at(-1)!.pause();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_events_total', 1, 'the stalled client was never marked slow', 45_000);
      sockets.at(-1)!.resume();
      await waitUntil(() => TOPICS.every((t) => events.get(t)!.some((e) => e.type === 'resync')), 15_000, 'a resync per topic');
      const ticksAfterResync = (evs: SubscriptionEvent[]) => evs.length - 1 - evs.findLastIndex((e) => e.type === 'resync');
      await waitUntil(() => TOPICS.every((t) => ticksAfterResync(events.get(t)!) >= 5), 15_000, 'ticks after each resync');
      for (const t of TOPICS) {
        const evs = events.get(t)!;
        expect(evs.filter((e) => e.type === 'resync').every((e) => (e as { reason: string }).reason === 'server')).toBe(true);
        expect(evs.some((e) => e.type === 'gap')).toBe(false);
        expect(checkEvents(evs)).toBeGreaterThan(0);
      }
      expect(sockets).toHaveLength(1); // conflated, not disconnected
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await gw.stop();
    }
  }, 120_000);

  it('a client stalled past slowTimeoutMs gets 4008, reconnects and resumes; the stream stays consecutive or flagged', async () => {
    const gw = await startTestGateway({ feedRate: 20_000, flushIntervalMs: 2, slowSoftBytes: 64 * 1024, slowTimeoutMs: 500 });
    try {
      const { client, statuses } = newClient(gw.port, { heartbeatTimeoutMs: 0 });
      const events = new Map<string, SubscriptionEvent[]>(TOPICS.map((t) => [t, []]));
      for (const t of TOPICS) client.subscribe(t, (e) => events.get(t)!.push(e));
      await client.connect();
      await waitUntil(() => TOPICS.every((t) => events.get(t)!.length > 3), 15_000, 'first ticks');
      sockets.at(-1)!.pause();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_closes_total', 1, 'the stalled client was never closed', 45_000);
      sockets.at(-1)!.resume();
      await waitUntil(() => statuses.some((s) => s.state === 'reconnecting' && s.code === 4008), 15_000, 'the 4008 close');
      await waitUntil(() => client.status.current.state === 'open', 20_000, 'the reconnect');
      const n = events.get(Q)!.length;
      await waitUntil(() => events.get(Q)!.length > n + 50, 45_000, 'ticks after the reconnect');
      for (const t of TOPICS) {
        const evs = events.get(t)!;
        expect(evs.some((e) => e.type === 'gap')).toBe(false);
        expect(checkEvents(evs)).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await gw.stop();
    }
  }, 120_000);
});
