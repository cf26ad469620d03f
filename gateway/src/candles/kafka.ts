import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { CompactedTopicReader } from '../sources/compacted-topic.js';
import type { CandleHistory } from './history.js';
import { candleKey, candleValue, parseCandleRecord } from './record.js';
import type { ClosedCandle } from './engine.js';

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
  private readonly reader: CompactedTopicReader;
  private producer: Producer | undefined;
  private pending: { key: string; value: string }[] = [];
  /** The send in progress (one at a time, so batches stay in order). */
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Records read back that were unusable (logged). */
  skipped = 0;

  constructor(
    private readonly opts: CandleLogOptions,
    private readonly history: CandleHistory,
    private readonly stats: CandleLogStats,
    private readonly log: Logger,
  ) {
    this.reader = new CompactedTopicReader(
      {
        ...opts,
        role: 'candles',
        label: 'candle history',
        keyEncoding: 'latin1',
        create: true,
        onRecord: (key, value) => this.apply(key, value),
        onConnect: (kafka) => this.connectProducer(kafka),
      },
      log,
    );
  }

  /** True once the records present at start have been read into the history. */
  get complete(): boolean {
    return this.reader.complete;
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
    if (!(await this.reader.start()))
      this.log.warn({ topic: this.opts.topic }, 'candle history: not read to its end in time; serving what is read so far');
    this.timer = setInterval(() => void this.send(), SEND_EVERY_MS);
  }

  /** The producer of the candles written; connected once, kept across the reader's reconnections. */
  private async connectProducer(kafka: Kafka): Promise<void> {
    if (this.producer) return;
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    if (this.stopped) await producer.disconnect().catch(() => undefined);
    else this.producer = producer;
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
    const producer = this.producer;
    this.producer = undefined;
    await this.reader.stop();
    await producer?.disconnect().catch(() => undefined);
  }
}
