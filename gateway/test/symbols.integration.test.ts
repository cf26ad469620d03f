import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { httpGet, ManualSource, startTestGateway } from './support/gateway.js';
import { SseTestClient } from './support/sse.js';
import { waitFor } from './support/wait.js';
import { TEST_JWT_SECRET, testJwt } from './support/jwt.js';

const url = (g: Gateway, path: string) => `http://127.0.0.1:${g.port}${path}`;

/** GET /v1/snapshot until `topic` has a snap (the feed's first tick of it may still be on its way). */
async function snapshotWith(g: Gateway, query: string, topic: string, headers: Record<string, string> = {}): Promise<any> {
  return waitFor(
    async () => {
      const body = await (await fetch(url(g, `/v1/snapshot?${query}`), { headers })).json();
      return body.snaps?.[topic] ? body : undefined;
    },
    { what: `a snap of ${topic}` },
  );
}

describe('symbol directory and snapshots on the embedded feed (issue 16 points 4 and 5)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 2000, feedSymbols: 'BTC-USD,ETH-USD,AAPL' });
  });
  afterAll(() => gw?.stop());

  it('GET /v1/symbols lists every instrument with tick and lot sizes, as JSON or msgpack', async () => {
    const res = await httpGet(gw.port, '/v1/symbols');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body.source).toBe('embedded');
    expect(body.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(['AAPL', 'BTC-USD', 'ETH-USD']);
    expect(body.symbols[1]).toEqual({
      symbol: 'BTC-USD',
      tickSize: 0.01,
      lotSize: 0.00001,
      base: 'BTC',
      quote: 'USD',
      precision: 2,
      kinds: ['trade', 'quote', 'book', 'candle', 'stats'],
    });
    const packed = await fetch(url(gw, '/v1/symbols'), { headers: { accept: 'application/msgpack' } });
    expect(packed.headers.get('content-type')).toBe('application/msgpack');
    expect(unpack(Buffer.from(await packed.arrayBuffer()))).toEqual(body);
  });

  it('a sub to an unknown symbol gets err unknown_symbol (with a suggestion); the other topics are acknowledged', async () => {
    const c = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
    try {
      c.send({ op: 'sub', id: 3, topics: ['trade.DOGE-USDT', 'trade.BTC-USD', 'quote.ETH-UDS'] });
      const ack = await c.waitFor((m) => m.op === 'ack' && m.id === 3);
      expect(ack.topics).toEqual(['trade.BTC-USD']);
      const errs = c.messages.filter((m) => m.op === 'err').map(({ __binary: _, ...m }) => m);
      expect(errs).toEqual([
        {
          op: 'err',
          id: 3,
          code: 'unknown_symbol',
          msg: 'unknown symbol in quote.ETH-UDS; did you mean ETH-USD?',
          topics: ['quote.ETH-UDS'],
        },
        { op: 'err', id: 3, code: 'unknown_symbol', msg: expect.stringContaining('/v1/symbols'), topics: ['trade.DOGE-USDT'] },
      ]);
      await c.waitFor((m) => m.op === 'snap' && m.topic === 'trade.BTC-USD');
    } finally {
      c.close();
    }
  });

  it('the same rule on SSE', async () => {
    const s = await SseTestClient.open(gw.port, 'topics=trade.DOGE-USDT,trade.BTC-USD');
    try {
      const err = await s.waitFor((e) => e.data.op === 'err');
      expect(err.data).toMatchObject({ code: 'unknown_symbol', topics: ['trade.DOGE-USDT'] });
      const ack = await s.waitFor((e) => e.data.op === 'ack');
      expect(ack.data.topics).toEqual(['trade.BTC-USD']);
    } finally {
      s.close();
    }
  });

  it('GET /v1/snapshot answers each snap with seq and epoch, and per-topic errors', async () => {
    const body = await snapshotWith(gw, 'topics=trade.BTC-USD,quote.BTC-USD,trade.DOGE-USDT,nope,trade.BTC-USD@250ms', 'quote.BTC-USD');
    const snap = body.snaps['quote.BTC-USD'];
    expect(snap).toMatchObject({ op: 'snap', topic: 'quote.BTC-USD', epoch: gw.epoch });
    expect(snap.seq).toBeGreaterThan(0);
    expect(snap.data).toEqual(expect.objectContaining({ bid: expect.any(Number), ask: expect.any(Number), ts: expect.any(Number) }));
    expect(body.errors['trade.DOGE-USDT'].code).toBe('unknown_symbol');
    expect(body.errors.nope.code).toBe('bad_topic');
    // A script continues on the stream from the snap's position: the resume is served, no second snap.
    const c = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
    try {
      c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'], since: { 'quote.BTC-USD': { epoch: snap.epoch, seq: snap.seq } } });
      const next = await c.waitFor((m) => m.topic === 'quote.BTC-USD');
      expect(next).toMatchObject({ op: 'upd', seq: snap.seq + 1 });
    } finally {
      c.close();
    }
    const packed = await fetch(url(gw, '/v1/snapshot?topics=trade.DOGE-USDT'), { headers: { accept: 'application/msgpack' } });
    expect(unpack(Buffer.from(await packed.arrayBuffer()))).toMatchObject({
      snaps: {},
      errors: { 'trade.DOGE-USDT': { code: 'unknown_symbol' } },
    });
    const tooMany = await fetch(url(gw, `/v1/snapshot?topics=${Array.from({ length: 300 }, (_, i) => `trade.S${i}`).join(',')}`));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ code: 'too_many_topics' });
  });
});

describe('without a directory (a source of its own, as Kafka mode without symbolsFile/symbolsTopic)', () => {
  it('accepts every symbol as before, and /v1/symbols answers 404', async () => {
    const src = new ManualSource();
    const gw = await startTestGateway({}, src);
    try {
      expect((await httpGet(gw.port, '/v1/symbols')).status).toBe(404);
      const c = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
      c.send({ op: 'sub', id: 1, topics: ['trade.DOGE-USDT'] });
      expect(await c.waitFor((m) => m.op === 'ack')).toMatchObject({ topics: ['trade.DOGE-USDT'] });
      c.close();
      const empty = await (await fetch(url(gw, '/v1/snapshot?topics=trade.DOGE-USDT'))).json();
      expect(empty.errors['trade.DOGE-USDT'].code).toBe('no_data');
      src.publish('trade.DOGE-USDT', { ts: 1, px: 0.1, qty: 5, side: 'b' });
      const body = await snapshotWith(gw, 'topics=trade.DOGE-USDT', 'trade.DOGE-USDT');
      expect(body.snaps['trade.DOGE-USDT']).toEqual({
        op: 'snap',
        topic: 'trade.DOGE-USDT',
        seq: 1,
        epoch: gw.epoch,
        data: { ts: 1, px: 0.1, qty: 5, side: 'b' },
      });
    } finally {
      await gw.stop();
    }
  });
});

describe('GET /v1/snapshot honours authentication and entitlements', () => {
  for (const workers of [1, 2]) {
    it(`as a WebSocket sub does (workers: ${workers})`, async () => {
      const gw = await startTestGateway({
        authMode: 'jwt',
        jwtSecret: TEST_JWT_SECRET,
        feedRate: 2000,
        feedSymbols: 'BTC-USD,ETH-USD',
        workers,
      });
      try {
        const none = await fetch(url(gw, '/v1/snapshot?topics=trade.BTC-USD'));
        expect(none.status).toBe(401);
        expect(await none.json()).toMatchObject({ code: 'unauthorized' });
        const bad = await fetch(url(gw, '/v1/snapshot?topics=trade.BTC-USD'), { headers: { authorization: 'Bearer nope' } });
        expect(bad.status).toBe(401);
        const token = await testJwt({ sub: 'alice', topics: ['trade.*'] });
        const q = 'topics=trade.BTC-USD,quote.BTC-USD,trade.DOGE-USDT,user.alice.fills,user.bob.fills';
        const viaHeader = await snapshotWith(gw, q, 'trade.BTC-USD', { authorization: `Bearer ${token}` });
        expect(viaHeader.snaps['trade.BTC-USD']).toMatchObject({ epoch: gw.epoch });
        expect(viaHeader.errors).toMatchObject({
          'quote.BTC-USD': { code: 'forbidden' },
          'trade.DOGE-USDT': { code: 'unknown_symbol' },
          'user.alice.fills': { code: 'no_data' },
          'user.bob.fills': { code: 'forbidden' },
        });
        const viaQuery = await snapshotWith(gw, `${q}&access_token=${token}`, 'trade.BTC-USD');
        expect(viaQuery.errors['quote.BTC-USD'].code).toBe('forbidden');
      } finally {
        await gw.stop();
      }
    });
  }
});
