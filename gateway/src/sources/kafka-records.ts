import type { KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Failures } from '../failures.js';
import type { PayloadLimits } from '../../../protocol/src/payload.js';
import { decodeRecord, DEFAULT_PAYLOAD_LIMITS, type RejectReason } from '../../../protocol/src/record.js';
import { RejectLog } from './reject-log.js';
import type { TickSink } from './source.js';

export interface RecordLimits {
  maxRecordBytes: number;
  /** Bounds of free-form (user, sys) values; beyond them a record is poison. */
  payloadLimits?: PayloadLimits;
}

/** Where a batch's records go: the sink, with their position in the partition (`key`: topic/partition). */
export interface RecordTarget {
  sink: TickSink;
  key: string;
  partition: number;
  /** Collects the tickwire topics published from the partition (for an upstream reset). */
  topics: Set<string>;
}

/**
 * Decodes Kafka records into ticks and publishes the valid ones. Bad upstream data never reaches
 * the sink: each rejected record is counted by reason (`rejected`, read at scrape time) and
 * skipped, and logged at most once per second per reason, with how many were not logged.
 */
export class RecordReader {
  private readonly rejects: RejectLog;
  /** The brokers' cluster id: part of every position, so positions of two clusters never match. */
  private clusterId = '';
  /** Position source names (`<cluster>/<topic>/<partition>`) per partition, built once. */
  private readonly srcNames = new Map<string, string>();

  constructor(
    private readonly limits: RecordLimits,
    private readonly stats: { accepted: number; rejected: Record<RejectReason, number> },
    log: Logger,
    private readonly failures?: Failures,
  ) {
    this.rejects = new RejectLog(stats, log, 'kafka record rejected');
  }

  /** The brokers' cluster id, told before any batch of theirs is read. */
  cluster(id: string): void {
    if (id !== this.clusterId) this.srcNames.clear();
    this.clusterId = id;
  }

  /** Handles the records at or after `from`; returns the offset after the last one handled. */
  read(messages: readonly KafkaMessage[], from: number, to: RecordTarget): number {
    // The position source name: the same string on every instance (SourcePosition).
    let src = this.srcNames.get(to.key);
    if (src === undefined) this.srcNames.set(to.key, (src = `${this.clusterId}/${to.key}`));
    const maxBytes = this.limits.maxRecordBytes;
    const limits = this.limits.payloadLimits ?? DEFAULT_PAYLOAD_LIMITS;
    let next = from;
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < next) continue; // already handled before a rejoin
      next = offset + 1;
      // A record that throws anyway is skipped like a poison one: kafkajs would otherwise retry the
      // batch forever, and a crash would read the record back at every warm start.
      try {
        const r = decodeRecord(m.key, m.value, maxBytes, Number(m.timestamp), limits);
        if ('reject' in r) {
          this.rejects.reject(r.reject, r.detail, { partition: to.partition, offset });
          // A lost book record leaves that book wrong: the book engine marks it stale.
          if (to.sink.rejected && r.reject !== 'bad_key' && m.key && m.key.length <= 64) {
            const key = m.key.toString('latin1');
            if (key.startsWith('book.')) to.sink.rejected(key, r.reject, src, offset);
          }
        } else {
          to.sink.publish(r.topic, r.tick, src, offset);
          this.stats.accepted++;
          to.topics.add(r.topic);
        }
      } catch (e) {
        if (!this.failures) throw e;
        this.failures.record('ingest', e, { partition: to.partition, offset });
      }
    }
    return next;
  }
}
