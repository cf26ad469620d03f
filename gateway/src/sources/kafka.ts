import { hostname } from 'node:os';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Failures } from '../failures.js';
import type { PayloadLimits } from '../../../protocol/src/payload.js';
import type { RejectReason } from '../../../protocol/src/record.js';
import { Liveness } from './kafka-liveness.js';
import { consumerConfig, kafkaClient } from './kafka-client.js';
import { tpKey } from './kafka-offsets.js';
import { RecordReader } from './kafka-records.js';
import { PartitionResets } from './kafka-resets.js';
import { topologyChange, TopologySurvey } from './kafka-survey.js';
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
  /** How often the topics are surveyed for new topics, new partitions and offsets that went back. */
  metadataRefreshMs: number;
  /** Bounds of free-form (user, sys) values; beyond them a record is poison. */
  payloadLimits?: PayloadLimits;
}

/** Ingest counters, read by the metrics module at scrape time. */
export interface IngestStats {
  /** Records decoded and handed on (to the hub, or the book engine for `book.*` records). */
  accepted: number;
  rejected: Record<RejectReason, number>;
  /** Records behind the partitions' high watermarks at the last fetched batch, summed. */
  lagRecords: number;
  /** Times the source went from live to not live. */
  outages: number;
}

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
 *
 * The topology may change while running (docs/ingest.md): a survey every `metadataRefreshMs`
 * subscribes to configured topics once they exist (a missing one blocks nothing), plans where a
 * partition new to the instance starts, and detects a partition whose offsets went back (the
 * topic deleted and recreated): it is read again from its earliest offset and its tickwire
 * topics are reset (`TickSink.upstreamReset`), never skipped.
 *
 * Guarantees beyond the `Source` contract: within one upstream log, each record is handled at most
 * once per instance (positions only grow, except at a reset), from the warm-start window on; a
 * record that fails to decode is counted and skipped, never retried; `live` is true only once the
 * warm start is complete (every partition read up to its end as planned) and while fetches succeed.
 *
 * This class owns the consumer's lifecycle (a consumer group per consumer, retries, replacement)
 * and composes the rest, one job per module: kafkajs settings (kafka-client.ts), the topology
 * survey and start plan (kafka-survey.ts, kafka-offsets.ts), logs that went back
 * (kafka-resets.ts), record decoding (kafka-records.ts), liveness (kafka-liveness.ts).
 */
export class KafkaSource implements Source {
  readonly name = 'kafka';
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  /** Offset of the next record to handle, per partition. */
  private readonly next = new Map<string, number>();
  private stopped = false;
  private watcher: NodeJS.Timeout | undefined;
  private sink: TickSink | undefined;
  private replacing = false;
  private generation = 0;
  /** Kafka topics the current consumer is subscribed to; undefined while it is being started. */
  private subscribed: string[] | undefined;
  private survey: TopologySurvey | undefined;
  private readonly liveness: Liveness;
  private readonly resets: PartitionResets;
  private readonly records: RecordReader;

  constructor(
    private readonly opts: KafkaSourceOptions,
    private readonly stats: IngestStats,
    private readonly log: Logger,
    failures?: Failures,
  ) {
    this.kafka = kafkaClient(opts, log);
    this.liveness = new Liveness(opts, stats, log, (why) => void this.replaceConsumer(why));
    this.resets = new PartitionResets({
      next: this.next,
      log,
      sink: () => this.sink,
      seekEarliest: (topic, partition) => {
        try {
          this.consumer?.seek({ topic, partition, offset: '-2' });
        } catch {
          /* not running yet */
        }
      },
      stopped: () => this.stopped,
    });
    this.records = new RecordReader(opts, stats, log, failures);
  }

  get live(): boolean {
    // Not live from the moment a drain begins, so /readyz turns 503 before the listener closes.
    return !this.stopped && this.liveness.isLive(this.subscribed?.length === 0);
  }

  async start(sink: TickSink): Promise<void> {
    this.sink = sink;
    this.survey = new TopologySurvey(this.kafka.admin(), this.opts, {
      next: this.next,
      resets: this.resets,
      log: this.log,
      stopped: () => this.stopped,
      onCluster: (id) => this.records.cluster(id),
      onSurveyed: (topics) => this.onSurveyed(topics),
    });
    this.watcher = setInterval(() => this.liveness.watch(this.live), 250);
    this.watcher.unref();
    this.survey.start();
    // Startup must not fail because the broker is not there yet: keep trying in the background,
    // reporting not-ready meanwhile.
    void this.runConsumer();
  }

  private newConsumer(): Consumer {
    const consumer = this.kafka.consumer(consumerConfig(this.opts, ++this.generation, () => this.stopped));
    const ev = consumer.events;
    const current = () => consumer === this.consumer && !this.stopped;
    consumer.on(ev.FETCH, () => {
      if (!current()) return;
      this.liveness.fetched();
      this.liveness.checkWarm(this.next);
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
    this.subscribed = undefined;
    while (!this.stopped && this.consumer === consumer) {
      try {
        const topics = await this.planWarmStart();
        // None exists yet: nothing to consume; the survey starts a consumer once one does.
        if (topics.length === 0) {
          this.liveness.fetched();
          this.subscribed = topics;
          return;
        }
        await consumer.connect();
        // fromBeginning: where kafkajs positions a partition the source did not (a partition it found
        // itself, or offsets out of range) is its earliest offset, never past records.
        await consumer.subscribe({ topics, fromBeginning: true });
        await consumer.run({
          eachBatchAutoResolve: true,
          autoCommit: false,
          eachBatch: async (p) => {
            if (consumer === this.consumer) await this.onBatch(p, this.sink as TickSink);
          },
        });
        this.subscribed = topics;
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

  /** Plans where each partition starts (kafka-survey.ts); returns the configured topics that exist. */
  private async planWarmStart(): Promise<string[]> {
    const { topics, ends } = await (this.survey as TopologySurvey).plan();
    this.liveness.planned(ends, this.next);
    const planned = { topics, partitions: Object.fromEntries(this.next), highWatermarks: Object.fromEntries(ends) };
    this.log.info(planned, 'kafka warm start planned');
    return topics;
  }

  /**
   * Replaces the consumer. kafkajs restarts a crashed consumer by itself, but when that restart
   * fails too (the broker still down) nothing retries it; the liveness watcher calls this when
   * the source has been down for a while, so recovery never depends on kafkajs's own loop.
   */
  private async replaceConsumer(why: string): Promise<void> {
    if (this.stopped || this.replacing) return;
    this.replacing = true;
    this.liveness.replaced();
    this.log.warn({ why }, 'replacing the kafka consumer');
    try {
      await this.consumer?.disconnect().catch(() => undefined);
      void this.runConsumer();
    } finally {
      this.replacing = false;
    }
  }

  /** After each survey: a consumer follows the set of existing topics. */
  private onSurveyed(topics: string[]): void {
    const subscribed = this.subscribed;
    if (subscribed === undefined) return;
    const change = topologyChange(subscribed, topics);
    // Nothing to fetch from: reachable brokers are what live means now.
    if (change === 'none') this.liveness.fetched();
    else if (change === 'changed') {
      // A planned switch, not an outage: the new consumer gets the usual time to fetch.
      this.liveness.fetched();
      void this.replaceConsumer(`topics now existing: ${topics.join(',') || 'none'} (consumed: ${subscribed.join(',') || 'none'})`);
    }
  }

  private onJoin(consumer: Consumer, assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const offset = this.next.get(tpKey(topic, partition));
        // Not planned yet (new, found by kafkajs first): left at kafkajs's default, the earliest offset.
        if (offset !== undefined) consumer.seek({ topic, partition, offset: String(offset) });
      }
    }
    this.log.info({ assignment, positions: Object.fromEntries(this.next) }, 'kafka consumer joined; positioned');
  }

  private async onBatch({ batch }: EachBatchPayload, sink: TickSink): Promise<void> {
    const { topic, partition } = batch;
    const key = tpKey(topic, partition);
    const from = this.next.get(key) ?? 0;
    const high = Number(batch.highWatermark);
    // The log ends below what this instance already handled: a new log under the same name.
    if (high < from) return this.resets.reset(topic, partition, { high, from: 'fetch' });
    const next = this.records.read(batch.messages, from, { sink, key, partition, topics: this.resets.topicsOf(key) });
    this.next.set(key, next);
    this.stats.lagRecords = Math.max(0, high - next);
    this.liveness.checkWarm(this.next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watcher);
    this.survey?.stop();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.survey?.disconnect();
  }
}

export function defaultInstanceId(epoch: string): string {
  return `${hostname()}-${process.pid}-${epoch}`;
}
