import { decode, encode } from '@msgpack/msgpack';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway } from './support/gateway.js';
import { createTopic, kafkaClient, kafkaScript, startTestBroker, uniqueTopic } from './support/kafka.js';
import { waitFor } from './support/wait.js';

/**
 * Broker stop/restart mid-stream. This file runs its own broker on a free port, because stopping
 * the shared one would disturb the other test files.
 */
let port = 0;
let brokers = '';
const TOPICS = ['trade.OUT1', 'trade.OUT2', 'trade.OUT3', 'trade.OUT4'];

async function waitStatus(gwPort: number, path: string, want: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while ((await httpGet(gwPort, path)).status !== want) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${path} did not become ${want} in ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - t0;
}

describe('Kafka broker outage (R1)', () => {
  let gw: Gateway | undefined;
  let producer: Producer | undefined;
  const kafkaTopic = uniqueTopic('ticks-outage');

  beforeAll(async () => {
    port = await startTestBroker();
    brokers = `127.0.0.1:${port}`;
    await createTopic(brokers, kafkaTopic, 2);
  }, 240_000);

  afterAll(async () => {
    await gw?.stop();
    await producer?.disconnect().catch(() => undefined);
    if (port) await kafkaScript('clean', port);
  }, 60_000);

  it('stays up and heartbeating, reports not ready, then resumes with every tick in order and nothing duplicated', async () => {
    // An idempotent producer that retries each round until the broker takes it. What counts as
    // produced is what Kafka holds, read back at the end by an independent consumer.
    producer = kafkaClient(brokers).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 500 },
    });
    await producer.connect();
    let n = 0;
    const sendRound = async () => {
      const messages = TOPICS.map((topic) => {
        const tick: TradeTick = { ts: 1_790_000_000_000 + n, px: 100 + n / 100, qty: 1, side: n % 2 ? 'b' : 's' };
        n++;
        return { key: topic, value: Buffer.from(encode(tick)) };
      });
      for (;;) {
        try {
          return await producer!.send({ topic: kafkaTopic, messages });
        } catch {
          await sleep(200); // broker down: try the same round again
        }
      }
    };

    gw = await startTestGateway({
      source: 'kafka',
      kafkaBrokers: brokers,
      kafkaTopics: kafkaTopic,
      kafkaStaleMs: 1000,
      kafkaRetryMaxMs: 1000,
      heartbeatIntervalMs: 200,
    });
    await waitStatus(gw.port, '/readyz', 200, 30_000);
    await sendRound(); // priming tick per topic
    const client = await TestClient.connect(gw.port);
    // Only the trade topics: the gateway adds the candles and stats it computes from them.
    await client.waitUntil(() => gw!.hub.topicInfo().filter((x) => TOPICS.includes(x.topic)).length === TOPICS.length, 20_000);
    client.send({ op: 'sub', id: 1, topics: TOPICS });
    await client.waitFor((m) => m.op === 'ack');

    // A steady producer in the background for the whole test.
    let producing = true;
    const loop = (async () => {
      while (producing) {
        await sendRound();
        await sleep(20); // the production rate (a pace, not a wait for anything)
      }
    })();

    await waitFor(() => n >= 40 * TOPICS.length, { what: '40 rounds produced before the outage' });
    const beforeOutage = n;
    await kafkaScript('stop', port);
    const notReadyAfter = await waitStatus(gw.port, '/readyz', 503, 15_000);
    const hbBefore = client.messages.filter((m) => m.op === 'hb').length;
    // Longer than kafkajs's own retry budget (8 retries, 1 s cap): its consumer crashes, and its
    // restart fails while the broker is still down, so recovery rests on the source's supervisor.
    await sleep(12_000);
    // Still alive: health, heartbeats, metrics.
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
    expect(client.messages.filter((m) => m.op === 'hb').length).toBeGreaterThanOrEqual(hbBefore + 30);
    expect(client.closeCode).toBeUndefined();
    const during = (await httpGet(gw.port, '/metrics')).body;
    expect(metricValue(during, 'tickwire_ready')).toBe(0);
    expect(metricValue(during, 'tickwire_source_outages_total')).toBeGreaterThanOrEqual(1);

    await kafkaScript('start', port);
    const readyAgainAfter = await waitStatus(gw.port, '/readyz', 200, 60_000);
    const recoveredAt = n;
    await waitFor(() => n >= recoveredAt + 20 * TOPICS.length, { what: '20 more rounds after the recovery' });
    producing = false;
    await loop;
    expect(n).toBeGreaterThan(beforeOutage + TOPICS.length * 10);
    expect(n).toBeGreaterThan(0);

    const produced = await readBack(brokers, kafkaTopic);
    expect([...produced.keys()].sort()).toEqual([...TOPICS].sort());
    const total = (topic: string) =>
      client
        .topicMessages(topic)
        .slice(1)
        .reduce((k, m) => k + m.data.length, 0);
    await client.waitUntil(() => TOPICS.every((t) => total(t) >= produced.get(t)!.length - 1), 30_000);
    await client.roundTrip(); // a duplicate the gateway had already sent comes before the pong
    for (const topic of TOPICS) {
      const msgs = client.topicMessages(topic);
      expect(checkTopicStream(msgs)).toBe(produced.get(topic)!.length - 1);
      expect(msgs[0]!.data).toEqual(produced.get(topic)![0]);
      expect(msgs.slice(1).flatMap((m) => m.data)).toEqual(produced.get(topic)!.slice(1));
    }
    console.log(
      `outage: /readyz 503 after ${notReadyAfter} ms, 200 again ${readyAgainAfter} ms after restart; ${n} ticks, all delivered in order`,
    );
    client.close();
  }, 180_000);
});

/** Every record of the topic as Kafka holds it, decoded, grouped by key in partition order. */
async function readBack(brokers: string, topic: string): Promise<Map<string, TradeTick[]>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = offsets.reduce((k, o) => k + Number(o.high) - Number(o.low), 0);
  const consumer = kafkaClient(brokers).consumer({ groupId: uniqueTopic('readback') });
  const out = new Map<string, TradeTick[]>();
  let got = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = m.key!.toString();
          if (!out.has(key)) out.set(key, []);
          out.get(key)!.push(decode(m.value!) as TradeTick);
          got++;
        }
        if (got >= want) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}
