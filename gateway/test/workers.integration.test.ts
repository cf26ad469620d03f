import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { httpGet, ManualSource, metricValue, startTestGateway } from './support/gateway.js';
import { spawnGateway, stopAll } from './support/process.js';
import { waitFor } from './support/wait.js';

// workers = 2, in process: the primary runs here, the workers are threads running the built
// dist/gateway/src/cluster/worker.js (npm test builds first).

const TOPIC = 'trade.BTC-USD';
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 60_000 + i, qty: 0.5, side: i % 2 ? 'b' : 's' });
const ADMIN = 'admin-token-0123456789';

let gw: Gateway | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});
afterAll(() => stopAll());

/** `n` msgpack clients subscribed to `topics`; with `compactEvery` k, every k-th speaks tickwire.v1.msgpack-compact instead. */
async function connectAll(port: number, n: number, topics = [TOPIC], compactEvery = 0): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const compact = compactEvery > 0 && i % compactEvery === compactEvery - 1;
    const c = await TestClient.connect(port, compact ? { protocols: ['tickwire.v1.msgpack-compact'] } : {});
    clients.push(c);
    c.send({ op: 'sub', id: 1, topics });
    await c.waitFor((m) => m.op === 'ack');
    out.push(c);
  }
  return out;
}

/** Connections per worker, from any worker's aggregated /metrics. */
async function perWorker(port: number, size: number): Promise<number[]> {
  const text = (await httpGet(port, '/metrics')).body;
  return Array.from({ length: size }, (_, i) => metricValue(text, `tickwire_worker_connections{worker="${i}"}`));
}

/** The last seq a client got on TOPIC (0 for none), scanning from the end: cheap enough to poll. */
function lastSeqOf(c: TestClient): number {
  for (let i = c.messages.length - 1; i >= 0; i--) {
    const m = c.messages[i] as Msg;
    if (m.topic !== TOPIC) continue;
    return m.op === 'upd' ? m.seq + m.data.length - 1 : m.seq;
  }
  return 0;
}

/** Until a worker lists TOPIC at `seq` on /v1/topics: the tick went through the primary to the workers. */
async function topicListed(port: number, seq: number): Promise<void> {
  const listed = async () => {
    const topics = JSON.parse((await httpGet(port, '/v1/topics')).body).topics as { topic: string; seq: number }[];
    return topics.some((t) => t.topic === TOPIC && t.seq >= seq);
  };
  await waitFor(listed, { what: `${TOPIC} at seq ${seq} on /v1/topics` });
}

/** The seqs of every tick a client got on TOPIC, flattened. */
const tickSeqs = (msgs: Msg[]): number[] => msgs.flatMap((m) => (m.op === 'upd' ? m.data.map((_: unknown, k: number) => m.seq + k) : []));

describe('workers = 2', () => {
  it('spreads clients over both workers, and every client gets the same seq and epoch for the same tick', async () => {
    const source = new ManualSource();
    gw = await startTestGateway({ workers: 2, adminToken: ADMIN }, source);
    expect(gw.cluster?.size).toBe(2);
    source.publish(TOPIC, trade(0));
    await topicListed(gw.port, 1);
    // Every 4th client compact: workers encode with their own codec list (cluster/worker.ts).
    const cs = await connectAll(gw.port, 16, [TOPIC], 4);
    const spread = await perWorker(gw.port, 2);
    expect(spread.reduce((a, b) => a + b)).toBe(16);
    expect(spread.every((n) => n > 0)).toBe(true);
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_connections')).toBe(16);

    for (let i = 1; i <= 40; i++) {
      source.publish(TOPIC, trade(i));
      // In bursts, each out before the next: the ticks span many flushes and handoffs.
      if (i % 7 === 0) await cs[0]!.waitFor((m) => m.op === 'upd' && m.seq + m.data.length - 1 >= i + 1);
    }
    for (const c of cs) await c.waitFor((m) => m.op === 'upd' && m.seq + m.data.length - 1 === 41);
    const reference = cs[0]!.topicMessages(TOPIC);
    expect(reference[0]).toMatchObject({ op: 'snap', seq: 1, epoch: gw.epoch, data: trade(0) });
    for (const c of cs) {
      const msgs = c.topicMessages(TOPIC);
      expect(checkTopicStream(msgs)).toBe(40);
      expect(msgs[0]).toMatchObject({ op: 'snap', seq: 1, epoch: gw.epoch });
      expect(tickSeqs(msgs)).toEqual(Array.from({ length: 40 }, (_, k) => k + 2));
      expect(msgs.flatMap((m) => (m.op === 'upd' ? m.data : []))).toEqual(tickSeqs(reference).map((s) => trade(s - 1)));
      // Compact frames in columns, in the default units (a test source: no symbol directory).
      if (c.format === 'msgpack-compact') for (const m of msgs) expect(m.__scales).toEqual([1e8, 1e8]);
    }

    // Every worker answers the HTTP routes the same way; the admin publish reaches every client.
    for (let i = 0; i < 6; i++) {
      expect((await httpGet(gw.port, '/readyz')).status).toBe(200);
      const topics = JSON.parse((await httpGet(gw.port, '/v1/topics')).body).topics as { topic: string }[];
      expect(topics.find((x) => x.topic === TOPIC)).toEqual({ topic: TOPIC, seq: 41, epoch: gw.epoch, ts: trade(40).ts });
      // Besides the trades, only what the gateway computes from them (candles, stats) of the same symbol.
      for (const x of topics) expect(x.topic).toMatch(/^(trade|candle\.\w+|stats)\.BTC-USD$/);
    }
    const res = await fetch(`http://127.0.0.1:${gw.port}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ topic: 'sys.announce', data: { msg: 'hello all' } }),
    });
    expect(res.status).toBe(202);
    for (const c of cs) await c.waitFor((m) => m.topic === 'sys.announce' && m.op === 'upd' && m.data[0].msg === 'hello all');
  });

  it("/readyz follows the primary's source", async () => {
    const source = new ManualSource(false);
    gw = await startTestGateway({ workers: 2 }, source);
    expect((await httpGet(gw.port, '/readyz')).status).toBe(503);
    source.live = true;
    await waitFor(async () => (await httpGet(gw!.port, '/readyz')).status === 200, { what: '/readyz 200' });
    expect((await httpGet(gw.port, '/readyz')).status).toBe(200);
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_ready')).toBe(1);
  });

  it('restarts a worker that dies; its clients reconnect and resume with no silent gap', async () => {
    const source = new ManualSource();
    gw = await startTestGateway({ workers: 2, flushIntervalMs: 2 }, source);
    let n = 0;
    source.publish(TOPIC, trade(n++));
    await topicListed(gw.port, 1);
    const cs = await connectAll(gw.port, 12);
    const before = await perWorker(gw.port, 2);
    expect(before.every((x) => x > 0)).toBe(true);
    const resumedFrom = new Map<TestClient, number>();
    // Up to ~600 ticks/s, but never more than 800 past the client furthest behind (a dropped one
    // not yet resumed included): the default history (1 024 ticks) must still hold every resume
    // point, however slowly a busy machine reconnects them.
    const feed = setInterval(() => {
      if (n - Math.min(...cs.map(lastSeqOf)) > 800) return;
      for (let k = 0; k < 3; k++) source.publish(TOPIC, trade(n++));
    }, 5);
    // Replaces `c` by a new connection (to whichever worker the kernel picks) that resumes from the
    // last seq `c` got: replayed from the history, not a resync snap.
    const resumeElsewhere = async (c: TestClient): Promise<void> => {
      const last = c.topicMessages(TOPIC).at(-1)!;
      const seq = last.op === 'snap' ? last.seq : last.seq + last.data.length - 1;
      const again = await TestClient.connect(gw!.port);
      clients.push(again);
      again.send({ op: 'sub', id: 2, topics: [TOPIC], since: { [TOPIC]: { epoch: gw!.epoch, seq } } });
      expect(await again.waitFor((m) => m.topic === TOPIC)).toMatchObject({ op: 'upd', seq: seq + 1 });
      cs[cs.indexOf(c)] = again;
      resumedFrom.set(again, seq);
    };
    // Connections per worker once the gauges count all `n` open ones.
    const gauges = (n: number): Promise<number[]> =>
      waitFor(
        async () => {
          const v = await perWorker(gw!.port, 2);
          return v[0]! + v[1]! === n ? v : undefined;
        },
        { what: `${n} connections in the per-worker gauges` },
      );
    try {
      for (const [index, how] of [
        [0, 'throw'],
        [1, 'exit'],
      ] as const) {
        let open = cs.filter((c) => c.closeCode === undefined);
        const seen = open.map((c) => c.topicMessages(TOPIC).length);
        await waitFor(() => open.every((c, i) => c.topicMessages(TOPIC).length > seen[i]! + 2), { what: 'ticks flowing to every client' });
        // The crash must leave clients on the other worker, to show it drops only its own; the kernel
        // may have put every client on one worker (it did, on a busy machine), so move some over:
        // while the other worker has none, each client moved comes from the one about to crash.
        let counts = await gauges(open.length);
        for (let moved = 0; counts[1 - index] === 0 && moved < 40; moved++) {
          const c = open[moved % open.length]!;
          c.close();
          await c.waitClosed();
          await resumeElsewhere(c);
          open = cs.filter((x) => x.closeCode === undefined);
          counts = await gauges(open.length);
        }
        expect(counts[1 - index]).toBeGreaterThan(0);
        const onCrashed = counts[index]!;
        const oldThread = gw.cluster!.threadIds()[index];
        await gw.cluster!.crash(index, how);
        expect(gw.cluster!.threadIds()[index]).not.toBe(oldThread);
        await waitFor(() => open.filter((c) => c.closeCode !== undefined).length >= onCrashed, {
          what: `the ${onCrashed} clients of worker ${index} closed`,
        });
        const lost = open.filter((c) => c.closeCode !== undefined);
        expect(lost.length).toBe(onCrashed);
        expect(lost.length).toBeLessThan(open.length);
        // Each dropped client reconnects and resumes from the history the replacement imported.
        for (const c of lost) await resumeElsewhere(c);
      }
      expect(gw.cluster!.restarts).toBe(2);
    } finally {
      clearInterval(feed);
    }
    const end = n;
    for (const c of cs) await c.waitFor((m) => m.topic === TOPIC && m.op === 'upd' && m.seq + m.data.length - 1 === end);
    for (const c of cs) {
      const msgs = c.topicMessages(TOPIC);
      const from = resumedFrom.get(c);
      // A resumed stream is a continuation: check it as if it began with a snap at the resume point.
      const stream = from === undefined ? msgs : [{ op: 'snap', topic: TOPIC, seq: from }, ...msgs];
      expect(checkTopicStream(stream)).toBeGreaterThan(0);
    }
    const after = await perWorker(gw.port, 2);
    expect(after.reduce((a, b) => a + b)).toBe(12);
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_worker_restarts_total')).toBe(2);
  });

  it('restarted workers import the whole time-based history: a resume 3 000 ticks back is replayed; /metrics counts copies', async () => {
    const source = new ManualSource();
    gw = await startTestGateway({ workers: 2, flushIntervalMs: 2 }, source);
    const g = gw;
    const TOTAL = 3_000; // three times the former 1 024-tick ring
    for (let i = 1; i <= TOTAL; i++) source.publish(TOPIC, trade(i));
    const hubSeq = () => g.hub.topicInfo().find((t) => t.topic === TOPIC)?.seq ?? 0;
    const probe = await TestClient.connect(g.port);
    clients.push(probe);
    await probe.waitUntil(() => hubSeq() === TOTAL, 10_000);
    // Both replicas replaced: whichever worker the client lands on serves from imported history.
    await g.cluster!.crash(0, 'exit');
    await g.cluster!.crash(1, 'exit');
    const c = await TestClient.connect(g.port);
    clients.push(c);
    c.send({ op: 'sub', id: 1, topics: [TOPIC], since: { [TOPIC]: { epoch: g.epoch, seq: 10 } } });
    await c.waitUntil(() => tickSeqs(c.topicMessages(TOPIC)).at(-1) === TOTAL, 10_000);
    const msgs = c.topicMessages(TOPIC);
    expect(msgs.every((m) => m.op === 'upd')).toBe(true);
    expect(checkTopicStream([{ op: 'snap', topic: TOPIC, seq: 10 }, ...msgs])).toBe(TOTAL - 10);
    expect(msgs.flatMap((m) => m.data)).toEqual(Array.from({ length: TOTAL - 10 }, (_, i) => trade(11 + i)));
    const text = (await httpGet(g.port, '/metrics')).body;
    // Every copy (main thread and both workers) holds all of it; the window is the smallest copy's.
    expect(metricValue(text, `tickwire_history_window_ticks{topic="${TOPIC}"}`)).toBe(TOTAL);
    expect(metricValue(text, 'tickwire_history_bytes')).toBeGreaterThan(3 * TOTAL * 40);
    expect(metricValue(text, 'tickwire_resyncs_total')).toBe(0);
  });

  it('maxConnections holds over all workers together', async () => {
    // 12, not fewer: the kernel spreads connections over the workers at random, and the cap is only shown to hold
    // "together" when both workers got some (all 12 on one worker: 1 run in 2 000; with 6 it was 1 in 32).
    gw = await startTestGateway({ workers: 2, maxConnections: 12 }, new ManualSource());
    const cs = await connectAll(gw.port, 12);
    expect((await perWorker(gw.port, 2)).every((x) => x > 0)).toBe(true);
    for (let i = 0; i < 4; i++) await expect(TestClient.connect(gw.port)).rejects.toMatchObject({ status: 503 });
    cs[0]!.close();
    const open = async () => metricValue((await httpGet(gw!.port, '/metrics')).body, 'tickwire_connections');
    await waitFor(async () => (await open()) === 11, { what: 'the closed slot freed' });
    await connectAll(gw.port, 1);
    await expect(TestClient.connect(gw.port)).rejects.toMatchObject({ status: 503 });
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_upgrades_refused_total{reason="max_connections"}')).toBe(5);
  });

  it('graceful shutdown of the process: every client gets the shutdown notice and 1001, exit code 0', async () => {
    const p = await spawnGateway(['--feed-rate', '500', '--shutdown-notice-ms', '200'], { TICKWIRE_WORKERS: '2' });
    expect(p.stdout()).toContain('"workers":2');
    const cs = await connectAll(p.port, 10);
    expect((await perWorker(p.port, 2)).every((x) => x > 0)).toBe(true);
    await Promise.all(cs.map((c) => c.waitFor((m) => m.op === 'upd' && m.topic === TOPIC)));
    p.child.kill('SIGTERM');
    const codes = await Promise.all(cs.map((c) => c.waitClosed(10_000)));
    expect(codes).toEqual(cs.map(() => 1001));
    for (const c of cs) expect(c.messages.some((m) => m.op === 'shutdown')).toBe(true);
    expect(await p.exited).toBe(0);
    expect(p.stderr()).not.toMatch(/Assertion failed|open handles/);
  });
});
