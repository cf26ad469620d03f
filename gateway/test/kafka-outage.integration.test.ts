import { encode } from '@msgpack/msgpack';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { TradeTick } from '../src/protocol/ticks.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, sleep, startTestGateway } from './support/gateway.js';
import { createTopic, kafkaClient, kafkaScript, uniqueTopic } from './support/kafka.js';

/**
 * Broker stop/restart mid-stream. This file runs its own broker (port TICKWIRE_TEST_KAFKA_PORT+2,
 * default 19094), because stopping the shared one would disturb the other test files.
 */
const port = Number(process.env.TICKWIRE_TEST_KAFKA_PORT ?? 19092) + 2;
const brokers = `127.0.0.1:${port}`;
const TOPICS = ['trade.OUT1', 'trade.OUT2', 'trade.OUT3', 'trade.OUT4'];

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);

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
    await kafkaScript('clean', port);
    await kafkaScript('start', port);
    await createTopic(brokers, kafkaTopic, 2);
  }, 240_000);

  afterAll(async () => {
    await gw?.stop();
    await producer?.disconnect().catch(() => undefined);
    await kafkaScript('stop', port);
  }, 60_000);

  it('stays up and heartbeating, reports not ready, then resumes with every tick in order and nothing duplicated', async () => {
    // Idempotent, retrying producer: a batch sent during the outage is delivered once when the
    // broker is back, so Kafka holds each tick exactly once.
    producer = kafkaClient(brokers).producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 1000, initialRetryTime: 100, maxRetryTime: 500 } });
    await producer.connect();
    const produced = new Map<string, TradeTick[]>(TOPICS.map((t) => [t, []]));
    let n = 0;
    const sendRound = async () => {
      const messages = TOPICS.map((topic) => {
        const tick: TradeTick = { ts: 1_790_000_000_000 + n, px: 100 + n / 100, qty: 1, side: n % 2 ? 'b' : 's' };
        n++;
        produced.get(topic)!.push(tick);
        return { key: topic, value: Buffer.from(encode(tick)) };
      });
      await producer!.send({ topic: kafkaTopic, messages });
    };

    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic, kafkaStaleMs: 1000, kafkaRetryMaxMs: 1000, heartbeatIntervalMs: 200 });
    await waitStatus(gw.port, '/readyz', 200, 30_000);
    await sendRound(); // priming tick per topic
    const client = await TestClient.connect(gw.port);
    await client.waitUntil(() => gw!.hub.topicInfo().length === TOPICS.length, 10_000);
    client.send({ op: 'sub', id: 1, topics: TOPICS });
    await client.waitFor((m) => m.op === 'ack');

    // A steady producer in the background for the whole test.
    let producing = true;
    const loop = (async () => {
      while (producing) {
        await sendRound();
        await sleep(20);
      }
    })();

    await sleep(1000);
    const beforeOutage = n;
    await kafkaScript('stop', port);
    const notReadyAfter = await waitStatus(gw.port, '/readyz', 503, 15_000);
    const hbBefore = client.messages.filter((m) => m.op === 'hb').length;
    await sleep(1000);
    // Still alive: health, heartbeats, metrics.
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
    expect(client.messages.filter((m) => m.op === 'hb').length).toBeGreaterThanOrEqual(hbBefore + 3);
    expect(client.closeCode).toBeUndefined();
    const during = (await httpGet(gw.port, '/metrics')).body;
    expect(metric(during, 'tickwire_ready')).toBe(0);
    expect(metric(during, 'tickwire_source_outages_total')).toBeGreaterThanOrEqual(1);

    await kafkaScript('start', port);
    const readyAgainAfter = await waitStatus(gw.port, '/readyz', 200, 60_000);
    await sleep(1500); // more ticks after the recovery
    producing = false;
    await loop;
    expect(n).toBeGreaterThan(beforeOutage + TOPICS.length * 10);

    const total = (topic: string) => client.topicMessages(topic).slice(1).reduce((k, m) => k + m.data.length, 0);
    await client.waitUntil(() => TOPICS.every((t) => total(t) >= produced.get(t)!.length - 1), 30_000);
    await sleep(300);
    for (const topic of TOPICS) {
      const msgs = client.topicMessages(topic);
      expect(checkTopicStream(msgs)).toBe(produced.get(topic)!.length - 1);
      expect(msgs[0]!.data).toEqual(produced.get(topic)![0]);
      expect(msgs.slice(1).flatMap((m) => m.data)).toEqual(produced.get(topic)!.slice(1));
    }
    console.log(`outage: /readyz 503 after ${notReadyAfter} ms, 200 again ${readyAgainAfter} ms after restart; ${n} ticks, all delivered in order`);
    client.close();
  }, 180_000);
});
