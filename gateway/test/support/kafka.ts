import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { ROOT } from './process.js';

const run = promisify(execFile);

/** Runs scripts/kafka.sh (the same script users run) for a broker on `port`. */
export async function kafkaScript(cmd: 'start' | 'stop' | 'clean' | 'status', port: number): Promise<string> {
  // clean = stop + delete the data dir (.cache/kafka-data/<port>).
  const { stdout } = await run('bash', [`${ROOT}scripts/kafka.sh`, cmd], {
    env: { ...process.env, KAFKA_PORT: String(port) },
    timeout: 240_000,
  });
  return stdout;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port P with P+1 free too (broker and controller), so that concurrent test runs (and a
 * developer's own broker on 9092) never share a broker or its data dir.
 */
export async function freeBrokerPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair for a test broker');
}

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({ clientId: 'tickwire-test', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function connectedProducer(brokers: string): Promise<Producer> {
  const producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

export const uniqueTopic = (name: string) => `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
