import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bookChecksum, type BookChange, type Level } from '../../protocol/src/book.js';
import type { Gateway } from '../src/gateway.js';
import { BOOK_FULL as FULL, BOOK_TOP as TOP, BOOK_UNITS as UNITS, BookScript, bookSymbolsFile } from './support/book-script.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { httpGet, ManualSource, startTestGateway } from './support/gateway.js';
import { stopAll } from './support/process.js';
import { SseTestClient } from './support/sse.js';
import { waitFor } from './support/wait.js';

/**
 * Order books through a real gateway: a scripted source publishes change sets on `book.BTC-USD`
 * and on its depth-10 topic (as the book engine does), and independent clients over WebSocket
 * (msgpack and JSON), SSE, throttled views and GET /v1/snapshot must all hold the source's book.
 * With workers = 2 too (the workers are threads running dist/: npm run build first).
 */

/** An independent client's book of one topic, built from the messages it got: a map per side, checked against every `cs`. */
function replay(msgs: Msg[]): { bids: Level[]; asks: Level[]; seq: number; stale: boolean } {
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  let seq = 0;
  let stale = false;
  const set = (side: Map<number, number>, levels: Level[]) => {
    for (const [px, qty] of levels) {
      if (qty === 0) side.delete(px);
      else side.set(px, qty);
    }
  };
  const sorted = () => ({
    bids: [...bids].sort((x, y) => y[0] - x[0]),
    asks: [...asks].sort((x, y) => x[0] - y[0]),
  });
  const check = (cs: number, where: string) => {
    const s = sorted();
    expect(bookChecksum(s.bids, s.asks, UNITS), where).toBe(cs);
  };
  for (const m of msgs) {
    if (m.op === 'snap') {
      bids.clear();
      asks.clear();
      expect(m.data).toMatchObject({ tick: UNITS.tick, lot: UNITS.lot });
      set(bids, m.data.bids);
      set(asks, m.data.asks);
      stale = m.data.stale === true;
      check(m.data.cs, `${m.topic} snap ${m.seq}`);
      seq = m.seq;
    } else if (m.op === 'upd') {
      for (const [i, c] of (m.data as BookChange[]).entries()) {
        set(bids, c.b);
        set(asks, c.a);
        stale = c.stale === true;
        check(c.cs, `${m.topic} upd ${m.seq + i}`);
      }
      seq = m.topic.includes('@') ? m.seq : m.seq + m.data.length - 1;
    }
  }
  return { ...sorted(), seq, stale };
}

const clients: TestClient[] = [];
const streams: SseTestClient[] = [];
let gw: Gateway | undefined;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of streams.splice(0)) s.close();
  await gw?.stop();
  gw = undefined;
});
afterAll(() => stopAll());

async function subscribe(port: number, protocol: string, topics: string[]): Promise<TestClient> {
  const c = await TestClient.connect(port, { protocols: [protocol] });
  clients.push(c);
  c.send({ op: 'sub', id: 1, topics });
  await c.waitFor((m) => m.op === 'ack');
  for (const t of topics) await c.waitFor((m) => m.topic === t && m.op === 'snap');
  return c;
}

/** Publishes `n` change sets in bursts (a stale one and its refill in the middle), each burst out before the next. */
async function run(script: BookScript, n: number, c: TestClient): Promise<void> {
  for (let i = 0; i < n; i++) {
    script.change(i === Math.floor(n / 2));
    if (i % 17 === 16 || i === n - 1) {
      const want = script.seq[FULL];
      await c.waitFor((m) => m.topic === FULL && m.op === 'upd' && m.seq + m.data.length - 1 >= want);
    }
  }
}

async function checkAll(port: number, script: BookScript, a: TestClient, b: TestClient): Promise<void> {
  const final = script.seq[FULL];
  // The views send once due: wait until each reached the last seq, then every client holds the source's book.
  await a.waitFor((m) => m.topic === `${FULL}@100ms` && m.op === 'upd' && m.seq === final);
  await b.waitFor((m) => m.topic === `${TOP}@250ms` && m.op === 'upd' && m.seq === final);
  await b.waitFor((m) => m.topic === TOP && m.op === 'upd' && m.seq + m.data.length - 1 === final);
  for (const [c, topic] of [
    [a, FULL],
    [b, TOP],
  ] as const) {
    expect(checkTopicStream(c.topicMessages(topic))).toBeGreaterThan(0);
  }
  const want = { ...script.all(), seq: final, stale: false };
  const wantTop = { ...script.top(), seq: final, stale: false };
  expect(replay(a.topicMessages(FULL))).toEqual(want);
  expect(replay(a.topicMessages(`${FULL}@100ms`))).toEqual(want);
  expect(replay(b.topicMessages(TOP))).toEqual(wantTop);
  expect(replay(b.topicMessages(`${TOP}@250ms`))).toEqual(wantTop);
  // The stale change set in the middle reached the clients, flagged.
  expect(a.topicMessages(FULL).some((m) => m.op === 'upd' && m.data.some((c: BookChange) => c.stale === true))).toBe(true);
  // A view sends one change set per upd, never more often than its interval.
  const views = b.topicMessages(`${TOP}@250ms`).filter((m) => m.op === 'upd');
  expect(views.every((m) => m.data.length === 1)).toBe(true);
  expect(views.length).toBeLessThan(final);

  // GET /v1/snapshot: the folded book at the newest seq, in the symbol's units.
  const res = await httpGet(port, `/v1/snapshot?topics=${TOP},${FULL}`);
  expect(res.status).toBe(200);
  const snaps = JSON.parse(res.body).snaps;
  expect(snaps[TOP]).toMatchObject({ op: 'snap', seq: final, data: { ...script.top(), cs: script.book.checksum(UNITS), ...UNITS } });
  expect(snaps[FULL].data).toMatchObject({ ...script.all(), cs: script.book.checksum(UNITS) });
  expect(snaps[FULL].data.stale).toBeUndefined();
}

describe('order books through the gateway', () => {
  it('WebSocket msgpack and JSON, throttled views, SSE and /v1/snapshot all hold the source book', async () => {
    const src = new ManualSource();
    gw = await startTestGateway({ symbolsFile: bookSymbolsFile() }, src);
    const script = new BookScript(src);
    for (let i = 0; i < 20; i++) script.change();
    const g = gw;
    await waitFor(() => !g.hub.hasPending && g.hub.position(FULL).seq === 20 && g.hub.position(TOP).seq === 20, { what: 'seq 20 flushed' });
    const a = await subscribe(gw.port, 'tickwire.v1.msgpack', [FULL, `${FULL}@100ms`]);
    const b = await subscribe(gw.port, 'tickwire.v1.json', [TOP, `${TOP}@250ms`]);
    // The first snaps: the book folded from the 20 change sets published before anyone subscribed.
    expect(replay(a.topicMessages(FULL).slice(0, 1))).toEqual({ ...script.all(), seq: 20, stale: false });
    expect(replay(b.topicMessages(TOP).slice(0, 1))).toEqual({ ...script.top(), seq: 20, stale: false });
    const sse = await SseTestClient.open(gw.port, `topics=${FULL}`);
    streams.push(sse);
    await sse.waitFor((e) => e.event === 'snap');

    await run(script, 150, a);
    await checkAll(gw.port, script, a, b);
    const final = script.seq[FULL];
    await sse.waitFor((e) => e.event === 'upd' && e.data.seq + e.data.data.length - 1 === final);
    expect(checkTopicStream(sse.topicMessages(FULL))).toBeGreaterThan(0);
    expect(replay(sse.topicMessages(FULL) as Msg[])).toEqual({ ...script.all(), seq: final, stale: false });

    // A resume within the history window replays the change sets: no snap, and the book is right again.
    const msgs = a.topicMessages(FULL);
    const mid = msgs.find((m) => m.op === 'upd' && m.seq > 60) as Msg;
    const r = await TestClient.connect(gw.port);
    clients.push(r);
    r.send({ op: 'sub', id: 2, topics: [FULL], since: { [FULL]: { epoch: gw.epoch, seq: mid.seq - 1 } } });
    await r.waitFor((m) => m.topic === FULL && m.op === 'upd' && m.seq + m.data.length - 1 === final);
    const replayed = r.topicMessages(FULL);
    expect(replayed[0]).toMatchObject({ op: 'upd', seq: mid.seq });
    const upTo = msgs.filter((m) => m.seq < mid.seq);
    expect(replay([...upTo, ...replayed])).toEqual({ ...script.all(), seq: final, stale: false });
  });
});

describe('order books with workers = 2', () => {
  it('every worker serves the folded book: snaps (seeded and live), upds, views and /v1/snapshot', async () => {
    const src = new ManualSource();
    gw = await startTestGateway({ workers: 2, symbolsFile: bookSymbolsFile() }, src);
    const script = new BookScript(src);
    for (let i = 0; i < 20; i++) script.change();
    const port = gw.port;
    const listed = async () => {
      const topics = JSON.parse((await httpGet(port, '/v1/topics')).body).topics as { topic: string; seq: number }[];
      return topics.some((t) => t.topic === FULL && t.seq === 20) && topics.some((t) => t.topic === TOP && t.seq === 20);
    };
    await waitFor(listed, { what: 'both book topics at seq 20 on /v1/topics' });
    // Both workers restart: each is seeded with the primary's exportState, folded books included.
    await gw.cluster!.crash(0, 'exit');
    await gw.cluster!.crash(1, 'exit');
    // Enough connections that both workers serve some (the kernel spreads them).
    const as: TestClient[] = [];
    const bs: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      as.push(await subscribe(port, 'tickwire.v1.msgpack', [FULL, `${FULL}@100ms`]));
      bs.push(await subscribe(port, 'tickwire.v1.json', [TOP, `${TOP}@250ms`]));
    }
    for (const a of as) expect(replay(a.topicMessages(FULL).slice(0, 1))).toEqual({ ...script.all(), seq: 20, stale: false });
    await run(script, 120, as[0]!);
    for (let i = 0; i < 4; i++) await checkAll(port, script, as[i]!, bs[i]!);
  });
});
