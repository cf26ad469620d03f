import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
 * Ports outside the kernel's ephemeral range (ip_local_port_range): inside it, any outgoing
 * connection on a busy machine may take the broker's port between our check and its bind.
 */
function brokerPortRange(): [number, number] {
  let lo = 32_768;
  let hi = 60_999;
  try {
    [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  } catch {
    // not Linux: the usual defaults
  }
  return lo >= 12_000 ? [10_000, lo - 2] : [hi + 1, 65_533];
}

/**
 * A free port P with P+1 free too (broker and controller), so that concurrent test runs (and a
 * developer's own broker on 9092) never share a broker or its data dir.
 */
export async function freeBrokerPort(): Promise<number> {
  const [lo, hi] = brokerPortRange();
  for (let i = 0; i < 50; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo));
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair for a test broker');
}

/**
 * Starts a fresh broker on a free port pair. A concurrent test run can still take a port between
 * the check and the broker's bind, so a bind failure picks another pair (bounded).
 */
export async function startTestBroker(): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeBrokerPort();
    await kafkaScript('clean', port);
    try {
      await kafkaScript('start', port);
      return port;
    } catch (e) {
      await kafkaScript('clean', port).catch(() => undefined);
      const stderr = String((e as { stderr?: unknown }).stderr ?? e);
      if (attempt >= 4 || !/Address already in use|already in use by another process/.test(stderr)) throw e;
    }
  }
}

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({
    clientId: 'tickwire-test',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
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
