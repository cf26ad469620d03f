import { randomBytes } from 'node:crypto';
import { Kafka, logLevel as KafkaLogLevel, type Consumer } from 'kafkajs';
import { Unpackr } from 'msgpackr';
import type { Logger } from 'pino';
import { SymbolDirectory } from './directory.js';
import { parseSymbolRecord } from './record.js';

// Same decoding rules as tick records (protocol/src/record.ts): JSON when it starts with '{', msgpack otherwise.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Cap of the backoff between attempts to read the topic. */
const MAX_RETRY_MS = 5_000;

export interface KafkaDirectoryOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** How long `start` waits to reach the end of the topic before serving with what it has. */
  catchUpMs: number;
}

/**
 * The directory kept in a compacted Kafka topic (symbolsTopic): key = symbol, value = JSON or
 * msgpack map (parseSymbolRecord), null value (tombstone) = the instrument is gone. Read from the
 * beginning by a consumer group of its own (every instance reads everything, nothing is
 * committed) and kept live. Until the end of the topic as it was at start has been read, the
 * directory refuses nothing: an instrument not read yet must not be called unknown.
 */
export class KafkaDirectory extends SymbolDirectory {
  private consumer: Consumer | undefined;
  private caughtUp = false;
  private stopped = false;
  private reached: () => void = () => {};

  constructor(
    private readonly opts: KafkaDirectoryOptions,
    private readonly log: Logger,
  ) {
    super('kafka');
  }

  /** True once the records present at start have been read. */
  get complete(): boolean {
    return this.caughtUp;
  }

  override unknown(name: string): string | undefined {
    return this.caughtUp ? super.unknown(name) : undefined;
  }

  /** Applies one record; returns false when its value is unusable (logged, skipped). */
  apply(key: string, value: Buffer | null): boolean {
    if (value === null) {
      this.delete(key);
      return true;
    }
    let decoded: unknown;
    try {
      decoded = value[0] === 0x7b ? JSON.parse(value.toString('utf8')) : unpackr.unpack(value);
    } catch (e) {
      this.log.warn({ key: key.slice(0, 40), err: (e as Error).message }, 'symbol directory: undecodable record skipped');
      return false;
    }
    const info = parseSymbolRecord(key, decoded);
    if (typeof info === 'string') {
      this.log.warn({ reason: info }, 'symbol directory: record skipped');
      return false;
    }
    this.set(info);
    return true;
  }

  /**
   * Connects, reads from the beginning, and resolves once caught up or after catchUpMs. A broker
   * that cannot be reached does not stop the gateway (the tick source does not either): the
   * directory retries with backoff and refuses nothing meanwhile.
   */
  async start(): Promise<void> {
    const caughtUp = new Promise<void>((resolve) => (this.reached = resolve));
    void this.connectLoop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.catchUpMs)));
    await Promise.race([caughtUp, timeout]);
    clearTimeout(timer);
    if (!this.caughtUp)
      this.log.warn({ topic: this.opts.topic }, 'symbol directory: not caught up in time; accepting every symbol until it is');
  }

  private async connectLoop(): Promise<void> {
    for (let delayMs = 250; !this.stopped; delayMs = Math.min(delayMs * 2, MAX_RETRY_MS)) {
      try {
        await this.connect();
        return;
      } catch (e) {
        this.log.warn({ topic: this.opts.topic, err: (e as Error).message, retryMs: delayMs }, 'symbol directory: cannot read the topic');
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
    // The end of each partition now: read up to there, the directory is complete.
    const ends = new Map<number, bigint>();
    try {
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
    const groupId = `${this.opts.clientId}-symbols-${randomBytes(6).toString('hex')}`;
    const consumer = kafka.consumer({ groupId });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (message.key !== null) this.apply(message.key.toString('utf8'), message.value);
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

  async stop(): Promise<void> {
    this.stopped = true;
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect();
  }
}
