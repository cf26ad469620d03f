import { encode } from '@msgpack/msgpack';
import { SignJWT } from 'jose';
import type { Message, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import type { QuoteTick, Tick, TradeTick } from '../../protocol/src/ticks.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway } from './support/gateway.js';
import { connectedProducer, createTopic, uniqueTopic } from './support/kafka.js';
import { waitFor } from './support/wait.js';

const brokers = inject('kafkaBrokers');
const SYMBOLS = Array.from({ length: 30 }, (_, i) => `SYM${i}`);
const TOPICS = SYMBOLS.flatMap((s) => [`trade.${s}`, `quote.${s}`]); // 60 topics

function tickFor(topic: string, i: number): Tick {
  const ts = 1_790_000_000_000 + i;
  return topic.startsWith('trade.')
    ? ({ ts, px: 100 + i / 100, qty: 1 + (i % 7), side: i % 2 ? 'b' : 's' } satisfies TradeTick)
    : ({ ts, bid: 50 + i / 100, bsz: 2, ask: 50.01 + i / 100, asz: 3 } satisfies QuoteTick);
}

/** Poison records of every kind; the value says which counter it must land in. */
function poison(): { msg: Message; reason: string }[] {
  const good = encode({ ts: 1, px: 1, qty: 1, side: 'b' });
  const out: { msg: Message; reason: string }[] = [];
  for (let i = 0; i < 20; i++) {
    out.push({ msg: { key: 'not a topic', value: Buffer.from(good) }, reason: 'bad_key' });
    out.push({ msg: { key: null, value: Buffer.from(good) }, reason: 'bad_key' });
    out.push({ msg: { key: 'trade.SYM1', value: Buffer.from([0xc1, 0xc1, 0xff]) }, reason: 'undecodable' });
    out.push({ msg: { key: 'quote.SYM2', value: Buffer.from('{"bid": 1,') }, reason: 'undecodable' });
    out.push({ msg: { key: 'trade.SYM3', value: Buffer.from(encode({ ts: 1, px: 'x', qty: 1, side: 'b' })) }, reason: 'bad_fields' });
    out.push({ msg: { key: 'quote.SYM4', value: Buffer.from(encode({ ts: 1, bid: 1 })) }, reason: 'bad_fields' });
    out.push({ msg: { key: 'quote.SYM5', value: Buffer.from(encode({ ts: 1, bid: NaN, bsz: 1, ask: 2, asz: 1 })) }, reason: 'non_finite' });
    out.push({
      msg: { key: 'trade.SYM6', value: Buffer.from(encode({ ts: 1, px: 1, qty: 1, side: 'b', pad: 'x'.repeat(70_000) })) },
      reason: 'oversize',
    });
  }
  return out;
}

async function waitReady(port: number, want = 200, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await httpGet(port, '/readyz')).status !== want) {
    if (Date.now() > deadline) throw new Error(`/readyz did not become ${want}`);
    await sleep(100);
  }
}

describe('Kafka ingest against a real broker', () => {
  let producer: Producer;
  let gw: Gateway | undefined;
  const kafkaTopic = uniqueTopic('ticks-e2e');
  const produced = new Map<string, Tick[]>(TOPICS.map((t) => [t, []]));
  let seqNo = 0;

  const produceGood = async (perTopic: number, poisonEvery = 0) => {
    const poisonRecords = poisonEvery ? poison() : [];
    const msgs: Message[] = [];
    for (let r = 0; r < perTopic; r++) {
      for (const topic of TOPICS) {
        const tick = tickFor(topic, seqNo++);
        produced.get(topic)!.push(tick);
        // Mix encodings: most msgpack, some JSON (detected by content).
        msgs.push({ key: topic, value: seqNo % 5 === 0 ? JSON.stringify(tick) : Buffer.from(encode(tick)) });
        if (poisonEvery && seqNo % poisonEvery === 0 && poisonRecords.length) msgs.push(poisonRecords.pop()!.msg);
      }
    }
    for (const p of poisonRecords) msgs.push(p.msg);
    for (let i = 0; i < msgs.length; i += 1000) await producer.send({ topic: kafkaTopic, messages: msgs.slice(i, i + 1000) });
  };

  beforeAll(async () => {
    await createTopic(brokers, kafkaTopic, 4);
    producer = await connectedProducer(brokers);
  });
  afterAll(async () => {
    await gw?.stop();
    await producer?.disconnect();
  });

  it('delivers every good tick exactly once, in order, with consecutive seq; counts and skips poison', async () => {
    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic, flushIntervalMs: 2 });
    await waitReady(gw.port);
    // One priming tick per topic, so that subscribers get a snap and then every later tick as upd.
    await produceGood(1);
    // Only the ingested topics count: the gateway adds the candles and stats it computes from the trades.
    const primed = async () =>
      (JSON.parse((await httpGet(gw!.port, '/v1/topics')).body).topics as { topic: string }[]).filter((x) => TOPICS.includes(x.topic))
        .length >= TOPICS.length;
    await waitFor(primed, { what: 'the priming ticks on /v1/topics', timeoutMs: 15_000, intervalMs: 50 });
    const a = await TestClient.connect(gw.port);
    const b = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
    a.send({ op: 'sub', id: 1, topics: TOPICS });
    b.send({ op: 'sub', id: 1, topics: TOPICS.slice(0, 10) });
    await a.waitFor((m) => m.op === 'ack');
    await b.waitFor((m) => m.op === 'ack');

    // 170 rounds x 60 topics = 10 200 good ticks, with 160 poison records mixed in.
    await produceGood(170, 50);
    const expectedTicks = 170 * TOPICS.length;
    const received = (c: TestClient, topics: string[]) =>
      topics.reduce(
        (n, t) =>
          n +
          c
            .topicMessages(t)
            .filter((m) => m.op === 'upd')
            .reduce((k, m) => k + m.data.length, 0),
        0,
      );
    await a.waitUntil(() => received(a, TOPICS) >= expectedTicks, 30_000);
    await b.waitUntil(() => received(b, TOPICS.slice(0, 10)) >= 170 * 10, 30_000);
    // A duplicate the gateway had already sent comes before the pong.
    await Promise.all([a.roundTrip(), b.roundTrip()]);

    for (const [client, topics] of [
      [a, TOPICS],
      [b, TOPICS.slice(0, 10)],
    ] as const) {
      for (const topic of topics) {
        const msgs = client.topicMessages(topic);
        expect(checkTopicStream(msgs)).toBe(170);
        const ticks = msgs.slice(1).flatMap((m) => m.data);
        expect(ticks).toEqual(produced.get(topic)!.slice(1)); // exactly once, in order, exact values
        expect(msgs[0]!.data).toEqual(produced.get(topic)![0]);
      }
    }

    const m = (await httpGet(gw.port, '/metrics')).body;
    const expected = poison().reduce<Record<string, number>>((acc, p) => ((acc[p.reason] = (acc[p.reason] ?? 0) + 1), acc), {});
    for (const [reason, n] of Object.entries(expected))
      expect(metricValue(m, `tickwire_ingest_rejected_total{reason="${reason}"}`), reason).toBe(n);
    expect(metricValue(m, 'tickwire_ingest_rejected_total{reason="bad_key"}')).toBe(40);
    a.close();
    b.close();
  });

  it('after a gateway restart, warm start gives a new subscriber its snapshot before any live tick', async () => {
    await gw!.stop();
    gw = await startTestGateway({ source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic });
    await waitReady(gw.port);
    const c = await TestClient.connect(gw.port);
    c.send({ op: 'sub', id: 1, topics: ['trade.SYM7', 'quote.SYM29'] });
    const snaps = await Promise.all(['trade.SYM7', 'quote.SYM29'].map((t) => c.waitFor((x) => x.op === 'snap' && x.topic === t, 15_000)));
    expect(snaps[0]!.data).toEqual(produced.get('trade.SYM7')!.at(-1));
    expect(snaps[1]!.data).toEqual(produced.get('quote.SYM29')!.at(-1));
    expect(snaps[0]!.epoch).toBe(gw.epoch);
    c.close();
  });

  it('routes records keyed user.<sub>.<stream> to that user only, and sys.announce to everyone', async () => {
    await gw!.stop();
    gw = await startTestGateway({
      source: 'kafka',
      kafkaBrokers: brokers,
      kafkaTopics: kafkaTopic,
      authMode: 'jwt',
      jwtSecret: 'test-secret-that-is-at-least-32-bytes-long!',
    });
    await waitReady(gw.port);
    const token = (sub: string) =>
      new SignJWT({ sub, topics: ['*'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long!'));
    const alice = await TestClient.connect(gw.port, { headers: { authorization: `Bearer ${await token('alice')}` } });
    const bob = await TestClient.connect(gw.port, { headers: { authorization: `Bearer ${await token('bob')}` } });
    alice.send({ op: 'sub', id: 1, topics: ['user.alice.fills'] });
    bob.send({ op: 'sub', id: 1, topics: ['user.bob.fills'] });
    await alice.waitFor((m) => m.op === 'ack');
    await bob.waitFor((m) => m.op === 'ack');
    await producer.send({
      topic: kafkaTopic,
      messages: [
        { key: 'user.alice.fills', value: JSON.stringify({ order: 'a-1', qty: 2, px: 101.5 }) },
        { key: 'user.bob.fills', value: Buffer.from(encode({ order: 'b-1', qty: 1 })) },
        { key: 'sys.announce', value: JSON.stringify({ msg: 'hello from kafka' }) },
      ],
    });
    expect((await alice.waitFor((m) => m.topic === 'user.alice.fills')).data).toEqual({ order: 'a-1', qty: 2, px: 101.5 });
    expect((await bob.waitFor((m) => m.topic === 'user.bob.fills')).data).toEqual({ order: 'b-1', qty: 1 });
    for (const c of [alice, bob]) expect((await c.waitFor((m) => m.topic === 'sys.announce')).data).toEqual([{ msg: 'hello from kafka' }]);
    await Promise.all([alice.roundTrip(), bob.roundTrip()]); // a misrouted fill would come before the pong
    expect(alice.messages.some((m) => m.topic === 'user.bob.fills')).toBe(false);
    expect(bob.messages.some((m) => m.topic === 'user.alice.fills')).toBe(false);
    alice.close();
    bob.close();
  });
});
