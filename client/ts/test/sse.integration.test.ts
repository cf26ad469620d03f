import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { TickwireClient, type TickwireClientOptions } from '../src/client.js';
import type { Status, SubscriptionEvent } from '../src/types.js';
import { checkEvents, waitUntil } from './support/util.js';

/**
 * The SDK's SSE transport against the real gateway: SSE only, the automatic fallback when
 * WebSocket is refused, and the way back to WebSocket, with every stream consecutive throughout.
 */

const clients: TickwireClient[] = [];
function newClient(opts: TickwireClientOptions): TickwireClient {
  const c = new TickwireClient({ WebSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...opts });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Records a subscription's events and the client's statuses. */
function record(client: TickwireClient, topic: string): { events: SubscriptionEvent[]; statuses: Status[] } {
  const events: SubscriptionEvent[] = [];
  const statuses: Status[] = [client.status.current];
  client.onStatus((s) => statuses.push(s));
  client.subscribe(topic, (ev) => events.push(ev));
  return { events, statuses };
}
const ticks = (events: SubscriptionEvent[]) => events.filter((e) => e.type === 'tick').length;
const transportOf = (s: Status) => (s.state === 'open' || s.state === 'connecting' ? `${s.state}:${s.transport}` : s.state);

/**
 * A TCP port in front of the gateway for WebSocket: while blocked it resets every connection (as
 * a proxy that refuses WebSocket), while open it forwards bytes to the gateway.
 */
class WsGate {
  blocked = true;
  /** Connections destroyed while blocked: the client's failed WebSocket attempts and probes. */
  refused = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.blocked) {
        this.refused++;
        return void client.destroy();
      }
      const upstream = tcpConnect(this.target, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
  }
  listen(): Promise<void> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => ((this.port = (this.server.address() as { port: number }).port), resolve())),
    );
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('SSE transport (real gateway)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 3000, flushIntervalMs: 2 });
  });
  afterAll(() => gw.stop());

  it("transport 'sse': open over SSE (JSON), consecutive ticks; subscribing and unsubscribing reopen the stream, no break", async () => {
    const client = newClient({ url: `ws://127.0.0.1:${gw.port}/v1`, transport: 'sse' });
    const btc = record(client, 'trade.BTC-USD');
    await client.connect();
    expect(client.status.current).toEqual({ state: 'open', subprotocol: 'tickwire.v1.json', transport: 'sse' });
    await waitUntil(() => ticks(btc.events) > 50, 20_000, 'ticks over SSE');

    // A second topic while on SSE: the stream reopens with both; BTC resumes where it was.
    const eth: SubscriptionEvent[] = [];
    const sub = client.subscribe('quote.ETH-USD', (ev) => eth.push(ev));
    await sub.ready;
    const before = ticks(btc.events);
    await waitUntil(() => ticks(eth) > 20 && ticks(btc.events) > before + 50, 20_000, 'ticks on both topics');
    await client.unsubscribe('quote.ETH-USD');
    const after = ticks(btc.events);
    await waitUntil(() => ticks(btc.events) > after + 50, 20_000, 'ticks after unsubscribe');

    expect(checkEvents(btc.events)).toBeGreaterThan(150);
    expect(checkEvents(eth)).toBeGreaterThan(20);
    expect(btc.events.filter((e) => e.type !== 'tick')).toEqual([btc.events[0]]); // one snap, no resync, no gap
    expect(client.topicState('trade.BTC-USD')?.live).toBe(true);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(btc.statuses.map(transportOf)).toEqual(['idle', 'connecting:sse', 'open:sse']);
  }, 30_000);

  it('a topic the gateway refuses fails its subscription; the others keep streaming', async () => {
    const client = newClient({ url: `ws://127.0.0.1:${gw.port}/v1`, transport: 'sse' });
    const good = record(client, 'trade.ETH-USD');
    await client.connect();
    const bad = client.subscribe('trade.eth-usd');
    await expect(bad.ready).rejects.toMatchObject({ code: 'bad_topic', topics: ['trade.eth-usd'] });
    const n = ticks(good.events);
    await waitUntil(() => ticks(good.events) > n + 20, 20_000, 'ticks after the refused topic');
    expect(checkEvents(good.events)).toBeGreaterThan(20);
    expect(good.events.filter((e) => e.type === 'resync' || e.type === 'gap')).toEqual([]);
  }, 20_000);

  it('auto: WebSocket refused → SSE after fallbackAfter attempts; WebSocket back → moves back, no silent gap', async () => {
    const wsGate = new WsGate(gw.port);
    await wsGate.listen();
    try {
      const client = newClient({
        url: `ws://127.0.0.1:${wsGate.port}/v1`,
        sseUrl: `http://127.0.0.1:${gw.port}/v1/sse`,
        fallbackAfter: 2,
        probe: { initialDelayMs: 300, maxDelayMs: 600 },
      });
      const btc = record(client, 'trade.BTC-USD');
      const sol: SubscriptionEvent[] = [];
      client.subscribe('quote.SOL-USD', (ev) => sol.push(ev));
      await client.connect();
      expect(client.status.current).toMatchObject({ state: 'open', transport: 'sse' });
      const fallback = btc.statuses.map(transportOf);
      expect(fallback.filter((s) => s === 'connecting:websocket')).toHaveLength(2);
      expect(fallback.slice(-2)).toEqual(['connecting:sse', 'open:sse']);
      await waitUntil(() => ticks(btc.events) > 50, 20_000, 'ticks over SSE');
      const refused = wsGate.refused;
      // The probes keep failing meanwhile: still on SSE after two of them.
      await waitUntil(() => wsGate.refused >= refused + 2, 20_000, 'two failed probes');
      expect(client.status.current).toMatchObject({ state: 'open', transport: 'sse' });

      wsGate.blocked = false;
      await waitUntil(
        () => client.status.current.state === 'open' && (client.status.current as { transport: string }).transport === 'websocket',
        20_000,
        'back on WebSocket',
      );
      const back = ticks(btc.events);
      await waitUntil(() => ticks(btc.events) > back + 100 && ticks(sol) > 20, 20_000, 'ticks over WebSocket');

      const h = btc.statuses.map(transportOf);
      expect(h.slice(h.lastIndexOf('open:sse'))).toEqual(['open:sse', 'reconnecting', 'connecting:websocket', 'open:websocket']);
      const reason = btc.statuses.find((s) => s.state === 'reconnecting' && /leaving SSE/.test(s.reason));
      expect(reason).toMatchObject({ delayMs: 0 });
      // Resumed with since across both moves: one snap, then consecutive ticks; nothing flagged.
      for (const evs of [btc.events, sol]) {
        expect(checkEvents(evs)).toBeGreaterThan(20);
        expect(evs.filter((e) => e.type !== 'tick')).toEqual([evs[0]]);
      }
    } finally {
      await wsGate.close();
    }
  }, 40_000);

  it('auto, SSE endpoint missing too: attempts alternate between the transports and WebSocket still wins when it returns', async () => {
    const wsGate = new WsGate(gw.port);
    await wsGate.listen();
    try {
      const client = newClient({
        url: `ws://127.0.0.1:${wsGate.port}/v1`,
        sseUrl: `http://127.0.0.1:${gw.port}/nothing-here`,
        fallbackAfter: 1,
      });
      const statuses: Status[] = [];
      client.onStatus((s) => statuses.push(s));
      const connected = client.connect();
      await waitUntil(
        () => statuses.filter((s) => s.state === 'connecting' && s.transport === 'sse').length >= 2,
        20_000,
        'two SSE attempts',
      );
      wsGate.blocked = false;
      await connected;
      expect(client.status.current).toMatchObject({ state: 'open', transport: 'websocket' });
      const kinds = statuses.filter((s) => s.state === 'connecting').map((s) => (s as { transport: string }).transport);
      for (let i = 1; i < kinds.length; i++) expect(kinds[i] === 'sse' && kinds[i - 1] === 'sse', kinds.join(',')).toBe(false);
    } finally {
      await wsGate.close();
    }
  }, 20_000);
});
