import type { Tick } from '../../protocol/src/ticks.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { explicitPartitioner, KafkaSink } from '../src/kafka-sink.js';
import { MarketSimulator } from '../src/simulator.js';
import { checkPerKeyOrder, decodeAll, kafkaClient, readTopic, uniqueTopic } from './support.js';

// The fake-producer tests of KafkaSink are in kafka-sink.test.ts (unit); these need the broker.

const trade = (i: number): Tick => ({ ts: 1_800_000_000_000 + i, px: 100 + i / 100, qty: 1, side: 'b' });

describe('KafkaSink against a real broker', () => {
  const brokers = inject('kafkaBrokers');
  const topic = uniqueTopic('feed-sink');
  const jsonTopic = uniqueTopic('feed-sink-json');

  beforeAll(async () => {
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 4 },
        { topic: jsonTopic, numPartitions: 2 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, jsonTopic] }).catch(() => {});
    await admin.disconnect();
  });

  async function sinkFor(
    t: string,
    partitions: number,
    format: 'msgpack' | 'json',
    opts: { maxBatch?: number; maxInFlight?: number } = {},
  ) {
    const producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: false, createPartitioner: explicitPartitioner });
    await producer.connect();
    return new KafkaSink({ producer, topic: t, partitions, format, ...opts });
  }

  it('delivers every tick, decodable by the gateway, one partition per key, in order', async () => {
    const sink = await sinkFor(topic, 4, 'msgpack', { maxBatch: 250, maxInFlight: 4 });
    const sim = new MarketSimulator({ seed: 3 });
    const sent: { topic: string; tick: Tick }[] = [];
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 10_000; i++) {
      const e = sim.next(t0 + Math.floor(i / 10));
      sent.push(e);
      if (!sink.push(e.topic, e.tick)) await sink.ready();
    }
    await sink.close();
    expect(sink.stats()).toMatchObject({ pushed: 10_000, sent: 10_000, acked: 10_000, failed: 0, inFlight: 0, pending: 0 });
    expect(sink.stats().batches).toBeGreaterThanOrEqual(40);

    const decoded = decodeAll(await readTopic(brokers, topic));
    expect(decoded).toHaveLength(10_000);
    const counts = checkPerKeyOrder(decoded);
    expect(new Set(decoded.map((d) => d.partition)).size).toBeGreaterThan(1);
    // Exactly the ticks sent, in order within each topic.
    const want = new Map<string, Tick[]>();
    for (const e of sent) want.set(e.topic, [...(want.get(e.topic) ?? []), e.tick]);
    const got = new Map<string, Tick[]>();
    for (const d of decoded) got.set(d.topic, [...(got.get(d.topic) ?? []), d.tick]);
    expect(got).toEqual(want);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
    // Standard msgpack maps (fixmap 0x8X or map16 0xde), not JSON.
    expect(decoded.every((d) => d.value[0] === 0xde || (d.value[0]! & 0xf0) === 0x80)).toBe(true);
  });

  it('writes JSON values with --format json', async () => {
    const sink = await sinkFor(jsonTopic, 2, 'json');
    for (let i = 0; i < 50; i++) sink.push(i % 2 ? 'trade.A' : 'trade.B', trade(i));
    await sink.close();
    const decoded = decodeAll(await readTopic(brokers, jsonTopic));
    expect(decoded).toHaveLength(50);
    expect(decoded.every((d) => d.value.toString('utf8').startsWith('{"ts":'))).toBe(true);
    checkPerKeyOrder(decoded);
  });

  it('counts sends to a topic that does not exist as failed', async () => {
    const producer = kafkaClient(brokers).producer({
      allowAutoTopicCreation: false,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
    });
    await producer.connect();
    const errors: string[] = [];
    const sink = new KafkaSink({ producer, topic: uniqueTopic('feed-missing'), partitions: 1, onError: (e) => errors.push(e.message) });
    for (let i = 0; i < 10; i++) sink.push('trade.X', trade(i));
    await sink.close();
    expect(sink.stats()).toMatchObject({ sent: 10, acked: 0, failed: 10, errors: 1 });
    expect(errors).toHaveLength(1);
  });
});
