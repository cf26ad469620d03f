/**
 * A throw-away single-node Kafka broker for the Kafka scenarios: scripts/kafka.sh on a free port
 * pair, a clean data dir, and `clean` (stop + delete the data dir) at the end, also when this
 * process is interrupted or exits. `useBroker` wraps one that is already running (the test
 * suite's) and leaves it alone.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { onExitCleanup } from './proc.js';

const run = promisify(execFile);

/** kafka.sh, synchronously and bounded: for exit handlers. */
function runSync(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): void {
  spawnSync('bash', args, { env, timeout: timeoutMs, stdio: 'ignore' });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free loopback port P with P+1 free too (Kafka broker + controller). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair on 127.0.0.1');
}

export interface Broker {
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
    runSync([script, 'clean'], env, 30_000);
  });
  try {
    await run('bash', [script, 'clean'], { env, timeout: 60_000 });
    const t0 = Date.now();
    const { stdout } = await run('bash', [script, 'start'], { env, timeout: 240_000 });
    log(`kafka broker on 127.0.0.1:${port} started in ${Date.now() - t0} ms (${stdout.trim().split('\n').pop()})`);
  } catch (e) {
    runSync([script, 'clean'], env, 30_000);
    unregister();
    throw e;
  }
  let cleaned = false;
  return {
    ...useBroker(`127.0.0.1:${port}`),
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

/** A broker that is already running at `brokers` (host:port); `clean` does nothing. */
export function useBroker(brokers: string): Broker {
  const kafka = new Kafka({
    clientId: 'tickwire-bench',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  return {
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
    clean: async () => undefined,
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
