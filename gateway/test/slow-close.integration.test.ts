import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway, waitForMetric } from './support/gateway.js';

/**
 * Issue 13 point 11: slow consumers closed past slowTimeoutMs must see the 4008 close frame, not a
 * 1006. The close used to be sent at once, behind a full send buffer; uWS then gave the client only
 * a short close timeout to read all of it, and cut the socket (frame lost) for clients that resumed
 * later. Now the gateway stops sending, waits for the buffer to drain, then sends the close.
 */
const N = 100;
const TOPICS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'].flatMap((s) => [`trade.${s}`, `quote.${s}`]);

describe(`${N} slow consumers past slowTimeoutMs (issue 13 point 11)`, () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    gw = await startTestGateway({
      feedRate: 40_000,
      flushIntervalMs: 2,
      slowSoftBytes: 16 * 1024,
      slowTimeoutMs: 300,
      connectRatePerIp: 1_000_000,
      maxConnectionsPerIp: 100_000,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('every one gets close 4008 slow_consumer when it reads again, even long after the close was decided', async () => {
    for (let i = 0; i < N; i++) clients.push(await TestClient.connect(gw.port));
    await Promise.all(
      clients.map(async (c, i) => {
        c.send({ op: 'sub', id: i + 1, topics: TOPICS });
        await c.waitFor((m) => m.op === 'ack', 20_000);
      }),
    );
    // Clients that stop reading: the socket is paused, so the kernel buffers fill, then uWS's.
    for (const c of clients) c.pause();
    const t0 = Date.now();
    await waitForMetric(gw.port, 'tickwire_slow_consumer_closes_total', N, `not all ${N} stalled clients were closed`, 90_000);
    const t1 = Date.now();
    // The sleep is the scenario: the clients stay away after the gateway decided to close them,
    // longer than the 16 s uWS leaves a socket to flush after a close is sent (idleTimeoutSec 120),
    // and shorter than slowCloseGraceMs (30 s).
    await sleep(20_000);
    for (const c of clients) c.resume();
    const codes = await Promise.all(clients.map((c) => c.waitClosed(60_000).catch(() => -1)));
    console.log(`closes decided ${t1 - t0} ms after the pause; codes after resuming: ${codes.join(',')}`);
    const tally = new Map<number, number>();
    for (const code of codes) tally.set(code, (tally.get(code) ?? 0) + 1);
    expect(Object.fromEntries(tally)).toEqual({ 4008: N });
    expect(clients.every((c) => c.closeReason === 'slow consumer')).toBe(true);
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_connections')).toBe(0);
  }, 180_000);
});
