import { hostname } from 'node:os';
import { Kafka, logLevel as KafkaLogLevel, type Admin, type Consumer, type EachBatchPayload, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { Failures } from '../failures.js';
import type { PayloadLimits } from '../protocol/payload.js';
import { decodeRecord, DEFAULT_PAYLOAD_LIMITS, type RejectReason } from './record.js';
import type { Source, TickSink } from './source.js';

export interface KafkaSourceOptions {
  brokers: string[];
  topics: string[];
  clientId: string;
  groupPrefix: string;
  /** Warm start reads back at most this many seconds of each partition... */
  warmStartSec: number;
  /** ...and at most this many records per partition, whichever is less. */
  warmStartMaxRecords: number;
  maxRecordBytes: number;
  /** No successful fetch for this long means the source is not live (`/readyz` 503). */
  staleMs: number;
  retryMaxMs: number;
  /** Distinguishes this instance's consumer group from every other instance's. */
  instanceId: string;
  /** Bounds of free-form (user, sys) values; beyond them a record is poison. */
  payloadLimits?: PayloadLimits;
}

/** Ingest counters, read by the metrics module at scrape time. */
export interface IngestStats {
  rejected: Record<RejectReason, number>;
  /** Records behind the partitions' high watermarks at the last fetched batch, summed. */
  lagRecords: number;
  /** Times the source went from live to not live. */
  outages: number;
}

type Partition = { topic: string; partition: number };
const tpKey = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * Consumes ticks from Kafka with kafkajs.
 *
 * Every gateway instance must see every tick, so each instance uses a consumer group of its own
 * (never shared), does not commit offsets, and positions itself: on start at the warm-start
 * offset of each partition, and after any rejoin (a broker outage, a consumer restart) at the
 * offset right after the last record it handled. Records at or before that offset are skipped,
 * so an outage loses nothing and duplicates nothing. Per-topic order is Kafka's partition order
 * (the key is the topic, so one topic lives in one partition). Each tick is published with its
 * position (cluster/topic/partition and offset), the same on every instance, so that a client can
 * resume on another instance.
 */
export class KafkaSource implements Source {
  readonly name = 'kafka';
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  /** Offset of the next record to handle, per partition. */
  private readonly next = new Map<string, number>();
  /** High watermarks seen at startup; live once every partition reached them. */
  private warmTarget = new Map<string, number>();
  private warm = false;
  private lastFetchOk = 0;
  private wasLive = false;
  private stopped = false;
  private watcher: NodeJS.Timeout | undefined;
  private sink: TickSink | undefined;
  private replacing = false;
  private generation = 0;
  private lastReplace = Date.now();
  private readonly rejectLog = new Map<RejectReason, { at: number; suppressed: number }>();
  /** The brokers' cluster id: part of every position, so positions of two clusters never match. */
  private clusterId = '';
  /** Position source names (`<cluster>/<topic>/<partition>`) per partition, built once. */
  private readonly srcNames = new Map<string, string>();

  constructor(
    private readonly opts: KafkaSourceOptions,
    private readonly stats: IngestStats,
    private readonly log: Logger,
    private readonly failures?: Failures,
  ) {
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.kafkaLog(entry),
      retry: { initialRetryTime: 250, maxRetryTime: opts.retryMaxMs, retries: 8 },
    });
  }

  get live(): boolean {
    // Not live from the moment a drain begins, so /readyz turns 503 before the listener closes.
    return !this.stopped && this.warm && Date.now() - this.lastFetchOk < this.opts.staleMs;
  }

  /** Logs and counts live ↔ not-live transitions (an outage is otherwise only a missing event). */
  private watchLiveness(): void {
    const live = this.live;
    const now = Date.now();
    const downFor = now - Math.max(this.lastFetchOk, this.lastReplace);
    if (!live && downFor > Math.max(10_000, 2 * this.opts.staleMs, 3 * this.opts.retryMaxMs)) void this.replaceConsumer(`no successful fetch for ${downFor} ms`);
    if (live === this.wasLive) return;
    this.wasLive = live;
    if (live) this.log.info('kafka source live');
    else {
      this.stats.outages++;
      this.log.warn({ lastFetchAgoMs: Date.now() - this.lastFetchOk }, 'kafka source not live: no successful fetch; retrying with backoff');
    }
  }

  async start(sink: TickSink): Promise<void> {
    this.sink = sink;
    this.admin = this.kafka.admin();
    this.watcher = setInterval(() => this.watchLiveness(), 250);
    this.watcher.unref();
    // Startup must not fail because the broker is not there yet: keep trying in the background,
    // reporting not-ready meanwhile.
    void this.runConsumer();
  }

  private newConsumer(): Consumer {
    // Each consumer gets a group of its own: a replaced consumer that kafkajs brings back to life
    // must never share (and so split) partitions with the current one.
    this.generation++;
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.groupPrefix}-${this.opts.instanceId}-${this.generation}`,
      maxWaitTimeInMs: 250,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      retry: { initialRetryTime: 250, maxRetryTime: this.opts.retryMaxMs, retries: 8, restartOnFailure: async () => !this.stopped },
    });
    const ev = consumer.events;
    const current = () => consumer === this.consumer && !this.stopped;
    consumer.on(ev.FETCH, () => {
      if (!current()) return;
      this.lastFetchOk = Date.now();
      this.checkWarm();
    });
    consumer.on(ev.GROUP_JOIN, (e) => {
      if (current()) this.onJoin(consumer, e.payload.memberAssignment);
      else void consumer.disconnect().catch(() => undefined); // a replaced consumer came back
    });
    consumer.on(ev.CRASH, (e) => {
      if (!current()) return;
      this.log.warn({ err: e.payload.error.message, restart: e.payload.restart }, 'kafka consumer crashed');
      // kafkajs gives up on errors it deems fatal; positions are ours, so a fresh consumer is safe.
      if (!e.payload.restart) void this.replaceConsumer('kafkajs will not restart it');
    });
    return consumer;
  }

  /** Connects a new consumer, retrying with exponential backoff until it runs or we stop. */
  private async runConsumer(): Promise<void> {
    const consumer = this.newConsumer();
    this.consumer = consumer;
    let delay = 250;
    while (!this.stopped && this.consumer === consumer) {
      try {
        await this.planWarmStart();
        await consumer.connect();
        await consumer.subscribe({ topics: this.opts.topics, fromBeginning: false });
        await consumer.run({
          eachBatchAutoResolve: true,
          autoCommit: false,
          eachBatch: async (p) => {
            if (consumer === this.consumer) await this.onBatch(p, this.sink as TickSink);
          },
        });
        return;
      } catch (e) {
        if (this.stopped) return;
        this.log.warn({ err: (e as Error).message, retryInMs: delay }, 'kafka consumer not running yet; retrying');
        await consumer.disconnect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
      }
    }
  }

  /**
   * Replaces the consumer. kafkajs restarts a crashed consumer by itself, but when that restart
   * fails too (the broker still down) nothing retries it; the liveness watcher calls this when
   * the source has been down for a while, so recovery never depends on kafkajs's own loop.
   */
  private async replaceConsumer(why: string): Promise<void> {
    if (this.stopped || this.replacing) return;
    this.replacing = true;
    this.lastReplace = Date.now();
    this.log.warn({ why }, 'replacing the kafka consumer');
    try {
      await this.consumer?.disconnect().catch(() => undefined);
      void this.runConsumer();
    } finally {
      this.replacing = false;
    }
  }

  /** Start offsets: the last `warmStartSec` seconds, at most `warmStartMaxRecords`, per partition. */
  private async planWarmStart(): Promise<void> {
    const admin = this.admin as Admin;
    await admin.connect();
    const cluster = (await admin.describeCluster()).clusterId;
    if (cluster !== this.clusterId) this.srcNames.clear();
    this.clusterId = cluster;
    const since = Date.now() - this.opts.warmStartSec * 1000;
    const target = new Map<string, number>();
    for (const topic of this.opts.topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const byTime = new Map((await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((o) => [o.partition, Number(o.offset)]));
      for (const o of offsets) {
        const high = Number(o.high);
        const low = Number(o.low);
        const fromTime = byTime.get(o.partition);
        const start = Math.max(low, high - this.opts.warmStartMaxRecords, fromTime === undefined || fromTime < 0 ? high : fromTime);
        const key = tpKey(topic, o.partition);
        if (!this.next.has(key)) this.next.set(key, start);
        target.set(key, high);
      }
    }
    this.warmTarget = target;
    await admin.disconnect();
    this.log.info({ partitions: Object.fromEntries(this.next), highWatermarks: Object.fromEntries(target) }, 'kafka warm start planned');
  }

  private onJoin(consumer: Consumer, assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const offset = this.next.get(tpKey(topic, partition));
        // A partition that appeared after startup is read from its beginning: it is new, so all
        // of it is recent.
        consumer.seek({ topic, partition, offset: String(offset ?? 0) });
      }
    }
    this.log.info({ assignment, positions: Object.fromEntries(this.next) }, 'kafka consumer joined; positioned');
  }

  private async onBatch({ batch }: EachBatchPayload, sink: TickSink): Promise<void> {
    const key = tpKey(batch.topic, batch.partition);
    let src = this.srcNames.get(key);
    if (src === undefined) this.srcNames.set(key, (src = `${this.clusterId}/${key}`));
    let next = this.next.get(key) ?? 0;
    const maxBytes = this.opts.maxRecordBytes;
    const limits = this.opts.payloadLimits ?? DEFAULT_PAYLOAD_LIMITS;
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < next) continue; // already handled before a rejoin
      next = offset + 1;
      // A record that throws anyway is skipped like a poison one: kafkajs would otherwise retry the
      // batch forever, and a crash would read the record back at every warm start.
      try {
        const r = decodeRecord(m.key, m.value, maxBytes, Number(m.timestamp), limits);
        if ('reject' in r) this.reject(r.reject, r.detail, batch.partition, offset);
        else sink.publish(r.topic, r.tick, src, offset);
      } catch (e) {
        if (!this.failures) throw e;
        this.failures.record('ingest', e, { partition: batch.partition, offset });
      }
    }
    this.next.set(key, next);
    this.stats.lagRecords = Math.max(0, Number(batch.highWatermark) - next);
    this.checkWarm();
  }

  private checkWarm(): void {
    if (this.warm || this.warmTarget.size === 0) return;
    for (const [key, high] of this.warmTarget) if ((this.next.get(key) ?? 0) < high) return;
    this.warm = true;
    this.log.info('kafka warm start complete');
  }

  /** Counted always; logged at most once per second per reason, with how many were not logged. */
  private reject(reason: RejectReason, detail: string, partition: number, offset: number): void {
    this.stats.rejected[reason]++;
    const now = Date.now();
    const last = this.rejectLog.get(reason);
    if (last && now - last.at < 1000) {
      last.suppressed++;
      return;
    }
    this.log.warn({ reason, detail, partition, offset, suppressed: last?.suppressed ?? 0 }, 'kafka record rejected');
    this.rejectLog.set(reason, { at: now, suppressed: 0 });
  }

  private kafkaLog(entry: LogEntry): void {
    const { message, ...rest } = entry.log;
    const level = entry.level <= KafkaLogLevel.ERROR ? 'error' : entry.level === KafkaLogLevel.WARN ? 'warn' : 'debug';
    this.log[level]({ kafka: entry.namespace, ...rest }, message);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watcher);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

export function defaultInstanceId(epoch: string): string {
  return `${hostname()}-${process.pid}-${epoch}`;
}
