import { randomBytes } from 'node:crypto';
import { Kafka, logLevel as KafkaLogLevel, type Consumer } from 'kafkajs';
import { Unpackr } from 'msgpackr';
import type { Logger } from 'pino';
import { SymbolDirectory } from './directory.js';
import { parseSymbolRecord } from './record.js';

// Same decoding rules as tick records (protocol/src/record.ts): JSON when it starts with '{', msgpack otherwise.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

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

  /** Connects, reads from the beginning, and resolves once caught up (or after catchUpMs). */
  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: this.opts.clientId, brokers: this.opts.brokers, logLevel: KafkaLogLevel.WARN });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map<number, bigint>();
    try {
      for (const p of await admin.fetchTopicOffsets(this.opts.topic))
        if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    } finally {
      await admin.disconnect();
    }
    let reached: () => void = () => {};
    const caughtUp = new Promise<void>((resolve) => (reached = resolve));
    const check = (): void => {
      if (ends.size === 0 && !this.caughtUp) {
        this.caughtUp = true;
        reached();
      }
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
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.catchUpMs)));
    await Promise.race([caughtUp, timeout]);
    clearTimeout(timer);
    if (!this.caughtUp)
      this.log.warn({ topic: this.opts.topic }, 'symbol directory: not caught up in time; accepting every symbol until it is');
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
