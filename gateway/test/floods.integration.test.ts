import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway } from './support/gateway.js';
import { SseTestClient } from './support/sse.js';
import { rawUpgrade, waves } from './support/upgrade.js';
import { waitFor } from './support/wait.js';

/**
 * Abuse on loopback, bounded: connection floods past the limits, per-IP limits, connection-rate
 * limits, message-rate abuse, subscription abuse, Origin checks and the connection lifetime.
 * Each case checks the documented refusal (docs/protocol.md, docs/configuration.md), that
 * well-behaved clients are unaffected, and the matching metric.
 */
const BUSY = ['trade.BTC-USD', 'quote.BTC-USD'];
const metrics = async (port: number) => (await httpGet(port, '/metrics')).body;
const refused = (m: string, reason: string) => metricValue(m, `tickwire_upgrades_refused_total{reason="${reason}"}`) || 0;
const upds = (c: TestClient) => BUSY.reduce((n, t) => n + c.topicMessages(t).filter((m) => m.op === 'upd').length, 0);

const clients: TestClient[] = [];
const sockets: Socket[] = [];
const connect = async (port: number, opts?: Parameters<typeof TestClient.connect>[1]) => {
  const c = await TestClient.connect(port, opts);
  clients.push(c);
  return c;
};
/** A subscribed client, already receiving the busy topics. */
const subscribed = async (port: number, opts?: Parameters<typeof TestClient.connect>[1]) => {
  const c = await connect(port, opts);
  c.send({ op: 'sub', id: 1, topics: BUSY });
  await c.waitUntil(() => BUSY.every((t) => c.topicMessages(t).length > 2), 15_000);
  return c;
};
/** An HTTP refusal of TestClient.connect, or undefined when the upgrade succeeded. */
const refusal = async (port: number, opts?: Parameters<typeof TestClient.connect>[1]) => {
  try {
    await connect(port, opts);
    return undefined;
  } catch (e) {
    const err = e as { status?: number; body?: string };
    if (err.status === undefined) throw e;
    return { status: err.status, body: err.body ?? '' };
  }
};
const expectStillStreaming = async (cs: TestClient[]) => {
  const before = cs.map(upds);
  await Promise.all(cs.map((c, i) => c.waitUntil(() => upds(c) > before[i]! + 5, 15_000)));
  for (const c of cs) {
    expect(c.closeCode).toBeUndefined();
    for (const t of BUSY) expect(checkTopicStream(c.topicMessages(t)), t).toBeGreaterThan(0);
  }
};

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
});

describe('(a) maxConnections: 50', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ maxConnections: 50, feedRate: 3000, connectRatePerIp: 100_000 });
  });
  afterAll(() => gw?.stop());

  it('a flood beyond the limit is refused at the upgrade with 503 while 10 subscribed clients keep a gap-free stream', async () => {
    const bystanders = await Promise.all(Array.from({ length: 10 }, () => subscribed(gw.port)));
    const fill = await waves(40, 40, () => rawUpgrade({ port: gw.port }));
    for (const r of fill) if (r.socket) sockets.push(r.socket);
    expect(fill.map((r) => r.status)).toEqual(Array(40).fill(101));

    const ticksBefore = bystanders.map(upds);
    const t0 = Date.now();
    const flood = await waves(600, 100, () => rawUpgrade({ port: gw.port }));
    const statuses = new Map<number, number>();
    for (const r of flood) statuses.set(r.status ?? 0, (statuses.get(r.status ?? 0) ?? 0) + 1);
    console.log(`(a) 600 upgrades over the limit in ${Date.now() - t0} ms: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.get(503)).toBe(600);
    expect(flood[0]!.body).toMatch(/connection limit reached/);
    // The bystanders streamed during the flood, gap-free.
    bystanders.forEach((c, i) => expect(upds(c)).toBeGreaterThan(ticksBefore[i]!));
    await expectStillStreaming(bystanders);

    const m = await metrics(gw.port);
    expect(refused(m, 'max_connections')).toBe(600);
    expect(metricValue(m, 'tickwire_connections')).toBe(50);
    // A freed slot is usable again.
    sockets.pop()!.destroy();
    const again = await waitFor(
      async () => {
        const r = await rawUpgrade({ port: gw.port });
        return r.status === 101 ? r : undefined;
      },
      { what: 'an upgrade into the freed slot' },
    );
    sockets.push(again.socket!);
  });
});

describe('(b) maxConnectionsPerIp: 20', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ maxConnectionsPerIp: 20, feedRate: 2000 });
  });
  afterAll(() => gw?.stop());

  it('the 21st connection from 127.0.0.1 gets 429; another loopback address is still accepted', async () => {
    const bystander = await subscribed(gw.port);
    for (let i = 0; i < 19; i++) await connect(gw.port);
    const r21 = await refusal(gw.port);
    expect(r21?.status).toBe(429);
    expect(r21?.body).toMatch(/at most 20 connections per client address/);
    expect(await refusal(gw.port)).toMatchObject({ status: 429 });

    const other = await connect(gw.port, { localAddress: '127.0.0.2' });
    other.send({ op: 'ping', id: 1 });
    expect(await other.waitFor((m) => m.op === 'pong')).toMatchObject({ id: 1 });
    await expectStillStreaming([bystander]);

    const m = await metrics(gw.port);
    expect(refused(m, 'per_ip_connections')).toBe(2);
    expect(metricValue(m, 'tickwire_connections')).toBe(21);
    // Closing one frees a slot for that address.
    clients[1]!.close();
    await clients[1]!.waitClosed();
    await waitFor(async () => (await refusal(gw.port)) === undefined, { what: 'a connection accepted in the freed per-IP slot' });
  });
});

describe('(c) connectRatePerIp: 5', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ connectRatePerIp: 5, feedRate: 1000 });
  });
  afterAll(() => gw?.stop());

  it('a burst of connection attempts gets 429 once the burst (2 x 5) is spent; it refills; other addresses are unaffected', async () => {
    // 20 attempts at once: the bucket holds 10 (burst 2 x 5/s); a fraction of a token may refill meanwhile.
    const results = await waves(20, 20, () => rawUpgrade({ port: gw.port }));
    for (const r of results) if (r.socket) sockets.push(r.socket);
    const accepted = results.filter((r) => r.status === 101).length;
    const limited = results.filter((r) => r.status === 429);
    console.log(`(c) 20 simultaneous attempts: ${accepted} upgraded, ${limited.length} refused with 429`);
    expect(accepted).toBeGreaterThanOrEqual(10);
    expect(accepted).toBeLessThanOrEqual(11);
    expect(accepted + limited.length).toBe(20);
    expect(limited[0]!.body).toMatch(/too many connection attempts/);

    // Another address has its own bucket.
    const other = await rawUpgrade({ port: gw.port, localAddress: '127.0.0.2' });
    if (other.socket) sockets.push(other.socket);
    expect(other.status).toBe(101);
    expect(refused(await metrics(gw.port), 'connect_rate')).toBe(limited.length);
    // Refused attempts cost nothing; at 5 per second there is a token again after 300 ms.
    await sleep(300);
    const later = await rawUpgrade({ port: gw.port });
    if (later.socket) sockets.push(later.socket);
    expect(later.status).toBe(101);
  });
});

describe('(d) maxMessagesPerSec: 20', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ maxMessagesPerSec: 20, feedRate: 2000 });
  });
  afterAll(() => gw?.stop());

  it('a client pinging in a tight loop gets err rate_limited, then is closed with 4029; a bystander is unaffected', async () => {
    const bystander = await subscribed(gw.port);
    const abuser = await connect(gw.port);
    for (let i = 0; i < 300; i++) abuser.send({ op: 'ping', id: i });
    expect(await abuser.waitClosed()).toBe(4029);
    const pongs = abuser.messages.filter((m) => m.op === 'pong');
    const limited = abuser.messages.filter((m) => m.op === 'err');
    console.log(
      `(d) 300 pings: ${pongs.length} pongs, ${limited.length} rate_limited, then close ${abuser.closeCode} "${abuser.closeReason}"`,
    );
    // Burst 2 x 20 answered, then err rate_limited (no id: the message was dropped unread).
    expect(pongs.length).toBeGreaterThanOrEqual(40);
    expect(pongs.length).toBeLessThan(45);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited) expect(e).toMatchObject({ op: 'err', code: 'rate_limited' });
    const answers = abuser.messages.filter((m) => m.op === 'pong' || m.op === 'err').map((m) => m.op);
    expect(answers.slice(0, 40)).toEqual(Array(40).fill('pong'));
    expect(answers.at(-1)).toBe('err');

    // The bystander streams on, and its own (polite) pings are answered.
    await expectStillStreaming([bystander]);
    bystander.send({ op: 'ping', id: 7 });
    expect(await bystander.waitFor((m) => m.op === 'pong')).toMatchObject({ id: 7 });

    const m = await metrics(gw.port);
    // Every refused message is counted: those answered with rate_limited, and the one that closed.
    expect(metricValue(m, 'tickwire_rate_limited_messages_total')).toBe(limited.length + 1);
    expect(metricValue(m, 'tickwire_errors_total{code="rate_limited"}')).toBe(limited.length);
  });
});

describe('(e) maxSubscriptionsPerConnection: 5', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ maxSubscriptionsPerConnection: 5, feedRate: 2000 });
  });
  afterAll(() => gw?.stop());

  const EIGHT = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL'].flatMap((s) => [`quote.${s}`, `trade.${s}`]).slice(0, 8);

  it('subscribing to 8 topics acks the first 5 and answers err too_many_subscriptions listing the other 3', async () => {
    const c = await connect(gw.port);
    c.send({ op: 'sub', id: 1, topics: EIGHT });
    const err = await c.waitFor((m) => m.op === 'err');
    const ack = await c.waitFor((m) => m.op === 'ack');
    expect(err).toMatchObject({ op: 'err', id: 1, code: 'too_many_subscriptions' });
    expect(ack).toMatchObject({ op: 'ack', id: 1 });
    console.log(`(e) sub of 8 with a limit of 5: acked ${JSON.stringify(ack.topics)}, refused ${JSON.stringify(err.topics)}`);
    expect({ acked: ack.topics, refused: err.topics }).toEqual({ acked: EIGHT.slice(0, 5), refused: EIGHT.slice(5) });
    await c.waitUntil(() => EIGHT.slice(0, 5).every((t) => c.topicMessages(t).length > 0), 15_000);
    for (const t of EIGHT.slice(5)) expect(c.topicMessages(t)).toEqual([]);
    expect(await metrics(gw.port)).toMatch(/tickwire_errors_total\{code="too_many_subscriptions"\} [1-9]/);
  });

  it('a connection at the limit: a new topic is refused, a topic it has is acked, an unsub frees a slot', async () => {
    const c = await connect(gw.port);
    c.send({ op: 'sub', id: 1, topics: EIGHT.slice(0, 5) });
    expect(await c.waitFor((m) => m.id === 1)).toMatchObject({ op: 'ack', topics: EIGHT.slice(0, 5) });
    c.send({ op: 'sub', id: 2, topics: [EIGHT[5]] });
    expect(await c.waitFor((m) => m.id === 2)).toMatchObject({ op: 'err', code: 'too_many_subscriptions', topics: [EIGHT[5]] });
    c.send({ op: 'sub', id: 3, topics: [EIGHT[0]] });
    expect(await c.waitFor((m) => m.id === 3)).toMatchObject({ op: 'ack', topics: [EIGHT[0]] });
    c.send({ op: 'unsub', id: 4, topics: [EIGHT[0]] });
    await c.waitFor((m) => m.id === 4 && m.op === 'ack');
    c.send({ op: 'sub', id: 5, topics: [EIGHT[5]] });
    expect(await c.waitFor((m) => m.id === 5)).toMatchObject({ op: 'ack', topics: [EIGHT[5]] });
    expect(metricValue(await metrics(gw.port), 'tickwire_errors_total{code="too_many_subscriptions"}')).toBeGreaterThanOrEqual(2);
  });

  it('the same rule on SSE as on WebSocket: sys.announce and repeats do not count, the topics over the limit are listed', async () => {
    const asked = ['sys.announce', ...EIGHT.slice(0, 6), EIGHT[0]!];
    const ws = await connect(gw.port);
    ws.send({ op: 'sub', id: 1, topics: asked });
    const wsErr = await ws.waitFor((m) => m.op === 'err');
    const wsAck = await ws.waitFor((m) => m.op === 'ack');
    const sse = await SseTestClient.open(gw.port, `topics=${asked.join(',')}`);
    try {
      const sseErr = (await sse.waitFor((e) => e.event === 'err')).data;
      const sseAck = (await sse.waitFor((e) => e.event === 'ack')).data;
      const expected = { refused: [EIGHT[5]], acked: ['sys.announce', ...EIGHT.slice(0, 5)] };
      expect({ refused: wsErr.topics, acked: wsAck.topics }).toEqual(expected);
      expect({ refused: sseErr.topics, acked: sseAck.topics }).toEqual(expected);
      expect([wsErr.code, sseErr.code]).toEqual(['too_many_subscriptions', 'too_many_subscriptions']);
    } finally {
      sse.close();
    }
  });
});

describe('(f) allowedOrigins: https://good.example', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ allowedOrigins: 'https://good.example', feedRate: 1000 });
  });
  afterAll(() => gw?.stop());

  it('an upgrade from another Origin gets 403; the allowed Origin (and a non-browser client without Origin) is accepted', async () => {
    const evil = await refusal(gw.port, { headers: { origin: 'https://evil.example' } });
    expect(evil?.status).toBe(403);
    expect(evil?.body).toMatch(/origin https:\/\/evil\.example is not allowed/);
    expect((await rawUpgrade({ port: gw.port, headers: { Origin: 'https://good.example.evil.example' } })).status).toBe(403);

    const good = await connect(gw.port, { headers: { origin: 'https://good.example' } });
    good.send({ op: 'sub', id: 1, topics: BUSY });
    await good.waitUntil(() => good.topicMessages(BUSY[0]!).length > 3, 15_000);
    expect(checkTopicStream(good.topicMessages(BUSY[0]!))).toBeGreaterThan(0);
    expect(await refusal(gw.port)).toBeUndefined();

    expect(refused(await metrics(gw.port), 'origin')).toBe(2);
  });
});

describe('(g) maxConnectionLifetimeSec: 1', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ maxConnectionLifetimeSec: 1, feedRate: 2000 });
  });
  afterAll(() => gw?.stop());

  it('closes the connection with 4002 between 1 s and ~2.5 s after it opened, its stream gap-free until then', async () => {
    const t0 = Date.now();
    const c = await subscribed(gw.port);
    const code = await c.waitClosed(4000);
    const age = Date.now() - t0;
    console.log(`(g) closed with ${code} "${c.closeReason}" after ${age} ms`);
    expect(code).toBe(4002);
    expect(c.closeReason).toMatch(/lifetime/);
    expect(age).toBeGreaterThanOrEqual(1000);
    expect(age).toBeLessThanOrEqual(2600);
    for (const t of BUSY) expect(checkTopicStream(c.topicMessages(t))).toBeGreaterThan(0);
    // The client reconnects (4002 says so) and gets a fresh connection.
    const again = await connect(gw.port);
    again.send({ op: 'ping', id: 1 });
    expect(await again.waitFor((m) => m.op === 'pong')).toMatchObject({ id: 1 });
  });
});
