import { randomBytes } from 'node:crypto';
import { Kafka, logLevel as KafkaLogLevel, type Consumer } from 'kafkajs';
import type { Logger } from 'pino';

/** Cap of the backoff between attempts to reach the topic. */
const MAX_RETRY_MS = 5_000;

export interface CompactedTopicOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Names this reader's consumer groups (`<clientId>-<role>-<random>`), e.g. `candles`. */
  role: string;
  /** Starts the reader's log lines, e.g. `candle history`. */
  label: string;
  /** How long `start` waits to have read the topic to its end before resolving with what it has. */
  catchUpMs: number;
  /** How record keys are decoded. */
  keyEncoding: BufferEncoding;
  /** Create the topic, compacted, when it is missing (otherwise a missing topic is retried like an unreachable broker). */
  create: boolean;
  /** Each keyed record, in partition order; `value` null is a tombstone. */
  onRecord(key: string, value: Buffer | null): void;
  /** Runs on each connection attempt before the consumer starts (e.g. to connect a producer); a throw retries. */
  onConnect?(kafka: Kafka): Promise<void>;
}

/**
 * Reads a compacted Kafka topic from the beginning and then live, by a consumer group of its own
 * (every instance reads everything, nothing is committed). `complete` turns true once the end of
 * each partition as it was at connection time has been read. A broker that cannot be reached does
 * not stop the gateway: the reader retries with backoff until `stop`.
 */
export class CompactedTopicReader {
  private consumer: Consumer | undefined;
  private caughtUp = false;
  private stopped = false;
  private reached: () => void = () => {};

  constructor(
    private readonly opts: CompactedTopicOptions,
    private readonly log: Logger,
  ) {}

  /** True once the records present at start have been read. */
  get complete(): boolean {
    return this.caughtUp;
  }

  /** Starts reading; resolves true once caught up, false when catchUpMs passed first (reading goes on). */
  async start(): Promise<boolean> {
    const caughtUp = new Promise<void>((resolve) => (this.reached = resolve));
    void this.connectLoop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.catchUpMs)));
    await Promise.race([caughtUp, timeout]);
    clearTimeout(timer);
    return this.caughtUp;
  }

  private async connectLoop(): Promise<void> {
    for (let delayMs = 250; !this.stopped; delayMs = Math.min(delayMs * 2, MAX_RETRY_MS)) {
      try {
        await this.connect();
        return;
      } catch (e) {
        this.log.warn(
          { topic: this.opts.topic, err: (e as Error).message, retryMs: delayMs },
          `${this.opts.label}: cannot reach the topic`,
        );
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        await new Promise((r) => setTimeout(r, delayMs).unref());
      }
    }
  }

  private async connect(): Promise<void> {
    const { topic } = this.opts;
    const kafka = new Kafka({ clientId: this.opts.clientId, brokers: this.opts.brokers, logLevel: KafkaLogLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    // The end of each partition now: read up to there, the reader is complete.
    const ends = new Map<number, bigint>();
    try {
      if (this.opts.create && !(await admin.listTopics()).includes(topic)) {
        await admin.createTopics({
          topics: [{ topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
          waitForLeaders: true,
        });
        this.log.info({ topic }, `${this.opts.label}: created the compacted topic`);
      }
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
      }
    } finally {
      await admin.disconnect();
    }
    const check = (): void => {
      if (ends.size > 0 || this.caughtUp) return;
      this.caughtUp = true;
      this.reached();
    };
    await this.opts.onConnect?.(kafka);
    const groupId = `${this.opts.clientId}-${this.opts.role}-${randomBytes(6).toString('hex')}`;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (message.key !== null) this.opts.onRecord(message.key.toString(this.opts.keyEncoding), message.value);
        const end = ends.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) {
          ends.delete(partition);
          check();
        }
      },
    });
    check();
    // stop() may have run while this connected: it found no consumer to end.
    if (this.stopped) await this.stop();
  }

  /** Stops reading (and retrying). */
  async stop(): Promise<void> {
    this.stopped = true;
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect().catch(() => undefined);
  }
}
