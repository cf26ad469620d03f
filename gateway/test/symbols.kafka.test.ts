import { encode } from '@msgpack/msgpack';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { httpGet, startTestGateway } from './support/gateway.js';
import { connectedProducer, kafkaClient, uniqueTopic } from './support/kafka.js';
import { waitFor } from './support/wait.js';

const brokers = inject('kafkaBrokers');

async function createCompactedTopic(topic: string): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

const symbolsOf = async (gw: Gateway): Promise<Record<string, any>> => {
  const body = JSON.parse((await httpGet(gw.port, '/v1/symbols')).body);
  return Object.fromEntries(body.symbols.map((s: { symbol: string }) => [s.symbol, s]));
};

describe('symbol directory from a compacted Kafka topic (symbolsTopic)', () => {
  const topic = uniqueTopic('symbols');
  let producer: Producer;
  let gw: Gateway;
  beforeAll(async () => {
    await createCompactedTopic(topic);
    producer = await connectedProducer(brokers);
    await producer.send({
      topic,
      messages: [
        { key: 'BTC-USD', value: JSON.stringify({ tickSize: 0.01, lotSize: 0.00001 }) },
        { key: 'ETH-USD', value: Buffer.from(encode({ tickSize: 0.05, lotSize: 0.001, precision: 2, quote: 'USDT' })) },
        { key: 'GONE-USD', value: JSON.stringify({ tickSize: 1, lotSize: 1 }) },
        { key: 'GONE-USD', value: null },
        { key: 'BAD-USD', value: JSON.stringify({ tickSize: -1, lotSize: 1 }) },
      ],
    });
    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: uniqueTopic('ticks-none'), symbolsTopic: topic });
  });
  afterAll(async () => {
    await gw?.stop();
    await producer?.disconnect();
  });

  it('is read from the beginning before the gateway serves: tombstones delete, bad records are skipped', async () => {
    const res = await httpGet(gw.port, '/v1/symbols');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).source).toBe('kafka');
    const by = await symbolsOf(gw);
    expect(Object.keys(by).sort()).toEqual(['BTC-USD', 'ETH-USD']);
    expect(by['BTC-USD']).toEqual({
      symbol: 'BTC-USD',
      tickSize: 0.01,
      lotSize: 0.00001,
      base: 'BTC',
      quote: 'USD',
      precision: 2,
      kinds: ['trade', 'quote', 'book', 'candle', 'stats'],
    });
    expect(by['ETH-USD']).toMatchObject({ tickSize: 0.05, quote: 'USDT' });
  });

  it('refuses unknown symbols on sub, and follows the topic live', async () => {
    const c = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
    try {
      c.send({ op: 'sub', id: 1, topics: ['trade.GONE-USD', 'trade.BTC-USD'] });
      await c.waitFor((m) => m.op === 'ack' && m.id === 1);
      expect(c.messages.find((m) => m.op === 'err')).toMatchObject({ code: 'unknown_symbol', topics: ['trade.GONE-USD'] });

      await producer.send({ topic, messages: [{ key: 'SOL-USD', value: JSON.stringify({ tickSize: 0.001, lotSize: 0.01 }) }] });
      await waitFor(async () => (await symbolsOf(gw))['SOL-USD'], { what: 'SOL-USD in /v1/symbols' });
      c.send({ op: 'sub', id: 2, topics: ['trade.SOL-USD'] });
      expect(await c.waitFor((m) => m.id === 2)).toMatchObject({ op: 'ack', topics: ['trade.SOL-USD'] });

      await producer.send({ topic, messages: [{ key: 'BTC-USD', value: null }] });
      await waitFor(async () => !(await symbolsOf(gw))['BTC-USD'], { what: 'BTC-USD deleted by its tombstone' });
      c.send({ op: 'sub', id: 3, topics: ['quote.BTC-USD'] });
      expect(await c.waitFor((m) => m.id === 3)).toMatchObject({ op: 'err', code: 'unknown_symbol', topics: ['quote.BTC-USD'] });
    } finally {
      c.close();
    }
  });
});
