import { encode } from '@msgpack/msgpack';
import type { Message, Producer } from 'kafkajs';
import { afterEach, beforeAll, afterAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { TestClient, type Msg } from './support/client.js';
import { httpGet, sleep, startTestGateway } from './support/gateway.js';
import { connectedProducer, createTopic, kafkaClient, uniqueTopic } from './support/kafka.js';

/**
 * Kafka topology changes while the gateway runs (issue 13, points 1 and 2): a topic that does not
 * exist yet, partitions added, a topic deleted and recreated. Every tick must reach a client that
 * subscribed before it, or the client must be told (`resync`) that continuity broke.
 */
const brokers = inject('kafkaBrokers');
/** The survey interval the tests run with is the default one. */
const REFRESH_MS = 2000;

let n = 0;
const tick = (): TradeTick => {
  n++;
  return { ts: 1_790_000_000_000 + n, px: 100 + n / 100, qty: 1 + (n % 7), side: n % 2 ? 'b' : 's' };
};

async function waitReady(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await httpGet(port, '/readyz')).status !== 200) {
    if (Date.now() > deadline) throw new Error('/readyz did not become 200');
    await sleep(100);
  }
}

async function admin<T>(fn: (a: ReturnType<ReturnType<typeof kafkaClient>['admin']>) => Promise<T>): Promise<T> {
  const a = kafkaClient(brokers).admin();
  await a.connect();
  try {
    return await fn(a);
  } finally {
    await a.disconnect();
  }
}

/**
 * Creates a topic just deleted. Right after a delete the broker's metadata may briefly not know
 * the new topic, which kafkajs's own wait for leaders reports as an error: wait for its offsets.
 */
async function recreateTopic(topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  await admin(async (a) => {
    for (;;) {
      try {
        await a.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: false });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
    for (;;) {
      try {
        if ((await a.fetchTopicOffsets(topic)).length === partitions) return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      await sleep(100);
    }
  });
}

/** Subscribes from seq 0 of the gateway's epoch ("nothing seen yet"): every tick comes as upd from seq 1. */
async function subscribeFromStart(gw: Gateway, topics: string[]): Promise<TestClient> {
  const c = await TestClient.connect(gw.port);
  c.send({ op: 'sub', id: 1, topics, since: Object.fromEntries(topics.map((t) => [t, { epoch: gw.epoch, seq: 0 }])) });
  await c.waitFor((m) => m.op === 'ack');
  return c;
}

const ticksOf = (msgs: Msg[]) => msgs.filter((m) => m.op === 'upd').reduce((k, m) => k + (m.data as unknown[]).length, 0);

/** upd frames with consecutive seq from `firstSeq`; returns their ticks. */
function consecutive(msgs: Msg[], firstSeq: number): unknown[] {
  let next = firstSeq;
  const out: unknown[] = [];
  for (const m of msgs) {
    expect(m.op, `${m.topic}: ${JSON.stringify(m).slice(0, 200)}`).toBe('upd');
    expect(m.seq, `${m.topic} seq`).toBe(next);
    next += (m.data as unknown[]).length;
    out.push(...(m.data as unknown[]));
  }
  return out;
}

describe('Kafka topology changes while running', () => {
  let gw: Gateway | undefined;
  let producer: Producer;
  let client: TestClient | undefined;

  beforeAll(async () => {
    producer = await connectedProducer(brokers);
  });
  afterAll(async () => {
    await producer?.disconnect();
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await gw?.stop();
    gw = undefined;
  });

  it('a topic created after start: ready before it exists, then every tick of every partition arrives', async () => {
    const kafkaTopic = uniqueTopic('topo-late');
    const topics = Array.from({ length: 20 }, (_, i) => `trade.LATE${i}`);
    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic, kafkaMetadataRefreshMs: REFRESH_MS });
    // Ready means the brokers answer; the topic's absence is not an outage.
    await waitReady(gw.port);
    const c = (client = await subscribeFromStart(gw, topics));
    // A plain subscriber, there before any data: its snap is the first tick, not the newest of a flush.
    const plain = await TestClient.connect(gw.port);
    plain.send({ op: 'sub', id: 1, topics });
    await plain.waitFor((m) => m.op === 'ack');

    await createTopic(brokers, kafkaTopic, 3);
    const produced = new Map(topics.map((t) => [t, [] as TradeTick[]]));
    const msgs: Message[] = [];
    for (let r = 0; r < 100; r++) {
      for (const t of topics) {
        const k = tick();
        produced.get(t)!.push(k);
        msgs.push({ key: t, value: Buffer.from(encode(k)) });
      }
    }
    for (let i = 0; i < msgs.length; i += 500) await producer.send({ topic: kafkaTopic, messages: msgs.slice(i, i + 500) });
    const offsets = await admin((a) => a.fetchTopicOffsets(kafkaTopic));
    const partitions = new Set(offsets.filter((o) => Number(o.high) > 0).map((o) => o.partition));
    expect(partitions.size).toBe(3); // the keys spread over all three partitions

    const total = () => topics.reduce((k, t) => k + ticksOf(c.topicMessages(t)), 0);
    await c.waitUntil(() => total() >= 2000, 60_000);
    await c.waitFor((m) => m.op === 'hb', 10_000, c.messages.length); // anything extra would be here by now
    for (const t of topics) expect(consecutive(c.topicMessages(t), 1), t).toEqual(produced.get(t));
    expect(total()).toBe(2000);
    try {
      // The snap carries one tick, each upd its data.
      const plainTicks = () => topics.reduce((k, t) => k + Math.min(1, plain.topicMessages(t).length) + ticksOf(plain.topicMessages(t)), 0);
      await plain.waitUntil(() => plainTicks() >= 2000, 60_000);
      for (const t of topics) {
        const [snap, ...rest] = plain.topicMessages(t);
        expect(snap, t).toMatchObject({ op: 'snap', seq: 1, data: produced.get(t)![0] });
        expect(consecutive(rest, 2), t).toEqual(produced.get(t)!.slice(1));
      }
    } finally {
      plain.close();
    }
  }, 120_000);

  it('partitions added while running (1 → 4): their records arrive within seconds', async () => {
    const kafkaTopic = uniqueTopic('topo-grow');
    await createTopic(brokers, kafkaTopic, 1);
    const topics = ['trade.GROW0', 'trade.GROW1', 'trade.GROW2', 'trade.GROW3'];
    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic, kafkaMetadataRefreshMs: REFRESH_MS });
    await waitReady(gw.port);
    const c = (client = await subscribeFromStart(gw, topics));
    const produced = new Map(topics.map((t) => [t, [] as TradeTick[]]));
    const send = async (partition: number, t: string, count: number) => {
      const ms: Message[] = [];
      for (let i = 0; i < count; i++) {
        const k = tick();
        produced.get(t)!.push(k);
        ms.push({ key: t, value: Buffer.from(encode(k)), partition });
      }
      await producer.send({ topic: kafkaTopic, messages: ms });
    };
    await send(0, 'trade.GROW0', 10);
    await c.waitUntil(() => ticksOf(c.topicMessages('trade.GROW0')) === 10, 15_000);

    await admin((a) => a.createPartitions({ topicPartitions: [{ topic: kafkaTopic, count: 4 }] }));
    const t0 = Date.now();
    // The producer learns of the new partitions from fresh metadata.
    const p2 = kafkaClient(brokers).producer({ allowAutoTopicCreation: false });
    await p2.connect();
    try {
      for (let p = 1; p < 4; p++) {
        const t = topics[p]!;
        const ms: Message[] = [];
        for (let i = 0; i < 50; i++) {
          const k = tick();
          produced.get(t)!.push(k);
          ms.push({ key: t, value: Buffer.from(encode(k)), partition: p });
        }
        await p2.send({ topic: kafkaTopic, messages: ms });
      }
    } finally {
      await p2.disconnect();
    }
    await send(0, 'trade.GROW0', 10);
    const done = () => topics.every((t) => ticksOf(c.topicMessages(t)) === produced.get(t)!.length);
    // Generous for a busy machine; the old 5-minute metadata age would not make it.
    await c.waitUntil(done, 45_000);
    const took = Date.now() - t0;
    for (const t of topics) expect(consecutive(c.topicMessages(t), 1), t).toEqual(produced.get(t));
    console.log(`partitions 1 -> 4: records of the new partitions arrived ${took} ms after the increase (survey every ${REFRESH_MS} ms)`);
  }, 120_000);

  for (const workers of [1, 2]) {
    it(`a topic deleted and recreated: resync for its topics, then every new record (workers=${workers})`, async () => {
      const kafkaTopic = uniqueTopic('topo-recreate');
      await createTopic(brokers, kafkaTopic, 2);
      const topics = ['trade.RC0', 'trade.RC1', 'trade.RC2', 'trade.RC3', 'trade.RC4', 'trade.RC5'];
      const cfg = { source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic, kafkaMetadataRefreshMs: REFRESH_MS, workers } as const;
      gw = await startTestGateway(cfg);
      await waitReady(gw.port);
      const c = (client = await subscribeFromStart(gw, topics));
      const produce = async (count: number) => {
        const out = new Map(topics.map((t) => [t, [] as TradeTick[]]));
        const ms: Message[] = [];
        for (let i = 0; i < count; i++) {
          for (const t of topics) {
            const k = tick();
            out.get(t)!.push(k);
            ms.push({ key: t, value: Buffer.from(encode(k)) });
          }
        }
        await producer.send({ topic: kafkaTopic, messages: ms });
        return out;
      };
      const before = await produce(100);
      await c.waitUntil(() => topics.every((t) => ticksOf(c.topicMessages(t)) === 100), 30_000);

      await admin(async (a) => {
        await a.deleteTopics({ topics: [kafkaTopic] });
        const deadline = Date.now() + 30_000;
        while ((await a.listTopics()).includes(kafkaTopic)) {
          if (Date.now() > deadline) throw new Error('topic not deleted');
          await sleep(100);
        }
      });
      await recreateTopic(kafkaTopic, 2);
      // Fewer records than before: the recreated partitions' offsets stay below the old positions.
      const p2 = await connectedProducer(brokers);
      let after: Map<string, TradeTick[]>;
      try {
        const ms: Message[] = [];
        after = new Map(topics.map((t) => [t, [] as TradeTick[]]));
        for (let i = 0; i < 30; i++) {
          for (const t of topics) {
            const k = tick();
            after.get(t)!.push(k);
            ms.push({ key: t, value: Buffer.from(encode(k)) });
          }
        }
        await p2.send({ topic: kafkaTopic, messages: ms });
      } finally {
        await p2.disconnect();
      }

      const resyncAt = (t: string) => c.topicMessages(t).findIndex((m) => m.op === 'snap' && m.resync === true);
      const afterResync = (t: string) => c.topicMessages(t).slice(resyncAt(t) + 1);
      await c.waitUntil(() => topics.every((t) => resyncAt(t) >= 0 && ticksOf(afterResync(t)) >= 30), 60_000);
      await c.waitFor((m) => m.op === 'hb', 10_000, c.messages.length);
      for (const t of topics) {
        const msgs = c.topicMessages(t);
        const i = resyncAt(t);
        // Before: every old tick, consecutive. Then the flagged seam, one seq skipped. Then every new tick.
        expect(consecutive(msgs.slice(0, i), 1), t).toEqual(before.get(t));
        const snap = msgs[i]!;
        expect(snap.seq, `${t} resync seq`).toBe(101);
        expect(snap.data).toEqual(before.get(t)!.at(-1));
        expect(consecutive(msgs.slice(i + 1), snap.seq + 1), t).toEqual(after!.get(t));
      }
    }, 120_000);
  }
});
