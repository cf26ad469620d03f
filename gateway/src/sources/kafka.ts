import { hostname } from 'node:os';
import { Kafka, logLevel as KafkaLogLevel, type Admin, type Consumer, type EachBatchPayload, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { Failures } from '../failures.js';
import type { PayloadLimits } from '../../../protocol/src/payload.js';
import { decodeRecord, DEFAULT_PAYLOAD_LIMITS, type RejectReason } from '../../../protocol/src/record.js';
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
  rejected: Record<RejectReason, number>;
  /** Records behind the partitions' high watermarks at the last fetched batch, summed. */
  lagRecords: number;
  /** Times the source went from live to not live. */
  outages: number;
}

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
 *
 * The topology may change while running (docs/ingest.md): a survey every `metadataRefreshMs`
 * subscribes to configured topics once they exist (a missing one blocks nothing), plans where a
 * partition new to the instance starts, and detects a partition whose offsets went back (the
 * topic deleted and recreated): it is read again from its earliest offset and its tickwire
 * topics are reset (`TickSink.upstreamReset`), never skipped.
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
  /** Partition count of each configured topic when first looked at (0: missing): later partitions are new. */
  private readonly firstLook = new Map<string, number>();
  /** Log start and end offsets of each partition at the last survey: both only ever grow. */
  private readonly ends = new Map<string, { low: number; high: number }>();
  /** The tickwire topics published from each partition, the ones a reset of it concerns. */
  private readonly seen = new Map<string, Set<string>>();
  /** Kafka topics the current consumer is subscribed to; undefined while it is being started. */
  private subscribed: string[] | undefined;
  private planned = false;
  /** Resets per partition, so that a survey never acts on offsets it read before a reset. */
  private readonly resets = new Map<string, number>();
  private surveyTimer: NodeJS.Timeout | undefined;

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
    // With no topic to fetch from, the survey's successes are what keeps it live, at its own pace.
    const stale = this.opts.staleMs + (this.subscribed?.length === 0 ? this.opts.metadataRefreshMs : 0);
    return !this.stopped && this.warm && Date.now() - this.lastFetchOk < stale;
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
    this.scheduleSurvey();
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
      // New partitions are found by kafkajs's own metadata refresh (then it rejoins): as often as the survey.
      metadataMaxAge: this.opts.metadataRefreshMs,
      // A consumer must never create a missing topic (with the broker's defaults) behind the producer's back.
      allowAutoTopicCreation: false,
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
    this.subscribed = undefined;
    while (!this.stopped && this.consumer === consumer) {
      try {
        const topics = await this.planWarmStart();
        // None exists yet: nothing to consume; the survey starts a consumer once one does.
        if (topics.length === 0) {
          this.lastFetchOk = Date.now();
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

  /**
   * Start offsets of partitions not tracked yet: the last `warmStartSec` seconds, at most
   * `warmStartMaxRecords`, of those that existed when first looked at; all of those created
   * since. Returns the configured topics that exist.
   */
  private async planWarmStart(): Promise<string[]> {
    const admin = this.admin as Admin;
    await admin.connect();
    const cluster = (await admin.describeCluster()).clusterId;
    if (cluster !== this.clusterId) this.srcNames.clear();
    this.clusterId = cluster;
    const topics = await this.existingTopics(admin);
    const target = new Map<string, number>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const byTime = await this.warmOffsets(admin, topic, offsets.length);
      for (const o of offsets) {
        const key = tpKey(topic, o.partition);
        const low = Number(o.low);
        const high = Number(o.high);
        // A replacement consumer: nothing of this partition is fetched meanwhile, so `next` is exact.
        if (this.wentBack(key, low, high, this.next.get(key))) this.resetPartition(topic, o.partition, { low, high, from: 'plan' });
        if (!this.next.has(key)) this.next.set(key, this.startOffset(topic, o.partition, low, high, byTime));
        target.set(key, high);
      }
      if (!this.firstLook.has(topic)) this.firstLook.set(topic, offsets.length);
    }
    for (const topic of this.opts.topics) if (!this.firstLook.has(topic)) this.firstLook.set(topic, 0);
    this.warmTarget = target;
    this.planned = true;
    this.checkWarm();
    const planned = { topics, partitions: Object.fromEntries(this.next), highWatermarks: Object.fromEntries(target) };
    this.log.info(planned, 'kafka warm start planned');
    return topics;
  }

  /** The configured topics that exist, in configured order. */
  private async existingTopics(admin: Admin): Promise<string[]> {
    const all = new Set(await admin.listTopics());
    return this.opts.topics.filter((t) => all.has(t));
  }

  /** Offsets by time for the warm start, only when some partition of `topic` existed when first looked at. */
  private async warmOffsets(admin: Admin, topic: string, partitions: number): Promise<Map<number, number> | undefined> {
    const looked = this.firstLook.get(topic);
    if (looked !== undefined && looked >= partitions) return undefined;
    const since = Date.now() - this.opts.warmStartSec * 1000;
    return new Map((await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((o) => [o.partition, Number(o.offset)]));
  }

  private startOffset(topic: string, partition: number, low: number, high: number, byTime: Map<number, number> | undefined): number {
    const looked = this.firstLook.get(topic);
    // Created after the gateway first looked: all of it is recent, and none of it was read.
    if (looked !== undefined && partition >= looked) return low;
    const fromTime = byTime?.get(partition);
    return Math.max(low, high - this.opts.warmStartMaxRecords, fromTime === undefined || fromTime < 0 ? high : fromTime);
  }

  private scheduleSurvey(): void {
    if (this.stopped) return;
    this.surveyTimer = setTimeout(() => {
      this.survey().then(
        () => this.scheduleSurvey(),
        (e: unknown) => {
          this.log.debug({ err: (e as Error).message }, 'kafka topology survey failed; retrying');
          this.scheduleSurvey();
        },
      );
    }, this.opts.metadataRefreshMs);
    this.surveyTimer.unref();
  }

  /**
   * One look at the configured topics: plans partitions new to the instance, resets those whose
   * offsets went back, and restarts the consumer when the set of existing topics changed.
   */
  private async survey(): Promise<void> {
    if (!this.planned || this.stopped) return;
    // Positions before asking: the broker's offsets are at least these unless the log went back.
    const before = new Map(this.next);
    const resets = new Map(this.resets);
    const admin = this.admin as Admin;
    await admin.connect();
    const topics = await this.existingTopics(admin);
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      let byTime: Map<number, number> | undefined | null = null;
      for (const o of offsets) {
        const key = tpKey(topic, o.partition);
        const low = Number(o.low);
        const high = Number(o.high);
        if (this.resets.get(key) !== resets.get(key)) continue;
        if (this.wentBack(key, low, high, before.get(key))) this.resetPartition(topic, o.partition, { low, high, from: 'survey' });
        else if (!this.next.has(key)) {
          if (byTime === null) byTime = await this.warmOffsets(admin, topic, offsets.length);
          // kafkajs may already read it from the earliest offset: records below this are skipped.
          if (!this.next.has(key)) this.next.set(key, this.startOffset(topic, o.partition, low, high, byTime));
        }
      }
    }
    const subscribed = this.subscribed;
    if (subscribed === undefined || this.stopped) return;
    if (subscribed.length === 0 && topics.length === 0) {
      // Nothing to fetch from: reachable brokers are what live means now.
      this.lastFetchOk = Date.now();
      return;
    }
    if (subscribed.join(',') !== topics.join(',')) {
      // A planned switch, not an outage: the new consumer gets the usual time to fetch.
      this.lastFetchOk = Date.now();
      void this.replaceConsumer(`topics now existing: ${topics.join(',') || 'none'} (consumed: ${subscribed.join(',') || 'none'})`);
    }
  }

  /**
   * Records a partition's log start and end; true when either went back, or the end is below
   * `at`, the position this instance holds in it. Both only ever grow in one log: a decrease means
   * a new log under the same name.
   */
  private wentBack(key: string, low: number, high: number, at: number | undefined): boolean {
    const was = this.ends.get(key);
    this.ends.set(key, { low, high });
    return at !== undefined && (high < at || (was !== undefined && (high < was.high || low < was.low)));
  }

  /**
   * The partition's log went back (a topic deleted and recreated, or truncated): what this
   * instance holds no longer continues it. Re-read it from its earliest offset and tell the sink
   * which tickwire topics came from it, so their subscribers get a resync instead of a silent seam.
   */
  private resetPartition(topic: string, partition: number, why: Record<string, unknown>): void {
    if (this.stopped) return;
    const key = tpKey(topic, partition);
    const what = 'kafka partition offsets went back (topic recreated?): reading it again from its earliest offset';
    this.log.warn({ topic, partition, position: this.next.get(key), ...why }, what);
    this.next.set(key, 0);
    this.ends.delete(key);
    this.resets.set(key, (this.resets.get(key) ?? 0) + 1);
    const topics = this.seen.get(key);
    this.seen.delete(key);
    if (topics !== undefined && topics.size > 0) this.sink?.upstreamReset?.([...topics]);
    // Assigned to the running consumer or not: onJoin seeks the next one to `next`.
    try {
      this.consumer?.seek({ topic, partition, offset: '-2' });
    } catch {
      /* not running yet */
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
    const key = tpKey(batch.topic, batch.partition);
    let src = this.srcNames.get(key);
    if (src === undefined) this.srcNames.set(key, (src = `${this.clusterId}/${key}`));
    let next = this.next.get(key) ?? 0;
    const high = Number(batch.highWatermark);
    if (high < next) return this.resetPartition(batch.topic, batch.partition, { high, from: 'fetch' });
    let seen = this.seen.get(key);
    if (seen === undefined) this.seen.set(key, (seen = new Set()));
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
        else {
          sink.publish(r.topic, r.tick, src, offset);
          seen.add(r.topic);
        }
      } catch (e) {
        if (!this.failures) throw e;
        this.failures.record('ingest', e, { partition: batch.partition, offset });
      }
    }
    this.next.set(key, next);
    this.stats.lagRecords = Math.max(0, high - next);
    this.checkWarm();
  }

  private checkWarm(): void {
    if (this.warm || !this.planned) return;
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
    clearTimeout(this.surveyTimer);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

export function defaultInstanceId(epoch: string): string {
  return `${hostname()}-${process.pid}-${epoch}`;
}
