import { connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { topicsFingerprint } from '../src/transport/sse-id.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, ManualSource, metricValue, sleep, startTestGateway, waitForMetric } from './support/gateway.js';
import { SseTestClient } from './support/sse.js';
import { waitFor } from './support/wait.js';
import { TEST_JWT_SECRET, testJwt } from './support/jwt.js';

/** GET /v1/sse against a real gateway: events, ids and resume, auth, limits, hb, shutdown, slow readers. */

const trade = (px: number) => ({ ts: Date.now(), px, qty: 1, side: 'b' as const });
const quote = (bid: number) => ({ ts: Date.now(), bid, bsz: 1, ask: bid + 1, asz: 1 });
const streams: SseTestClient[] = [];
async function open(port: number, query: string, headers: Record<string, string> = {}): Promise<SseTestClient & { body?: string }> {
  const c = await SseTestClient.open(port, query, headers);
  streams.push(c);
  return c;
}
afterEach(() => {
  for (const c of streams.splice(0)) c.close();
});

/** Seq per topic written in an event id (the documented grammar), by hand. */
function positions(id: string, topics: string[]): { epoch: string; seqs: number[] } {
  const [epoch, fp, ...seqs] = id.split('.');
  expect(fp).toBe(topicsFingerprint(topics));
  return { epoch: epoch!, seqs: seqs.map((s) => parseInt(s, 36)) };
}

describe('SSE stream (manual source)', () => {
  let gw: Gateway;
  const src = new ManualSource();
  const TOPICS = ['trade.BTC-USD', 'quote.AAPL'];
  let n = 0;
  const publish = (count: number) => {
    for (let i = 0; i < count; i++) {
      n++;
      src.publish('trade.BTC-USD', trade(100 + n));
      if (i % 2 === 0) src.publish('quote.AAPL', quote(50 + n));
    }
  };
  /** Until the hub has flushed everything published so far (what a new subscriber's snap carries). */
  const flushed = () => waitFor(() => !gw.hub.hasPending && gw.hub.position('trade.BTC-USD').seq === n, { what: `seq ${n} flushed` });
  beforeAll(async () => {
    gw = await startTestGateway({ historyBudgetBytes: 8192, heartbeatIntervalMs: 200 }, src);
    publish(4); // both topics have data before anyone subscribes
    await flushed();
  });
  afterAll(() => gw.stop());

  it('streams ack, then per topic a snap and consecutive upds, each with an id naming every position', async () => {
    const c = await open(gw.port, `topics=${TOPICS.join(',')}`);
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toBe('text/event-stream');
    expect(c.headers.get('cache-control')).toBe('no-store');
    const ack = await c.waitFor((e) => e.event === 'ack');
    expect(ack.data).toEqual({ op: 'ack', id: 0, topics: TOPICS });
    await c.waitFor((e) => e.event === 'snap' && e.data.topic === 'quote.AAPL');
    publish(30);
    await c.waitFor((e) => e.event === 'upd' && e.data.topic === 'trade.BTC-USD' && e.data.seq + e.data.data.length - 1 === n);

    for (const t of TOPICS) expect(checkTopicStream(c.topicMessages(t))).toBeGreaterThan(10);
    // The event name is the message's op; every snap/upd carries an id; hb carries none.
    const held = new Map<string, number>();
    for (const e of c.events) {
      expect(e.event).toBe(e.data.op);
      if (e.event !== 'snap' && e.event !== 'upd') continue;
      held.set(e.data.topic, e.event === 'upd' ? e.data.seq + e.data.data.length - 1 : e.data.seq);
      const p = positions(e.id!, TOPICS);
      expect(p.epoch).toBe(gw.epoch);
      expect(p.seqs).toEqual(TOPICS.map((t) => held.get(t) ?? 0));
    }
    const hb = await c.waitFor((e) => e.event === 'hb');
    expect(hb.id).toBeUndefined();
    expect(typeof hb.data.ts).toBe('number');
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_sse_connections')).toBe(1);
  });

  it('resumes every topic from Last-Event-ID (header or lastEventId) with no snap, no gap, no duplicate', async () => {
    const a = await open(gw.port, `topics=${TOPICS.join(',')}`);
    publish(10);
    await a.waitFor((e) => e.data.topic === 'trade.BTC-USD' && e.event === 'upd' && e.data.seq + e.data.data.length - 1 === n);
    const id = a.lastId!;
    const before = positions(id, TOPICS).seqs;
    a.close();
    publish(20); // missed while away
    for (const how of ['header', 'query'] as const) {
      const b =
        how === 'header'
          ? await open(gw.port, `topics=${TOPICS.join(',')}`, { 'last-event-id': id })
          : await open(gw.port, `topics=${TOPICS.join(',')}&lastEventId=${encodeURIComponent(id)}`);
      await b.waitFor((e) => e.data.topic === 'trade.BTC-USD' && e.event === 'upd' && e.data.seq + e.data.data.length - 1 === n);
      await b.waitFor((e) => e.data.topic === 'quote.AAPL' && e.event === 'upd');
      for (const [i, t] of TOPICS.entries()) {
        const msgs = b.topicMessages(t);
        expect(
          msgs.every((m) => m.op === 'upd'),
          how,
        ).toBe(true);
        expect(msgs[0]!.seq, `${how} ${t}`).toBe(before[i]! + 1);
        // Consecutive from the resume point: prepend a virtual snap at the old position.
        checkTopicStream([{ op: 'snap', topic: t, seq: before[i] }, ...msgs]);
      }
      expect(b.events.some((e) => e.event === 'err')).toBe(false);
    }
  });

  it('a resume the history cannot serve, or an unreadable Last-Event-ID, gets snaps flagged resync (and an err for the 2nd)', async () => {
    const a = await open(gw.port, `topics=${TOPICS.join(',')}`);
    await a.waitFor((e) => e.data.topic === 'trade.BTC-USD');
    const id = a.lastId!;
    a.close();
    publish(450); // far past what 8 KiB of history holds, on both topics
    const b = await open(gw.port, `topics=${TOPICS.join(',')}`, { 'last-event-id': id });
    for (const t of TOPICS) expect((await b.waitFor((e) => e.data.topic === t)).data).toMatchObject({ op: 'snap', resync: true });
    expect(b.events.some((e) => e.event === 'err')).toBe(false);

    for (const bad of ['garbage', `${gw.epoch}.${topicsFingerprint(['quote.AAPL'])}.5.5`, `${gw.epoch}.${topicsFingerprint(TOPICS)}.5`]) {
      const c = await open(gw.port, `topics=${TOPICS.join(',')}`, { 'last-event-id': bad });
      const err = await c.waitFor((e) => e.event === 'err');
      expect(err.data.code).toBe('bad_request');
      expect(err.data.msg).toMatch(/Last-Event-ID/);
      for (const t of TOPICS) expect((await c.waitFor((e) => e.data.topic === t)).data).toMatchObject({ op: 'snap', resync: true });
      c.close();
    }
  });

  it('explicit since (JSON, as in a sub) resumes per topic', async () => {
    publish(5);
    await flushed();
    const seq = (await open(gw.port, 'topics=trade.BTC-USD').then((c) => c.waitFor((e) => e.event === 'snap'))).data.seq as number;
    const since = encodeURIComponent(JSON.stringify({ 'trade.BTC-USD': { epoch: gw.epoch, seq: seq - 3 } }));
    const c = await open(gw.port, `topics=trade.BTC-USD,quote.AAPL&since=${since}`);
    const first = await c.waitFor((e) => e.data.topic === 'trade.BTC-USD');
    expect(first.data).toMatchObject({ op: 'upd', seq: seq - 2 });
    expect(first.data.data).toHaveLength(3);
    expect((await c.waitFor((e) => e.data.topic === 'quote.AAPL')).data.op).toBe('snap');
  });

  it('refuses bad requests with 400 and the err message as JSON', async () => {
    const cases: [string, string][] = [
      ['topics=trade.btc-usd,trade.BTC-USD', 'bad_topic'],
      ['topics=trade.BTC-USD,,quote.AAPL', 'bad_topic'],
      ['topics=trade.BTC-USD&since=%7Bnot-json', 'bad_request'],
      [`topics=trade.BTC-USD&since=${encodeURIComponent('{"trade.BTC-USD":{"epoch":1,"seq":"x"}}')}`, 'bad_request'],
      [`topics=${Array.from({ length: 300 }, (_, i) => `trade.S${i}`).join(',')}`, 'too_many_topics'],
    ];
    for (const [q, code] of cases) {
      const r = await httpGet(gw.port, `/v1/sse?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.type).toBe('application/json');
      expect(JSON.parse(r.body)).toMatchObject({ op: 'err', code });
    }
    expect(JSON.parse((await httpGet(gw.port, '/v1/sse?topics=trade.btc-usd')).body).topics).toEqual(['trade.btc-usd']);
  });

  it('a stream with no topics is live (hb, sys.announce) and topics not yet seen start with their first tick', async () => {
    const c = await open(gw.port, '');
    expect(c.status).toBe(200);
    expect((await c.waitFor((e) => e.event === 'ack')).data.topics).toEqual([]);
    await c.waitFor((e) => e.event === 'hb');
    const d = await open(gw.port, 'topics=trade.NEW');
    await d.waitFor((e) => e.event === 'ack');
    src.publish('trade.NEW', trade(1));
    const snap = await d.waitFor((e) => e.event === 'snap');
    expect(snap.data).toMatchObject({ topic: 'trade.NEW', seq: 1 });
    expect(snap.id).toBe(`${gw.epoch}.${topicsFingerprint(['trade.NEW'])}.1`);
  });
});

describe('SSE auth and limits', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      authMode: 'jwt',
      jwtSecret: TEST_JWT_SECRET,
      feedRate: 500,
      maxConnections: 3,
      allowedOrigins: 'https://ok.example',
    });
  });
  afterAll(() => gw.stop());

  it('401 without a token (as the upgrade), 200 with a Bearer header or access_token in the query', async () => {
    const none = await open(gw.port, 'topics=trade.BTC-USD');
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/token is required/);
    const bad = await open(gw.port, 'topics=trade.BTC-USD', { authorization: 'Bearer not.a.jwt' });
    expect(bad.status).toBe(401);
    const token = await testJwt({ sub: 'alice', topics: ['trade.*'] });
    const h = await open(gw.port, 'topics=trade.BTC-USD', { authorization: `Bearer ${token}` });
    expect(h.status).toBe(200);
    await h.waitFor((e) => e.event === 'snap');
    const q = await open(gw.port, `topics=trade.BTC-USD&access_token=${token}`);
    await q.waitFor((e) => e.event === 'snap');
  });

  it('forbidden topics: an err event (code forbidden) and the rest streams; 403 when nothing is allowed', async () => {
    const token = await testJwt({ sub: 'alice', topics: ['trade.*'] });
    const c = await open(gw.port, 'topics=trade.BTC-USD,quote.BTC-USD,user.bob.orders', { authorization: `Bearer ${token}` });
    const err = await c.waitFor((e) => e.event === 'err');
    expect(err.data).toMatchObject({ code: 'forbidden', topics: ['quote.BTC-USD', 'user.bob.orders'] });
    expect((await c.waitFor((e) => e.event === 'ack')).data.topics).toEqual(['trade.BTC-USD']);
    await c.waitFor((e) => e.event === 'snap' && e.data.topic === 'trade.BTC-USD');
    c.close();
    const all = await open(gw.port, 'topics=quote.BTC-USD', { authorization: `Bearer ${token}` });
    expect(all.status).toBe(403);
    expect(JSON.parse(all.body!)).toMatchObject({ code: 'forbidden', topics: ['quote.BTC-USD'] });
  });

  it('an Origin not allowed gets 403; SSE streams and WebSockets share maxConnections (503)', async () => {
    const token = await testJwt({ sub: 'alice', topics: ['*'] });
    const auth = { authorization: `Bearer ${token}` };
    expect((await open(gw.port, 'topics=trade.BTC-USD', { ...auth, origin: 'https://evil.example' })).status).toBe(403);
    const s1 = await open(gw.port, 'topics=trade.BTC-USD', { ...auth, origin: 'https://ok.example' });
    const s2 = await open(gw.port, 'topics=trade.BTC-USD', auth);
    const ws = await TestClient.connect(gw.port, { headers: auth });
    await s1.waitFor((e) => e.event === 'snap');
    await s2.waitFor((e) => e.event === 'snap');
    const refused = await open(gw.port, 'topics=trade.BTC-USD', auth);
    expect(refused.status).toBe(503);
    await expect(TestClient.connect(gw.port, { headers: auth })).rejects.toMatchObject({ status: 503 });
    const m = (await httpGet(gw.port, '/metrics')).body;
    expect(metricValue(m, 'tickwire_connections')).toBe(3);
    expect(metricValue(m, 'tickwire_sse_connections')).toBe(2);
    ws.close();
    s1.close();
    s2.close();
  });

  it('an expiring token ends the stream with a close event naming 4001', async () => {
    const token = await testJwt({ sub: 'alice', topics: ['*'] }, 2);
    const c = await open(gw.port, 'topics=trade.BTC-USD', { authorization: `Bearer ${token}` });
    const close = await c.waitFor((e) => e.event === 'close', 8000);
    expect(close.data).toEqual({ op: 'close', code: 4001, name: 'token_expired', reason: 'token expired' });
    await c.waitEnded();
  });
});

describe('SSE limits without auth', () => {
  it('per-IP limit (429), max lifetime (close 4002)', async () => {
    const gw = await startTestGateway({ feedRate: 200, maxConnectionsPerIp: 1, maxConnectionLifetimeSec: 1 });
    try {
      const a = await open(gw.port, 'topics=trade.BTC-USD');
      expect(a.status).toBe(200);
      const b = await open(gw.port, 'topics=trade.BTC-USD');
      expect(b.status).toBe(429);
      expect(b.body).toMatch(/per client address/);
      const close = await a.waitFor((e) => e.event === 'close', 15_000);
      expect(close.data).toMatchObject({ code: 4002, name: 'max_lifetime' });
      await a.waitEnded();
    } finally {
      await gw.stop();
    }
  });

  it('graceful shutdown: a shutdown event, then close 1001, then the stream ends', async () => {
    const gw = await startTestGateway({ feedRate: 200, shutdownNoticeMs: 200 });
    const c = await open(gw.port, 'topics=quote.AAPL');
    await c.waitFor((e) => e.event === 'snap');
    const stopped = gw.stop();
    const notice = await c.waitFor((e) => e.event === 'shutdown');
    expect(notice.data.msg).toMatch(/shutting down/);
    const close = await c.waitFor((e) => e.event === 'close');
    expect(close.data).toMatchObject({ code: 1001, name: 'going_away' });
    expect(c.events.indexOf(close)).toBeGreaterThan(c.events.indexOf(notice));
    await c.waitEnded();
    await stopped;
  });

  it('a stalled reader is conflated, never silently: its stream resumes with resync snaps, each topic consecutive or flagged', async () => {
    const TOPICS = ['trade.BTC-USD', 'quote.BTC-USD', 'trade.ETH-USD'];
    const src = new ManualSource();
    const gw = await startTestGateway({ slowTimeoutMs: 60_000 }, src);
    let pumping = true;
    let px = 0;
    const last = new Map<string, number>(); // the newest px (trade) or bid (quote) per topic
    const pump = async () => {
      while (pumping) {
        for (let i = 0; i < 2000; i++) {
          for (const t of TOPICS) {
            last.set(t, ++px);
            src.publish(t, t.startsWith('trade') ? trade(px) : quote(px));
          }
        }
        await sleep(5); // deliberate: paces the pump and lets the flush loop and socket writes run between bursts
      }
    };
    const sock = tcpConnect(gw.port, '127.0.0.1');
    let pumped: Promise<void> | undefined;
    try {
      sock.write(`GET /v1/sse?topics=${TOPICS.join(',')} HTTP/1.1\r\nHost: x\r\n\r\n`);
      sock.pause(); // stops reading: the kernel buffers fill, then uWS reports backpressure
      pumped = pump();
      await waitForMetric(gw.port, 'tickwire_slow_consumer_events_total', 1, 'the stalled SSE stream was never conflated', 20_000);
      await waitForMetric(gw.port, 'tickwire_conflated_frames_total', 1, 'no frame was conflated');
      let raw = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (raw += d));
      sock.resume();
      await waitForMetric(gw.port, 'tickwire_resyncs_total', TOPICS.length, 'no resync snaps after the stream drained', 20_000);
      const slowNow = async () => metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_slow_consumers');
      await waitFor(async () => (await slowNow()) === 0, { what: 'no slow consumer left' });
      const m = (await httpGet(gw.port, '/metrics')).body;
      expect(metricValue(m, 'tickwire_slow_consumer_closes_total')).toBe(0);
      pumping = false;
      await pumped;
      // The body is chunked (HTTP/1.1): undo the chunk framing, then read the data lines.
      const parse = () =>
        dechunk(raw.slice(raw.indexOf('\r\n\r\n') + 4))
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)));
      // Read once every topic's newest tick has arrived: nothing is left in flight.
      type Tick = { px?: number; bid?: number };
      const newest = (x: { op: string; data: Tick | Tick[] }) => {
        const tick = Array.isArray(x.data) ? x.data.at(-1) : x.data;
        return tick?.px ?? tick?.bid;
      };
      const msgs = await waitFor(
        () => {
          const all = parse();
          const done = TOPICS.every((t) => {
            const own = all.filter((x) => x.topic === t && (x.op === 'snap' || x.op === 'upd'));
            return own.length > 0 && newest(own.at(-1)) === last.get(t);
          });
          return done ? all : undefined;
        },
        { what: "every topic's newest tick" },
      );
      for (const t of TOPICS) {
        const own = msgs.filter((x) => x.topic === t);
        expect(
          own.some((x) => x.op === 'snap' && x.resync === true),
          t,
        ).toBe(true);
        checkTopicStream(own, { allowResync: true });
      }
    } finally {
      pumping = false;
      await pumped;
      sock.destroy();
      await gw.stop();
    }
  }, 60_000);
});

/** Decodes an HTTP/1.1 chunked body (complete chunks only). */
function dechunk(s: string): string {
  const buf = Buffer.from(s, 'utf8');
  let out = '';
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0 || eol + 2 + size > buf.length) break;
    out += buf.subarray(eol + 2, eol + 2 + size).toString('utf8');
    i = eol + 2 + size + 2;
  }
  return out;
}
