#!/usr/bin/env node
// End-to-end smoke test of kafkajs against the local broker (scripts/kafka.sh start).
//
//   node scripts/kafka-smoke.mjs            # broker at 127.0.0.1:${KAFKA_PORT:-9092}
//   SMOKE_MESSAGES=50000 node scripts/kafka-smoke.mjs
//
// Covers: admin createTopics / fetchTopicMetadata / fetchTopicOffsets / listTopics /
// describeCluster / listGroups / describeGroups / fetchOffsets / deleteGroups /
// describeConfigs / deleteTopics; keyed produce in batches (acks=all); consumer-group join + eachBatch
// from the beginning with per-key order, duplicate and count checks; committed offsets;
// heartbeats; consumer.run + consumer.seek on one partition/offset; auto topic creation
// and an idempotent (InitProducerId) gzip producer. Exits non-zero on any failure
// and after SMOKE_TIMEOUT_MS (default 60 000).
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const port = Number(process.env.KAFKA_PORT || 9092);
const broker = `127.0.0.1:${port}`;
const TOTAL = Number(process.env.SMOKE_MESSAGES || 10_000);
const BATCH = 500;
const PARTITIONS = 3;
const KEYS = 32;
const TIMEOUT_MS = Number(process.env.SMOKE_TIMEOUT_MS || 60_000);
const runId = `${Date.now()}-${process.pid}`;
const topic = `tickwire-smoke-${runId}`;

const t0 = performance.now();
const ms = (a, b = performance.now()) => `${(b - a).toFixed(0)} ms`;
const step = (msg) => console.log(`[${((performance.now() - t0) / 1000).toFixed(2)}s] ${msg}`);
const warnings = [];
const transients = [];
// Retriable errors kafkajs logs and then retries by itself. On a freshly formatted broker
// the first FindCoordinator answers COORDINATOR_NOT_AVAILABLE while __consumer_offsets is
// being auto-created (scripts/kafka.sh start pre-creates it, so normally this is empty).
// Likewise the first InitProducerId (COORDINATOR_LOAD_IN_PROGRESS while the producer-id
// block is allocated) and Metadata for a topic that is being auto-created
// (UNKNOWN_TOPIC_OR_PARTITION). Kafka 3.9.2 and 4.4.0 behave the same here.
const TRANSIENT = [
  /group coordinator is not available/i,
  /coordinator is loading/i,
  /does not host this topic-partition/i,
  /no leader for this topic-partition/i,
  /not the (correct )?leader/i,
];

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// kafkajs logs only WARN/ERROR here; they are collected and reported, because a protocol
// problem against a newer broker often shows up as a retried warning rather than a throw.
const logCreator =
  () =>
  ({ namespace, label, log }) => {
    const { message, ...extra } = log;
    const line = `kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(extra)}`;
    if (TRANSIENT.some((re) => re.test(`${message} ${extra.error ?? ''}`))) {
      transients.push(line);
      console.error(`(transient, retried) ${line}`);
      return;
    }
    warnings.push(line);
    console.error(line);
  };

const kafka = new Kafka({
  clientId: 'tickwire-smoke',
  brokers: [broker],
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 5, initialRetryTime: 100 },
});

const admin = kafka.admin();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
const consumers = [];
let topicCreated = false;

const timer = setTimeout(() => {
  console.error(`SMOKE FAIL: timed out after ${TIMEOUT_MS} ms`);
  process.exit(2);
}, TIMEOUT_MS);
timer.unref();

async function cleanup() {
  for (const c of consumers) await c.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  if (topicCreated) await admin.deleteTopics({ topics: [topic], timeout: 5000 }).catch(() => {});
  await admin.disconnect().catch(() => {});
}

function sumOffsets(offsets, field = 'offset') {
  return offsets.reduce((s, o) => s + Number(o[field]), 0);
}

async function main() {
  step(`broker ${broker}, topic ${topic}, ${TOTAL} messages, ${PARTITIONS} partitions, ${KEYS} keys`);

  // ---- admin
  let t = performance.now();
  await admin.connect();
  const cluster = await admin.describeCluster();
  assert(cluster.brokers.length === 1, `one broker, got ${cluster.brokers.length}`);
  step(`admin connected, describeCluster: clusterId=${cluster.clusterId} controller=${cluster.controller} (${ms(t)})`);

  t = performance.now();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 10000,
  });
  assert(created === true, 'createTopics returned true');
  topicCreated = true;
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert(meta.topics[0].partitions.length === PARTITIONS, `${PARTITIONS} partitions in metadata`);
  const topics = await admin.listTopics();
  assert(topics.includes(topic), 'listTopics includes the new topic');
  const before = await admin.fetchTopicOffsets(topic);
  assert(before.length === PARTITIONS, 'fetchTopicOffsets: one entry per partition');
  assert(sumOffsets(before, 'high') === 0, 'fresh topic has no messages');
  step(`createTopics + fetchTopicMetadata + listTopics + fetchTopicOffsets ok (${ms(t)})`);

  // ---- produce: value = "<key>:<seq-within-key>:<padding>", ~100 bytes, like a tick
  const pad = 'x'.repeat(80);
  const keyOf = (i) => `SYM${String(i % KEYS).padStart(2, '0')}`;
  const seqOf = (i) => Math.floor(i / KEYS);
  await producer.connect();
  t = performance.now();
  const keyPartition = new Map();
  for (let start = 0; start < TOTAL; start += BATCH) {
    const messages = [];
    for (let i = start; i < Math.min(TOTAL, start + BATCH); i++) {
      messages.push({ key: keyOf(i), value: `${keyOf(i)}:${seqOf(i)}:${pad}` });
    }
    const res = await producer.send({ topic, acks: -1, messages });
    for (const r of res) assert(r.errorCode === 0, `produce errorCode ${r.errorCode}`);
  }
  const produceMs = performance.now() - t;
  const after = await admin.fetchTopicOffsets(topic);
  const hw = new Map(after.map((o) => [o.partition, Number(o.high)]));
  assert(sumOffsets(after, 'high') === TOTAL, `high watermarks sum to ${TOTAL}, got ${sumOffsets(after, 'high')}`);
  step(
    `produced ${TOTAL} in ${ms(0, produceMs)} = ${Math.round(TOTAL / (produceMs / 1000))} msg/s; ` +
      `per-partition HW ${JSON.stringify(Object.fromEntries(hw))}`,
  );
  assert([...hw.values()].filter((n) => n > 0).length >= 2, 'keys spread over at least 2 partitions');

  // ---- consume everything with eachBatch, fresh group, from the beginning
  const groupId = `tickwire-smoke-g-${runId}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100, heartbeatInterval: 300 });
  consumers.push(consumer);
  t = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let joinedAt = 0;
  let heartbeats = 0;
  consumer.on(consumer.events.HEARTBEAT, () => {
    heartbeats++;
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joinedAt = performance.now();
    step(
      `group join: ${groupId} member=${e.payload.memberId.slice(0, 40)}… leader=${e.payload.isLeader} ` +
        `assignment=${JSON.stringify(e.payload.memberAssignment)} (${ms(t)})`,
    );
  });
  const nextSeq = new Map();
  let count = 0;
  let firstMsgAt = 0;
  const done = new Promise((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          if (!firstMsgAt) firstMsgAt = performance.now();
          for (const m of batch.messages) {
            const key = m.key.toString();
            const [vk, vs] = m.value.toString().split(':');
            const seq = Number(vs);
            if (vk !== key) return reject(new Error(`key/value mismatch at ${batch.partition}@${m.offset}`));
            const p = keyPartition.get(key);
            if (p === undefined) keyPartition.set(key, batch.partition);
            else if (p !== batch.partition) return reject(new Error(`key ${key} seen on partitions ${p} and ${batch.partition}`));
            const want = nextSeq.get(key) ?? 0;
            if (seq !== want)
              return reject(new Error(`order/duplicate: key ${key} got seq ${seq}, want ${want} (${batch.partition}@${m.offset})`));
            nextSeq.set(key, want + 1);
            count++;
          }
          if (count >= TOTAL) resolve();
        },
      })
      .catch(reject);
  });
  await done;
  const consumeEnd = performance.now();
  assert(count === TOTAL, `consumed ${count}, want ${TOTAL}`);
  for (let k = 0; k < KEYS; k++) {
    const key = `SYM${String(k).padStart(2, '0')}`;
    const want = Math.floor(TOTAL / KEYS) + (k < TOTAL % KEYS ? 1 : 0);
    assert(nextSeq.get(key) === want, `key ${key}: ${nextSeq.get(key)} messages, want ${want}`);
  }
  const consumeMs = consumeEnd - (firstMsgAt || t);
  step(
    `consumed ${count} (eachBatch) in ${ms(0, consumeMs)} from first batch = ${Math.round(TOTAL / (consumeMs / 1000))} msg/s; ` +
      `join→first batch ${joinedAt ? ms(joinedAt, firstMsgAt) : '?'}; total incl. join ${ms(t, consumeEnd)}; ` +
      `per-key order ok for ${KEYS} keys`,
  );

  // group visible to the admin API while the member is alive
  const groups = await admin.listGroups();
  assert(
    groups.groups.some((g) => g.groupId === groupId),
    'listGroups includes the group',
  );
  const desc = await admin.describeGroups([groupId]);
  const g = desc.groups[0];
  assert(
    g.state === 'Stable' && g.members.length === 1 && g.protocolType === 'consumer',
    `describeGroups: ${g.state}/${g.members.length}/${g.protocolType}`,
  );
  step(`listGroups + describeGroups ok: state=${g.state} protocol=${g.protocol} members=${g.members.length}`);

  // Heartbeat API: kafkajs heartbeats from its fetch loop once heartbeatInterval elapsed.
  for (let i = 0; i < 50 && heartbeats === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert(heartbeats > 0, 'at least one successful Heartbeat');
  step(`heartbeat ok (${heartbeats})`);

  await consumer.disconnect(); // commits resolved offsets, leaves the group
  consumers.length = 0;
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const cp = committed[0].partitions;
  for (const { partition, offset } of cp) {
    assert(Number(offset) === hw.get(partition), `committed offset p${partition}=${offset}, HW ${hw.get(partition)}`);
  }
  step(`fetchOffsets ok: committed ${JSON.stringify(Object.fromEntries(cp.map((p) => [p.partition, Number(p.offset)])))} == HW`);
  const del = await admin.deleteGroups([groupId]);
  assert(del[0].errorCode === 0, `deleteGroups errorCode ${del[0].errorCode}`);
  step('deleteGroups ok');

  // ---- consumer.run + seek to a specific partition/offset
  const [seekPartition] = [...hw.entries()].sort((a, b) => b[1] - a[1])[0];
  const seekOffset = Math.floor(hw.get(seekPartition) / 2);
  const expected = hw.get(seekPartition) - seekOffset;
  const seeker = kafka.consumer({ groupId: `${groupId}-seek`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  consumers.push(seeker);
  t = performance.now();
  await seeker.connect();
  await seeker.subscribe({ topics: [topic], fromBeginning: false }); // other partitions: latest → nothing
  let seen = 0;
  let firstOffset = null;
  const seekDone = new Promise((resolve, reject) => {
    seeker
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (partition !== seekPartition) return reject(new Error(`unexpected message from partition ${partition}@${message.offset}`));
          const off = Number(message.offset);
          if (firstOffset === null) firstOffset = off;
          if (off !== seekOffset + seen) return reject(new Error(`seek: got offset ${off}, want ${seekOffset + seen}`));
          seen++;
          if (seen === expected) resolve();
        },
      })
      .catch(reject);
  });
  seeker.seek({ topic, partition: seekPartition, offset: String(seekOffset) });
  await seekDone;
  await new Promise((r) => setTimeout(r, 300)); // nothing beyond HW may arrive
  assert(seen === expected, `seek consumer saw ${seen}, want ${expected}`);
  step(`consumer.run + seek(p${seekPartition}@${seekOffset}) ok: ${seen} messages, first offset ${firstOffset} (${ms(t)})`);
  await seeker.disconnect();
  consumers.length = 0;

  // ---- extras: auto topic creation (broker default num.partitions=1), idempotent gzip
  // producer (InitProducerId), describeConfigs (retention from log.retention.hours=24)
  t = performance.now();
  const autoTopic = `${topic}-auto`;
  const idem = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
    // kafkajs warns if idempotent retries are limited; SMOKE_TIMEOUT_MS bounds it
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  await idem.connect();
  const { CompressionTypes } = (await import('kafkajs')).default;
  const ack = await idem.send({
    topic: autoTopic,
    compression: CompressionTypes.GZIP,
    messages: [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ],
  });
  await idem.disconnect();
  assert(ack.length === 1 && ack[0].errorCode === 0, 'idempotent gzip produce to auto-created topic');
  const autoMeta = await admin.fetchTopicMetadata({ topics: [autoTopic] });
  assert(autoMeta.topics[0].partitions.length === 1, `auto-created topic has 1 partition, got ${autoMeta.topics[0].partitions.length}`);
  const cfg = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: 2, name: autoTopic, configNames: ['retention.ms'] }],
  });
  const retention = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
  assert(retention === String(24 * 3600 * 1000), `retention.ms ${retention}, want 86400000`);
  await admin.deleteTopics({ topics: [autoTopic], timeout: 10000 });
  step(`auto-create (1 partition) + idempotent gzip produce + describeConfigs (retention.ms=${retention}) ok (${ms(t)})`);

  // ---- delete topic
  t = performance.now();
  await admin.deleteTopics({ topics: [topic], timeout: 10000 });
  topicCreated = false;
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    gone = !(await admin.listTopics()).includes(topic);
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert(gone, 'topic gone after deleteTopics');
  step(`deleteTopics ok (${ms(t)})`);

  await producer.disconnect();
  await admin.disconnect();
  if (warnings.length) throw new Error(`${warnings.length} kafkajs warning(s)/error(s) logged (see above)`);
  if (transients.length) step(`${transients.length} transient retried kafkajs error(s) (tolerated)`);
  const perSec = (took) => Math.round(TOTAL / (took / 1000));
  console.log(`SMOKE OK in ${ms(t0)}: produce ${perSec(produceMs)} msg/s, consume ${perSec(consumeMs)} msg/s`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`SMOKE FAIL: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
