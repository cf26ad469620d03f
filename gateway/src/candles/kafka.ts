import { randomBytes } from 'node:crypto';
import { Kafka, logLevel as KafkaLogLevel, type Consumer, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { CandleHistory } from './history.js';
import { candleKey, candleValue, parseCandleRecord } from './record.js';
import type { ClosedCandle } from './engine.js';

/** Cap of the backoff between attempts to reach the topic. */
const MAX_RETRY_MS = 5_000;
/** Closed candles are sent in batches at most this far apart. */
const SEND_EVERY_MS = 200;
/** Candles waiting for the producer beyond this are dropped (counted): the broker is away, memory stays bounded. */
const MAX_PENDING = 100_000;
/** How long `stop` waits for the last candles to be written. */
const STOP_WRITE_MS = 2_000;

export interface CandleLogOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** How long `start` waits to have read the topic to its end before serving with what it has. */
  catchUpMs: number;
}

export interface CandleLogStats {
  persisted: number;
  persistFailures: number;
}

/**
 * Candle history in a compacted Kafka topic (candleTopic): each instance writes its complete
 * closed candles (record.ts) and reads the whole topic, from the beginning and then live, into its
 * history store. Every instance thus holds the same candles, whichever instance wrote them, and a
 * restarted one gets its history back. Created with cleanup.policy=compact when missing.
 */
export class KafkaCandleLog {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private pending: { key: string; value: string }[] = [];
  /** The send in progress (one at a time, so batches stay in order). */
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private caughtUp = false;
  private stopped = false;
  private reached: () => void = () => {};
  /** Records read back that were unusable (logged). */
  skipped = 0;

  constructor(
    private readonly opts: CandleLogOptions,
    private readonly history: CandleHistory,
    private readonly stats: CandleLogStats,
    private readonly log: Logger,
  ) {}

  /** True once the records present at start have been read into the history. */
  get complete(): boolean {
    return this.caughtUp;
  }

  /** Queues a complete closed candle for the topic. */
  write(c: ClosedCandle): void {
    if (this.pending.length >= MAX_PENDING) {
      this.stats.persistFailures++;
      return;
    }
    this.pending.push({ key: candleKey(c.topic, c.candle.t), value: candleValue(c.candle) });
  }

  /** Connects, reads the topic from the beginning, and resolves once caught up or after catchUpMs (then logs). */
  async start(): Promise<void> {
    const caughtUp = new Promise<void>((resolve) => (this.reached = resolve));
    void this.connectLoop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.catchUpMs)));
    await Promise.race([caughtUp, timeout]);
    clearTimeout(timer);
    if (!this.caughtUp)
      this.log.warn({ topic: this.opts.topic }, 'candle history: not read to its end in time; serving what is read so far');
    this.timer = setInterval(() => void this.send(), SEND_EVERY_MS);
  }

  private async connectLoop(): Promise<void> {
    for (let delayMs = 250; !this.stopped; delayMs = Math.min(delayMs * 2, MAX_RETRY_MS)) {
      try {
        await this.connect();
        return;
      } catch (e) {
        this.log.warn({ topic: this.opts.topic, err: (e as Error).message, retryMs: delayMs }, 'candle history: cannot reach the topic');
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        await new Promise((r) => setTimeout(r, delayMs).unref());
      }
    }
  }

  private async connect(): Promise<void> {
    const kafka = new Kafka({ clientId: this.opts.clientId, brokers: this.opts.brokers, logLevel: KafkaLogLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map<number, bigint>();
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(this.opts.topic)) {
        await admin.createTopics({
          topics: [{ topic: this.opts.topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
          waitForLeaders: true,
        });
        this.log.info({ topic: this.opts.topic }, 'candle history: created the compacted candle topic');
      }
      for (const p of await admin.fetchTopicOffsets(this.opts.topic)) {
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
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    this.producer = producer;
    const consumer = kafka.consumer({
      groupId: `${this.opts.clientId}-candles-${randomBytes(6).toString('hex')}`,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (message.key !== null) this.apply(message.key.toString('latin1'), message.value);
        const end = ends.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) {
          ends.delete(partition);
          check();
        }
      },
    });
    check();
    if (this.stopped) await this.stop();
  }

  private apply(key: string, value: Buffer | null): void {
    const r = parseCandleRecord(key, value);
    if (typeof r === 'string') {
      this.skipped++;
      if (this.skipped <= 10 || this.skipped % 1000 === 0)
        this.log.warn({ reason: r, skipped: this.skipped }, 'candle history: record skipped');
      return;
    }
    this.history.put(r.topic, r.interval, r.candle);
  }

  private send(): Promise<void> {
    const producer = this.producer;
    if (this.inflight || !producer || this.pending.length === 0) return this.inflight ?? Promise.resolve();
    const messages = this.pending;
    this.pending = [];
    this.inflight = producer.send({ topic: this.opts.topic, messages }).then(
      () => {
        this.stats.persisted += messages.length;
        this.inflight = undefined;
      },
      (e: unknown) => {
        this.stats.persistFailures += messages.length;
        this.log.error({ topic: this.opts.topic, err: (e as Error).message, candles: messages.length }, 'candle history: write failed');
        this.inflight = undefined;
      },
    );
    return this.inflight;
  }

  /** Writes what is queued (for at most STOP_WRITE_MS: a broker that is away must not hold up shutdown), then disconnects. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WRITE_MS)));
    await Promise.race([this.inflight?.then(() => this.send()) ?? this.send(), deadline]);
    clearTimeout(timer);
    if (this.pending.length > 0 || this.inflight) {
      this.log.warn({ topic: this.opts.topic, candles: this.pending.length }, 'candle history: stopping with candles not written');
    }
    const consumer = this.consumer;
    const producer = this.producer;
    this.consumer = undefined;
    this.producer = undefined;
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
  }
}
