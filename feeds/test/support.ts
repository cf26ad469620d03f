import { Kafka, logLevel } from 'kafkajs';
import { decodeRecord } from '../../protocol/src/record.js';
import type { Tick } from '../../protocol/src/ticks.js';

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({
    clientId: 'tickwire-feed-test',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

export const uniqueTopic = (name: string): string => `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

export interface Consumed {
  partition: number;
  offset: number;
  key: string;
  value: Buffer;
}

/**
 * Reads a whole topic, from the beginning up to its high watermarks at call time, with a fresh
 * consumer group. Returns records in offset order per partition (partitions concatenated).
 */
export async function readTopic(brokers: string, topic: string, timeoutMs = 30_000): Promise<Consumed[]> {
  const kafka = kafkaClient(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const total = [...high.values()].reduce((a, b) => a + b, 0);
  const byPartition = new Map<number, Consumed[]>([...high.keys()].map((p) => [p, []]));
  if (total === 0) return [];

  const consumer = kafka.consumer({ groupId: uniqueTopic('feed-test-reader'), maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen} of ${total} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const list = byPartition.get(batch.partition)!;
            for (const m of batch.messages) {
              if (Number(m.offset) >= high.get(batch.partition)!) continue;
              list.push({
                partition: batch.partition,
                offset: Number(m.offset),
                key: m.key?.toString('utf8') ?? '',
                value: m.value ?? Buffer.alloc(0),
              });
              seen++;
            }
            if (seen >= total) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return [...byPartition.values()].flat();
}

/** Decodes records with the gateway's own decoder; throws on the first rejected one. */
export function decodeAll(records: Consumed[]): { partition: number; topic: string; tick: Tick; value: Buffer }[] {
  return records.map((r) => {
    const d = decodeRecord(Buffer.from(r.key), r.value, 64 * 1024, NaN);
    if ('reject' in d) throw new Error(`record ${r.partition}@${r.offset} rejected: ${d.reject}: ${d.detail}`);
    return { partition: r.partition, topic: d.topic, tick: d.tick as Tick, value: r.value };
  });
}

/** Checks that each key lives in one partition and its ts never decreases (in offset order). */
export function checkPerKeyOrder(decoded: { partition: number; topic: string; tick: Tick }[]): Map<string, number> {
  const partitionOf = new Map<string, number>();
  const lastTs = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const d of decoded) {
    const p = partitionOf.get(d.topic);
    if (p === undefined) partitionOf.set(d.topic, d.partition);
    else if (p !== d.partition) throw new Error(`${d.topic} is in partitions ${p} and ${d.partition}`);
    const prev = lastTs.get(d.topic);
    if (prev !== undefined && d.tick.ts < prev) throw new Error(`${d.topic}: ts went back from ${prev} to ${d.tick.ts}`);
    lastTs.set(d.topic, d.tick.ts);
    counts.set(d.topic, (counts.get(d.topic) ?? 0) + 1);
  }
  return counts;
}
