import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestClient, type Msg } from './support/client.js';
import { checkContinuity, startTickFeed, tickNumber, waitReady, type TickFeed } from './support/cluster.js';
import { createTopic, uniqueTopic } from './support/kafka.js';
import { spawnGateway, stopAll } from './support/process.js';

/**
 * Resume across instances: two real gateway processes consume the same Kafka topic (each with
 * its own consumer group and epoch); a client that was on A and resumes on B with A's `since`
 * continues exactly after its last tick, told its new epoch/seq by a snap of that same tick.
 */
const brokers = inject('kafkaBrokers');
const TOPICS = ['trade.AAA', 'quote.AAA', 'trade.BBB', 'quote.BBB', 'trade.CCC'];

let feed: TickFeed | undefined;
afterAll(async () => {
  stopAll();
  await feed?.stop();
});

const perTopic = (c: TestClient, topic: string): Msg[] => c.messages.filter((m) => m.topic === topic);
const ticksOn = (c: TestClient, topic: string) => perTopic(c, topic).reduce((n, m) => n + (m.op === 'upd' ? m.data.length : 0), 0);

describe('resume across instances (two gateways, one Kafka)', () => {
  it('a client killed off instance A resumes on instance B, no gap or duplicate; a position-less since gets a flagged resync', async () => {
    const kafkaTopic = uniqueTopic('ticks-across');
    await createTopic(brokers, kafkaTopic, 3);
    feed = await startTickFeed(brokers, kafkaTopic, TOPICS, 5);
    const env = {
      TICKWIRE_SOURCE: 'kafka',
      TICKWIRE_KAFKA_BROKERS: brokers,
      TICKWIRE_KAFKA_TOPICS: kafkaTopic,
      TICKWIRE_FLUSH_INTERVAL_MS: '2',
    };
    const [a, b] = await Promise.all([spawnGateway([], env), spawnGateway([], env)]);
    expect(a.epoch).not.toBe(b.epoch);
    await Promise.all([waitReady(a.port), waitReady(b.port)]);

    const ca = await TestClient.connect(a.port);
    ca.send({ op: 'sub', id: 1, topics: TOPICS });
    await ca.waitUntil(() => TOPICS.every((t) => ticksOn(ca, t) >= 20), 20_000);
    a.child.kill('SIGKILL');
    await ca.waitClosed();
    await a.exited;

    // The client's resume point per topic: epoch and seq of its last tick, with the upstream
    // position the gateway gave for it.
    const since: Record<string, { epoch: string; seq: number; src: string; off: number }> = {};
    const lastTick: Record<string, number> = {};
    for (const t of TOPICS) {
      const msgs = perTopic(ca, t);
      const snap = msgs[0] as Msg;
      expect(snap).toMatchObject({ op: 'snap', epoch: a.epoch, src: expect.stringMatching(new RegExp(`/${kafkaTopic}/\\d$`)) });
      const last = msgs.at(-1) as Msg;
      since[t] = { epoch: a.epoch, seq: last.seq + last.data.length - 1, src: snap.src, off: last.off };
      lastTick[t] = tickNumber(last.data.at(-1));
      expect(checkContinuity(msgs)).toMatchObject({ resyncs: 0, moves: 0 });
    }

    const cb = await TestClient.connect(b.port);
    cb.send({ op: 'sub', id: 1, topics: TOPICS, since });
    await cb.waitUntil(() => TOPICS.every((t) => ticksOn(cb, t) >= 20), 20_000);
    for (const t of TOPICS) {
      const [first] = perTopic(cb, t);
      // The continuation: the client's own last tick, renumbered in B's epoch, not flagged.
      expect(first).toMatchObject({ op: 'snap', topic: t, epoch: b.epoch, src: since[t]!.src, off: since[t]!.off });
      expect(first!.resync).toBeUndefined();
      expect(tickNumber(first!.data)).toBe(lastTick[t]);
      // Across both instances: every tick number exactly once, in order.
      const report = checkContinuity([...perTopic(ca, t), ...perTopic(cb, t)]);
      expect(report.moves).toBe(1);
      expect(report.resyncs).toBe(0);
    }

    // A client that kept no position (an older SDK) cannot be continued: the snap says so.
    const legacy = await TestClient.connect(b.port);
    legacy.send({ op: 'sub', id: 1, topics: ['trade.AAA'], since: { 'trade.AAA': { epoch: a.epoch, seq: since['trade.AAA']!.seq } } });
    const snap = await legacy.waitFor((m) => m.op === 'snap');
    expect(snap).toMatchObject({ epoch: b.epoch, resync: true });
    for (const c of [cb, legacy]) c.close();
  }, 90_000);
});
