import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { ROOT } from './process.js';

const run = promisify(execFile);

/** Runs scripts/kafka.sh (the same script users run) for a broker on `port`. */
export async function kafkaScript(cmd: 'start' | 'stop' | 'clean' | 'status', port: number): Promise<string> {
  const { stdout } = await run('bash', [`${ROOT}scripts/kafka.sh`, cmd], {
    env: { ...process.env, KAFKA_PORT: String(port) },
    timeout: 240_000,
  });
  return stdout;
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
