import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, encodeMsgpack, TestClient, type Msg } from './support/client.js';
import { httpGet, ManualSource, startTestGateway } from './support/gateway.js';

const BUSY = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.ETH-USD', 'trade.ETH-USD', 'quote.EUR-USD'];

function expectTick(topic: string, t: Msg): void {
  if (topic.startsWith('trade.')) {
    expect(Object.keys(t).sort()).toEqual(['px', 'qty', 'side', 'ts']);
    expect(['b', 's']).toContain(t.side);
    expect(t.px).toBeGreaterThan(0);
  } else {
    expect(Object.keys(t).sort()).toEqual(['ask', 'asz', 'bid', 'bsz', 'ts']);
    expect(t.ask).toBeGreaterThan(t.bid);
  }
  expect(Number.isFinite(t.ts)).toBe(true);
}

describe('protocol v1 over a real gateway (embedded feed)', () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  const connect = async (opts?: Parameters<typeof TestClient.connect>[1]) => {
    const c = await TestClient.connect(gw.port, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // 5 000 ticks/s: after a stall the embedded feed catches up to 1 s at once; at 20 000/s that
    // burst overran the slow-consumer limit of a reader sharing this process on a busy machine.
    gw = await startTestGateway({ feedRate: 5_000, flushIntervalMs: 2, heartbeatIntervalMs: 200, maxPayloadLength: 4096 });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });

  it('runs uWebSockets.js natively (not the JS fallback)', async () => {
    expect(gw.uwsNative).toBe(true);
    const m = await httpGet(gw.port, '/metrics');
    expect(m.body).toMatch(/^tickwire_uws_native 1$/m);
  });

  it('msgpack: ack, snapshot first, then gap-free consecutive seq over thousands of ticks', async () => {
    const c = await connect();
    // Offered explicitly (the TestClient default): offering none selects JSON (no-subprotocol.integration.test.ts).
    expect(c.ws.protocol).toBe('tickwire.v1.msgpack');
    c.send({ op: 'sub', id: 41, topics: BUSY });
    const ack = await c.waitFor((m) => m.op === 'ack');
    expect(ack).toMatchObject({ op: 'ack', id: 41, topics: BUSY });
    // First, but for heartbeats: one may go out before a busy machine gets to the sub.
    expect(c.messages.find((m) => m.op !== 'hb')).toBe(ack);
    const ticks = () =>
      BUSY.reduce(
        (n, t) =>
          n +
          c
            .topicMessages(t)
            .filter((m) => m.op === 'upd')
            .reduce((k, m) => k + m.data.length, 0),
        0,
      );
    await c.waitUntil(() => ticks() >= 5000, 40_000);
    let total = 0;
    let frames = 0;
    for (const topic of BUSY) {
      const msgs = c.topicMessages(topic);
      total += checkTopicStream(msgs);
      frames += msgs.length;
      expect(msgs[0]).toMatchObject({ op: 'snap', topic, epoch: gw.epoch });
      expectTick(topic, msgs[0]!.data);
      for (const m of msgs.slice(1, 20)) for (const t of m.data) expectTick(topic, t);
      expect(msgs.every((m) => m.__binary === true)).toBe(true);
    }
    expect(total).toBeGreaterThanOrEqual(5000);
    // Several ticks share a frame: batching is real.
    expect(frames).toBeLessThan(total);
  });

  it('JSON mode over tickwire.v1.json: text frames carrying the same objects', async () => {
    const c = await connect({ protocols: ['tickwire.v1.json'] });
    expect(c.ws.protocol).toBe('tickwire.v1.json');
    c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'] });
    await c.waitUntil(() => c.topicMessages('quote.BTC-USD').length >= 20, 20_000);
    const msgs = c.topicMessages('quote.BTC-USD');
    expect(checkTopicStream(msgs)).toBeGreaterThan(0);
    expect(msgs.every((m) => m.__binary === false)).toBe(true);
    expect(msgs[0]!.epoch).toBe(gw.epoch);
    expectTick('quote.BTC-USD', msgs[0]!.data);
  });

  it('echoes tickwire.v1.msgpack when offered, preferring the client order', async () => {
    const c = await connect({ protocols: ['tickwire.v1.msgpack', 'tickwire.v1.json'] });
    expect(c.ws.protocol).toBe('tickwire.v1.msgpack');
  });

  it('refuses a client offering only unknown subprotocols with HTTP 400 and a clear body', async () => {
    const err = await TestClient.connect(gw.port, { protocols: ['mqtt'] }).then(
      () => undefined,
      (e: { status?: number; body?: string }) => e,
    );
    expect(err?.status).toBe(400);
    expect(err?.body).toMatch(/unsupported WebSocket subprotocol "mqtt".*tickwire\.v1\.msgpack/);
  });

  it('answers ping with pong carrying the id', async () => {
    const c = await connect();
    c.send({ op: 'ping', id: 777 });
    expect(await c.waitFor((m) => m.op === 'pong')).toEqual({ op: 'pong', id: 777, __binary: true });
  });

  it('sends hb at the configured interval to idle connections too', async () => {
    const c = await connect({ protocols: ['tickwire.v1.json'] });
    const t0 = Date.now();
    await c.waitUntil(() => c.messages.filter((m) => m.op === 'hb').length >= 3, 15_000);
    const hbs = c.messages.filter((m) => m.op === 'hb');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(hbs[1]!.ts).toBeGreaterThan(hbs[0]!.ts);
    expect(Math.abs(hbs[0]!.ts - Date.now())).toBeLessThan(5000);
  });

  it('unsub stops the topic and acks; the other topics go on', async () => {
    const c = await connect();
    c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD', 'quote.ETH-USD'] });
    await c.waitUntil(() => c.topicMessages('quote.BTC-USD').length > 3 && c.topicMessages('quote.ETH-USD').length > 3, 15_000);
    c.send({ op: 'unsub', id: 2, topics: ['quote.BTC-USD'] });
    const ack = await c.waitFor((m) => m.op === 'ack' && m.id === 2);
    expect(ack.topics).toEqual(['quote.BTC-USD']);
    const after = c.messages.indexOf(ack);
    const ethBefore = c.topicMessages('quote.ETH-USD').length;
    // Barrier: the other topic moved on after the ack, so a BTC frame sent after it would be here.
    await c.waitUntil(() => c.topicMessages('quote.ETH-USD').length > ethBefore + 5);
    expect(c.messages.slice(after).filter((m) => m.topic === 'quote.BTC-USD')).toEqual([]);
    expect(c.topicMessages('quote.ETH-USD').length).toBeGreaterThan(ethBefore);
    checkTopicStream(c.topicMessages('quote.ETH-USD'));
  });

  it('bad input gets err (with the id when there is one) or 1009; the offender and a bystander keep working', async () => {
    const bystander = await connect();
    bystander.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'] });
    await bystander.waitUntil(() => bystander.topicMessages('quote.BTC-USD').length > 5, 15_000);

    const bad = await connect();
    const errs = async (send: () => void) => {
      const from = bad.messages.length;
      send();
      return bad.waitFor((m) => m.op === 'err', 15_000, from);
    };
    expect(await errs(() => bad.send(Buffer.from([0xc1, 0xff, 0x00])))).toMatchObject({ code: 'bad_frame' });
    expect(await errs(() => bad.send(Buffer.from([0x82, 0xa2, 0x6f])))).toMatchObject({ code: 'bad_frame' });
    expect(await errs(() => bad.send('{"op":"ping","id":1}'))).toMatchObject({ code: 'bad_frame', msg: expect.stringMatching(/binary/) });
    expect(await errs(() => bad.send([1, 2, 3]))).toMatchObject({ code: 'bad_frame' });
    expect(await errs(() => bad.send({ op: 'fly', id: 5 }))).toMatchObject({ code: 'unknown_op', id: 5 });
    expect(await errs(() => bad.send({ op: 'sub', id: 6 }))).toMatchObject({ code: 'bad_request', id: 6 });
    expect(await errs(() => bad.send({ op: 'sub', id: 7, topics: [1] }))).toMatchObject({ code: 'bad_request', id: 7 });
    expect(await errs(() => bad.send({ op: 'ping' }))).toMatchObject({ code: 'bad_request' });
    expect(await errs(() => bad.send({ op: 'sub', id: 8, topics: Array.from({ length: 300 }, (_, i) => `trade.S${i}`) }))).toMatchObject({
      code: 'too_many_topics',
      id: 8,
    });

    const from = bad.messages.length;
    bad.send({ op: 'sub', id: 9, topics: ['trade.btc', 'quote.ETH-USD', 'nope'] });
    const err = await bad.waitFor((m) => m.op === 'err', 15_000, from);
    expect(err).toMatchObject({ code: 'bad_topic', id: 9, topics: ['trade.btc', 'nope'] });
    expect(await bad.waitFor((m) => m.op === 'ack', 15_000, from)).toMatchObject({ id: 9, topics: ['quote.ETH-USD'] });
    await bad.waitFor((m) => m.op === 'snap' && m.topic === 'quote.ETH-USD', 15_000, from);

    bad.send({ op: 'ping', id: 10 });
    await bad.waitFor((m) => m.op === 'pong' && m.id === 10);

    // JSON connection: garbage text and binary frames.
    const j = await connect({ protocols: ['tickwire.v1.json'] });
    j.send('{"op": sub');
    expect(await j.waitFor((m) => m.op === 'err')).toMatchObject({ code: 'bad_frame' });
    j.ws.send(encodeMsgpack({ op: 'ping', id: 1 }), { binary: true });
    expect(await j.waitFor((m) => m.op === 'err' && /text/.test(m.msg))).toMatchObject({ code: 'bad_frame' });

    // Oversize frame (limit 4096 here): documented close 1009; over twice the limit the
    // transport cuts the connection (documented as 1006 on the client side).
    const big = await connect();
    big.send(Buffer.alloc(6000, 0x61));
    expect(await big.waitClosed()).toBe(1009);
    const huge = await connect();
    huge.send(Buffer.alloc(20_000, 0x61));
    expect(await huge.waitClosed()).toBe(1006);

    const errors = (await httpGet(gw.port, '/metrics')).body;
    expect(errors).toMatch(/tickwire_errors_total\{code="bad_frame"\} [1-9]/);
    expect(errors).toMatch(/tickwire_errors_total\{code="bad_topic"\} [1-9]/);

    // The bystander never noticed.
    const seen = bystander.topicMessages('quote.BTC-USD').length;
    await bystander.waitUntil(() => bystander.topicMessages('quote.BTC-USD').length > seen + 5, 15_000);
    expect(checkTopicStream(bystander.topicMessages('quote.BTC-USD'))).toBeGreaterThan(0);
    expect(bystander.closeCode).toBeUndefined();
  });

  it('serves /healthz, /readyz, /v1/topics and /metrics', async () => {
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
    const ready = await httpGet(gw.port, '/readyz');
    expect(ready.status).toBe(200);
    const topics = JSON.parse((await httpGet(gw.port, '/v1/topics')).body).topics as Msg[];
    const btc = topics.find((t) => t.topic === 'trade.BTC-USD');
    expect(btc).toMatchObject({ epoch: gw.epoch });
    expect(btc!.seq).toBeGreaterThan(0);
    expect(Math.abs(btc!.ts - Date.now())).toBeLessThan(10_000);
    expect(topics.map((t) => t.topic)).toContain('quote.NVDA');
    const m = await httpGet(gw.port, '/metrics');
    expect(m.type).toMatch(/text\/plain/);
    for (const name of [
      'tickwire_connections',
      'tickwire_subscriptions',
      'tickwire_ticks_in_total',
      'tickwire_frames_out_total',
      'tickwire_bytes_out_total',
      'tickwire_backpressure_events_total',
      'tickwire_process_resident_memory_bytes',
    ]) {
      expect(m.body).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
    expect(Number(/^tickwire_ticks_in_total (\d+)/m.exec(m.body)![1])).toBeGreaterThan(1000);
    expect(Number(/^tickwire_connections (\d+)/m.exec(m.body)![1])).toBeGreaterThan(0);
    expect((await httpGet(gw.port, '/nope')).status).toBe(404);
  });
});

describe('snapshots for topics without data yet, and readiness', () => {
  it("a subscriber waiting for a topic's first data gets all of it: a snap of the first tick, then consecutive upd", async () => {
    const src = new ManualSource();
    const gw = await startTestGateway({ flushIntervalMs: 1 }, src);
    try {
      const c = await TestClient.connect(gw.port);
      c.send({ op: 'sub', id: 1, topics: ['trade.NEW'] });
      await c.waitFor((m) => m.op === 'ack');
      await c.roundTrip(); // no frame for the topic came before the pong
      expect(c.topicMessages('trade.NEW')).toEqual([]);
      src.publish('trade.NEW', { ts: 1, px: 10, qty: 1, side: 'b' });
      src.publish('trade.NEW', { ts: 2, px: 11, qty: 2, side: 's' });
      const snap = await c.waitFor((m) => m.topic === 'trade.NEW');
      expect(snap).toMatchObject({ op: 'snap', seq: 1, epoch: gw.epoch, data: { ts: 1, px: 10, qty: 1, side: 'b' } });
      src.publish('trade.NEW', { ts: 3, px: 12, qty: 3, side: 'b' });
      // Ticks 2 and 3 may share a frame or not; together they follow the snap consecutively.
      await c.waitUntil(() => checkTopicStream(c.topicMessages('trade.NEW')) === 2);
      const ticks = c.topicMessages('trade.NEW').flatMap((m) => (m.op === 'upd' ? (m.data as unknown[]) : []));
      expect(ticks).toEqual([
        { ts: 2, px: 11, qty: 2, side: 's' },
        { ts: 3, px: 12, qty: 3, side: 'b' },
      ]);
      c.close();
    } finally {
      await gw.stop();
    }
  });

  it('/readyz is 503 while the source is not live', async () => {
    const gw = await startTestGateway({}, new ManualSource(false));
    try {
      const r = await httpGet(gw.port, '/readyz');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ ready: false });
    } finally {
      await gw.stop();
    }
  });
});
