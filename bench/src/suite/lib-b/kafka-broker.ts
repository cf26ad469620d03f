/**
 * A throw-away single-node Kafka broker for one scenario: scripts/kafka.sh on a free port pair,
 * a clean data dir, and `clean` (stop + delete the data dir) at the end, also when this process
 * is interrupted or exits.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePortPair, onExitCleanup, runSync } from './common.js';

const run = promisify(execFile);

export interface Broker {
  port: number;
  brokers: string;
  kafka: Kafka;
  /** Creates a topic with `partitions` partitions and waits for its leaders. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Stops the broker and deletes its data dir. */
  clean(): Promise<void>;
}

export async function startBroker(root: string, log: (line: string) => void): Promise<Broker> {
  const port = await freePortPair();
  const script = `${root}scripts/kafka.sh`;
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_STOP_TIMEOUT: '15' };
  const unregister = onExitCleanup(() => {
    runSync('bash', [script, 'clean'], env, 30_000);
  });
  try {
    await run('bash', [script, 'clean'], { env, timeout: 60_000 });
    const t0 = Date.now();
    const { stdout } = await run('bash', [script, 'start'], { env, timeout: 240_000 });
    log(`kafka broker on 127.0.0.1:${port} started in ${Date.now() - t0} ms (${stdout.trim().split('\n').pop()})`);
  } catch (e) {
    runSync('bash', [script, 'clean'], env, 30_000);
    unregister();
    throw e;
  }
  const brokers = `127.0.0.1:${port}`;
  const kafka = new Kafka({ clientId: 'tickwire-bench', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
  let cleaned = false;
  return {
    port,
    brokers,
    kafka,
    async createTopic(topic, partitions) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    },
    async clean() {
      if (cleaned) return;
      cleaned = true;
      try {
        await run('bash', [script, 'clean'], { env, timeout: 60_000 });
      } finally {
        unregister();
      }
    },
  };
}

/** High watermark sum of a topic (records in it, from offset 0). */
export async function topicRecordCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((a, o) => a + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}
