import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient, type Msg } from './support/client.js';
import { metricValue, startTestGateway } from './support/gateway.js';
import { waitFor } from './support/wait.js';
import { TEST_JWT_SECRET, testJwt } from './support/jwt.js';

const url = (g: Gateway, path: string) => `http://127.0.0.1:${g.port}${path}`;

interface Trade {
  ts: number;
  px: number;
  qty: number;
}

/** The OHLCV an independent client computes from the trades it received for one bucket. */
function ohlcv(trades: readonly Trade[]) {
  return {
    o: trades[0]?.px,
    h: Math.max(...trades.map((t) => t.px)),
    l: Math.min(...trades.map((t) => t.px)),
    c: trades.at(-1)?.px,
    v: trades.reduce((s, t) => s + t.qty, 0),
    q: trades.reduce((s, t) => s + t.px * t.qty, 0),
    n: trades.length,
  };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe('candles on the embedded feed', () => {
  it('every closed 1 s candle equals the OHLCV of its trades, and GET /v1/candles returns those candles (JSON, msgpack)', async () => {
    const gw = await startTestGateway({ feedRate: 400, feedSymbols: 'BTC-USD,ETH-USD', flushIntervalMs: 0, candleGraceMs: 5000 });
    const client = await TestClient.connect(gw.port);
    try {
      client.send({ op: 'sub', id: 1, topics: ['trade.BTC-USD', 'candle.1s.BTC-USD'] });
      await client.waitFor((m) => m.op === 'ack');
      const finals = (): Msg[] =>
        client.messages
          .filter((m) => m.op === 'upd' && m.topic === 'candle.1s.BTC-USD')
          .flatMap((m) => m.data)
          .filter((c) => c.x);
      // The first bucket is only partly seen by this client; four more closed ones are compared.
      await client.waitUntil(() => finals().length >= 5, 30_000);
      const trades: Trade[] = client.messages.filter((m) => m.op === 'upd' && m.topic === 'trade.BTC-USD').flatMap((m) => m.data);
      const firstBucket = Math.floor((trades[0] as Trade).ts / 1000) * 1000;
      const compared = finals().filter((c) => c.t > firstBucket);
      expect(compared.length).toBeGreaterThanOrEqual(4);
      for (const c of compared) {
        const own = ohlcv(trades.filter((t) => t.ts >= c.t && t.ts < c.t + 1000));
        expect(c.n, `count of ${c.t}`).toBe(own.n);
        expect([c.o, c.h, c.l, c.c]).toEqual([own.o, own.h, own.l, own.c]);
        expect(close(c.v, own.v) && close(c.q, own.q), `volumes of ${c.t}: ${JSON.stringify([c, own])}`).toBe(true);
      }
      // Each update of a candle topic is one seq step: the stream has no gaps.
      const seqs = client.messages.filter((m) => m.topic === 'candle.1s.BTC-USD' && m.op === 'upd');
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]?.seq).toBe((seqs[i - 1]?.seq as number) + (seqs[i - 1]?.data.length as number));

      const res = await fetch(url(gw, '/v1/candles?topic=candle.1s.BTC-USD&limit=1000'));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { topic: string; candles: Msg[] };
      expect(body.topic).toBe('candle.1s.BTC-USD');
      const byT = new Map(body.candles.map((c) => [c.t, c]));
      for (const c of finals()) expect(byT.get(c.t)).toEqual({ t: c.t, o: c.o, h: c.h, l: c.l, c: c.c, v: c.v, q: c.q, n: c.n, x: true });
      const ts = body.candles.map((c) => c.t as number);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));

      const last = ts.at(-1) as number;
      const packed = await fetch(url(gw, `/v1/candles?topic=candle.1s.BTC-USD&limit=2&before=${last}`), {
        headers: { accept: 'application/msgpack' },
      });
      expect(packed.headers.get('content-type')).toBe('application/msgpack');
      const decoded = unpack(Buffer.from(await packed.arrayBuffer())) as { topic: string; candles: Msg[] };
      expect(decoded).toEqual({ topic: 'candle.1s.BTC-USD', candles: body.candles.filter((c) => c.t < last).slice(-2) });

      const bad = async (q: string, status: number, code: string) => {
        const r = await fetch(url(gw, `/v1/candles?${q}`));
        expect(r.status, q).toBe(status);
        expect(await r.json(), q).toMatchObject({ op: 'err', code });
      };
      await bad('topic=trade.BTC-USD', 400, 'bad_topic');
      await bad('topic=candle.2m.BTC-USD', 400, 'bad_topic');
      await bad('topic=candle.1m.BTC-USD&limit=1001', 400, 'bad_request');
      await bad('topic=candle.1m.BTC-USD&limit=0', 400, 'bad_request');
      await bad('topic=candle.1m.BTC-USD&before=soon', 400, 'bad_request');
      await bad('topic=candle.1m.BTC-USDD', 404, 'unknown_symbol');
      // The late-trade counter is exported per interval (0 here: the feed's trades are in time order, well within the grace).
      const metrics = await (await fetch(url(gw, '/metrics'))).text();
      expect(metricValue(metrics, 'tickwire_candle_late_trades_total{interval="1s"}')).toBe(0);
    } finally {
      client.ws.close();
      await gw.stop();
    }
  });

  it('with workers, GET /v1/candles answers from the primary the candles every worker streams', async () => {
    const gw = await startTestGateway({ workers: 2, feedRate: 400, feedSymbols: 'BTC-USD', candleGraceMs: 500 });
    const client = await TestClient.connect(gw.port);
    try {
      client.send({ op: 'sub', id: 1, topics: ['candle.1s.BTC-USD'] });
      const final = await client.waitFor((m) => m.op === 'upd' && m.data.some((c: Msg) => c.x), 30_000);
      const closed = final.data.find((c: Msg) => c.x) as Msg;
      const body = await waitFor(
        async () => {
          const r = (await (await fetch(url(gw, '/v1/candles?topic=candle.1s.BTC-USD'))).json()) as { candles: Msg[] };
          return r.candles.some((c) => c.t === closed.t) ? r : undefined;
        },
        { what: 'the closed candle in /v1/candles' },
      );
      expect(body.candles.find((c) => c.t === closed.t)).toEqual(closed);
    } finally {
      client.ws.close();
      await gw.stop();
    }
  });

  it('publishes stats.<SYMBOL> from the 1-minute candles', async () => {
    const gw = await startTestGateway({ feedRate: 400, feedSymbols: 'BTC-USD' });
    const client = await TestClient.connect(gw.port);
    try {
      client.send({ op: 'sub', id: 1, topics: ['stats.BTC-USD', 'candle.1m.BTC-USD'] });
      const snap = await client.waitFor((m) => m.op === 'snap' && m.topic === 'stats.BTC-USD');
      const s = snap.data;
      expect(Object.keys(s).sort()).toEqual(['chg', 'chgPct', 'high', 'last', 'low', 'n', 'open', 'q', 'ts', 'v'].sort());
      expect(s.low).toBeLessThanOrEqual(s.last);
      expect(s.high).toBeGreaterThanOrEqual(s.last);
      expect(s.chg).toBeCloseTo(s.last - s.open, 6);
      expect(s.n).toBeGreaterThan(0);
    } finally {
      client.ws.close();
      await gw.stop();
    }
  });

  it('GET /v1/candles honours authentication and entitlements as a sub does', async () => {
    const gw = await startTestGateway({ authMode: 'jwt', jwtSecret: TEST_JWT_SECRET, feedRate: 200, feedSymbols: 'BTC-USD' });
    try {
      const q = '/v1/candles?topic=candle.1m.BTC-USD';
      const none = await fetch(url(gw, q));
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ op: 'err', code: 'unauthorized' });
      const tradesOnly = await testJwt({ sub: 'alice', topics: ['trade.*'] });
      const forbidden = await fetch(url(gw, q), { headers: { authorization: `Bearer ${tradesOnly}` } });
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toMatchObject({ op: 'err', code: 'forbidden' });
      const candles = await testJwt({ sub: 'alice', topics: ['candle.*'] });
      const ok = await fetch(url(gw, `${q}&access_token=${candles}`));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ topic: 'candle.1m.BTC-USD', candles: expect.any(Array) });
    } finally {
      await gw.stop();
    }
  });
});
