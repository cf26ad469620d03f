import { encode } from '@msgpack/msgpack';
import { SignJWT } from 'jose';
import type { Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkTopicStream, TestClient } from './support/client.js';
import { waitReady } from './support/cluster.js';
import { httpGet, metricValue, sleep } from './support/gateway.js';
import { connectedProducer, createTopic, uniqueTopic } from './support/kafka.js';
import { spawnGateway, stopAll, type GatewayProcess } from './support/process.js';

/**
 * Issue 13, points 4, 5 and 12, against real processes (a crash shows as an exit): a 4 KB JSON
 * value nested 2 000 deep crashed the gateway's send-path encoder as soon as a subscriber
 * existed, again after every restart (the warm start reads it back), and through POST
 * /v1/publish (with 2 workers the process aborted); a body `null` killed the process or a worker.
 */
const brokers = inject('kafkaBrokers');
const SECRET = 'poison-test-secret-at-least-32-bytes!!';
const ADMIN = 'admin-token-0123456789abcdef';

/** `{"a": [[[ ... ]]]}` nested 2 000 deep: about 4 KB of JSON. */
const DEEP = `{"a":${'['.repeat(1999)}1${']'.repeat(1999)}}`;

const bobToken = () =>
  new SignJWT({ sub: 'bob', topics: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(SECRET));

async function metrics(port: number): Promise<string> {
  const r = await httpGet(port, '/metrics');
  expect(r.status).toBe(200);
  return r.body;
}

async function waitMetric(port: number, name: string, min: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = metricValue(await metrics(port), name);
    if (v >= min) return;
    if (Date.now() > deadline) throw new Error(`${name} stayed at ${v}, wanted ${min}`);
    await sleep(100);
  }
}

function alive(gw: GatewayProcess): void {
  expect(gw.child.exitCode, `gateway exited:\n${gw.stderr()}\n${gw.stdout().slice(-2000)}`).toBeNull();
  expect(gw.child.signalCode).toBeNull();
}

describe('poison payloads from Kafka (one worker)', () => {
  const kafkaTopic = uniqueTopic('poison');
  let producer: Producer;
  let gw: GatewayProcess | undefined;
  const clients: TestClient[] = [];
  const env = () => ({
    TICKWIRE_SOURCE: 'kafka',
    TICKWIRE_KAFKA_BROKERS: brokers,
    TICKWIRE_KAFKA_TOPICS: kafkaTopic,
    TICKWIRE_AUTH_MODE: 'jwt',
    TICKWIRE_JWT_SECRET: SECRET,
  });
  const connectBob = async (port: number) => {
    const c = await TestClient.connect(port, { headers: { authorization: `Bearer ${await bobToken()}` } });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    await createTopic(brokers, kafkaTopic, 1);
    producer = await connectedProducer(brokers);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await producer?.disconnect();
    stopAll();
  });

  it('a 2 000-deep record keyed sys.announce or user.bob.fills is counted as too_deep and skipped; later records arrive', async () => {
    gw = await spawnGateway([], env());
    await waitReady(gw.port);
    const bob = await connectBob(gw.port);
    bob.send({ op: 'sub', id: 1, topics: ['user.bob.fills'] });
    await bob.waitFor((m) => m.op === 'ack' && m.id === 1);
    const ts = Date.now();
    await producer.send({
      topic: kafkaTopic,
      messages: [
        { key: 'user.bob.fills', value: JSON.stringify({ id: 1 }) },
        { key: 'sys.announce', value: DEEP },
        { key: 'user.bob.fills', value: DEEP },
        { key: 'trade.BTC-USD', value: Buffer.from(encode({ ts: 1e300, px: 1, qty: 1, side: 'b' })) },
        { key: 'trade.BTC-USD', value: Buffer.from(encode({ ts, px: -5, qty: 1, side: 'b' })) },
        { key: 'sys.announce', value: JSON.stringify({ msg: 'after the poison' }) },
        { key: 'user.bob.fills', value: JSON.stringify({ id: 2 }) },
        // The last record of this key is poison: what a restart's warm start leaves as its snapshot.
        { key: 'user.bob.alerts', value: DEEP },
      ],
    });
    await waitMetric(gw.port, 'tickwire_ingest_rejected_total{reason="too_deep"}', 3);
    // A first snap (of id 1, or of id 2 when both came in one flush), then consecutive updates.
    const fillsData = () => bob.topicMessages('user.bob.fills').flatMap((m) => (m.op === 'snap' ? [m.data] : m.data));
    await bob.waitUntil(() => fillsData().some((d) => d.id === 2), 15_000);
    await bob.waitFor((m) => m.topic === 'sys.announce' && m.op === 'upd' && m.data[0].msg === 'after the poison', 15_000);
    expect(checkTopicStream(bob.topicMessages('user.bob.fills'))).toBeLessThanOrEqual(1);
    expect([[{ id: 1 }, { id: 2 }], [{ id: 2 }]]).toContainEqual(fillsData());
    expect(bob.topicMessages('sys.announce').flatMap((m) => m.data)).toEqual([{ msg: 'after the poison' }]);
    const text = await metrics(gw.port);
    expect(metricValue(text, 'tickwire_ingest_rejected_total{reason="out_of_range"}')).toBe(2);
    // The 3 good records of the 8, and nothing the gateway derives itself.
    expect(metricValue(text, 'tickwire_ingest_records_total')).toBe(3);
    expect(metricValue(text, 'tickwire_internal_errors_total{site="flush"}')).toBe(0);
    // The market topic never got data from the out-of-range ticks.
    const topics = (JSON.parse((await httpGet(gw.port, '/v1/topics')).body).topics as { topic: string }[]).map((t) => t.topic);
    expect(topics).toEqual(['sys.announce', 'user.bob.fills']);
    alive(gw);
    expect(bob.closeCode).toBeUndefined();
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  it('after a restart the warm start reads the poison back: counted again, no crash, snapshots of the good records', async () => {
    gw = await spawnGateway([], env());
    await waitReady(gw.port);
    await waitMetric(gw.port, 'tickwire_ingest_rejected_total{reason="too_deep"}', 3);
    const bob = await connectBob(gw.port);
    bob.send({ op: 'sub', id: 1, topics: ['user.bob.fills', 'user.bob.alerts'] });
    await bob.waitFor((m) => m.op === 'ack' && m.id === 1);
    expect(await bob.waitFor((m) => m.topic === 'user.bob.fills')).toMatchObject({ op: 'snap', data: { id: 2 } });
    // The poison's key has no data: the subscription waits for a first good record.
    await producer.send({ topic: kafkaTopic, messages: [{ key: 'user.bob.alerts', value: JSON.stringify({ level: 'info' }) }] });
    expect(await bob.waitFor((m) => m.topic === 'user.bob.alerts', 15_000)).toMatchObject({ op: 'snap', data: { level: 'info' } });
    expect(bob.topicMessages('user.bob.alerts')).toHaveLength(1);
    alive(gw);
    expect(bob.closeCode).toBeUndefined();
    gw.child.kill('SIGTERM');
    await gw.exited;
  });
});

describe('poison through POST /v1/publish (2 workers)', () => {
  let gw: GatewayProcess;
  const clients: TestClient[] = [];
  const post = (body: string) =>
    fetch(`http://127.0.0.1:${gw.port}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body });

  beforeAll(async () => {
    gw = await spawnGateway([], { TICKWIRE_WORKERS: '2', TICKWIRE_ADMIN_TOKEN: ADMIN, TICKWIRE_FEED_RATE: '50' });
    await waitReady(gw.port);
    // Enough connections that the kernel puts some on each worker.
    for (let i = 0; i < 8; i++) clients.push(await TestClient.connect(gw.port));
  });
  afterAll(() => {
    for (const c of clients) c.close();
    stopAll();
  });

  /** The gateway, both workers and every connection are still there, and an announcement reaches everyone. */
  async function allStillServed(msg: string): Promise<void> {
    const r = await post(JSON.stringify({ topic: 'sys.announce', data: { msg } }));
    expect(r.status).toBe(202);
    for (const c of clients) await c.waitFor((m) => m.topic === 'sys.announce' && m.data[0].msg === msg, 10_000);
    for (const c of clients) expect(c.closeCode).toBeUndefined();
    const text = await metrics(gw.port);
    expect(metricValue(text, 'tickwire_workers')).toBe(2);
    expect(metricValue(text, 'tickwire_worker_restarts_total')).toBe(0);
    alive(gw);
  }

  it('a 2 000-deep body is refused with 400 too_deep; no worker dies', async () => {
    const r = await post(JSON.stringify({ topic: 'sys.announce', data: JSON.parse(DEEP) }));
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'data nested deeper than 32 levels', reason: 'too_deep' });
    const messages = [
      { topic: 'sys.announce', data: { ok: 1 } },
      { topic: 'user.bob.fills', data: JSON.parse(DEEP) },
    ];
    const batch = await post(JSON.stringify({ messages }));
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ reason: 'too_deep', error: 'messages[1].data nested deeper than 32 levels' });
    await allStillServed('after the deep body');
    // The refused batch published nothing, not even its good first message.
    for (const c of clients) expect(c.topicMessages('sys.announce').flatMap((m) => m.data)).toEqual([{ msg: 'after the deep body' }]);
  });

  it('a body null (and other malformed bodies) get 400 naming the field; no worker dies', async () => {
    const cases: [string, string][] = [
      ['null', 'body must be an object'],
      ['[]', 'body must be an object'],
      ['{"messages":null}', 'messages must be an array'],
      ['{"messages":[null]}', 'messages[0] must be an object'],
      ['{"topic":"sys.announce","data":null}', 'data must be an object'],
      ['{"topic":null}', 'topic must be a string'],
    ];
    for (const [body, error] of cases) {
      const r = await post(body);
      expect(r.status, body).toBe(400);
      expect(await r.json()).toEqual({ error, reason: 'bad_body' });
    }
    await allStillServed('after the null body');
  });
});
