import { Unpackr } from 'msgpackr';
import type { Logger } from 'pino';
import { CompactedTopicReader } from '../sources/compacted-topic.js';
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
  private readonly reader: CompactedTopicReader;

  constructor(
    private readonly opts: KafkaDirectoryOptions,
    private readonly log: Logger,
  ) {
    super('kafka');
    this.reader = new CompactedTopicReader(
      {
        ...opts,
        role: 'symbols',
        label: 'symbol directory',
        keyEncoding: 'utf8',
        create: false,
        onRecord: (key, value) => this.apply(key, value),
      },
      log,
    );
  }

  /** True once the records present at start have been read. */
  get complete(): boolean {
    return this.reader.complete;
  }

  override unknown(name: string): string | undefined {
    return this.reader.complete ? super.unknown(name) : undefined;
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
    if (!(await this.reader.start()))
      this.log.warn({ topic: this.opts.topic }, 'symbol directory: not caught up in time; accepting every symbol until it is');
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}
