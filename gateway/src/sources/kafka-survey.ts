import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { fetchOffsets, fetchOffsetsByTime, needsOffsetsByTime, startOffset, tpKey, type PartitionOffsets } from './kafka-offsets.js';
import type { PartitionResets } from './kafka-resets.js';

export interface SurveyOptions {
  /** The configured Kafka topics, in configured order; any of them may not exist (yet). */
  topics: string[];
  warmStartSec: number;
  warmStartMaxRecords: number;
  metadataRefreshMs: number;
}

export interface SurveyDeps {
  /** Offset of the next record to handle, per partition: the survey adds partitions it plans. */
  next: Map<string, number>;
  resets: PartitionResets;
  log: Logger;
  stopped: () => boolean;
  /** The brokers' cluster id, told at every plan before anything else is asked. */
  onCluster: (id: string) => void;
  /** After each survey, with the configured topics that exist then. */
  onSurveyed: (existing: string[]) => void;
}

/** What the existing topics mean for a consumer subscribed to `subscribed`. */
export type TopologyChange = 'unchanged' | 'none' | 'changed';

/**
 * `none`: no topic exists, nor did any when the consumer started: nothing to fetch from, so
 * reachable brokers are what live means. `changed`: the consumer must be replaced by one
 * subscribed to the existing topics (kafkajs cannot add topics to a running consumer).
 */
export function topologyChange(subscribed: readonly string[], existing: readonly string[]): TopologyChange {
  if (subscribed.length === 0 && existing.length === 0) return 'none';
  return subscribed.join(',') === existing.join(',') ? 'unchanged' : 'changed';
}

/**
 * The topic/partition survey: which configured topics exist, where a partition new to the
 * instance starts, and which partition's offsets went back. `plan` runs at each consumer start;
 * `survey` every `metadataRefreshMs` after `start`, so the topology may change while running.
 */
export class TopologySurvey {
  /** Partition count of each configured topic when first looked at (0: missing): later partitions are new. */
  private readonly firstLook = new Map<string, number>();
  private planned = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly admin: Admin,
    private readonly opts: SurveyOptions,
    private readonly deps: SurveyDeps,
  ) {}

  /**
   * Start offsets of partitions not tracked yet: the last `warmStartSec` seconds, at most
   * `warmStartMaxRecords`, of those that existed when first looked at; all of those created
   * since. Returns the configured topics that exist and the end offset of each of their partitions.
   */
  async plan(): Promise<{ topics: string[]; ends: Map<string, number> }> {
    const { next, resets } = this.deps;
    await this.admin.connect();
    this.deps.onCluster((await this.admin.describeCluster()).clusterId);
    const topics = await this.existingTopics();
    const ends = new Map<string, number>();
    for (const topic of topics) {
      const offsets = await fetchOffsets(this.admin, topic);
      const byTime = await this.offsetsByTime(topic, offsets.length);
      for (const o of offsets) {
        const key = tpKey(topic, o.partition);
        // A replacement consumer: nothing of this partition is fetched meanwhile, so `next` is exact.
        if (resets.observe(key, o, next.get(key))) resets.reset(topic, o.partition, { low: o.low, high: o.high, from: 'plan' });
        if (!next.has(key)) next.set(key, this.startOf(topic, o, byTime));
        ends.set(key, o.high);
      }
      if (!this.firstLook.has(topic)) this.firstLook.set(topic, offsets.length);
    }
    for (const topic of this.opts.topics) if (!this.firstLook.has(topic)) this.firstLook.set(topic, 0);
    this.planned = true;
    return { topics, ends };
  }

  start(): void {
    if (this.deps.stopped()) return;
    this.timer = setTimeout(() => {
      this.survey().then(
        () => this.start(),
        (e: unknown) => {
          this.deps.log.debug({ err: (e as Error).message }, 'kafka topology survey failed; retrying');
          this.start();
        },
      );
    }, this.opts.metadataRefreshMs);
    this.timer.unref();
  }

  /** No survey after this one; `disconnect` closes the admin client. */
  stop(): void {
    clearTimeout(this.timer);
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }

  /** One look at the configured topics: plans partitions new to the instance, resets those whose offsets went back. */
  private async survey(): Promise<void> {
    const { next, resets, stopped } = this.deps;
    if (!this.planned || stopped()) return;
    // Positions before asking: the broker's offsets are at least these unless the log went back.
    const before = new Map(next);
    const counts = resets.counts();
    await this.admin.connect();
    const topics = await this.existingTopics();
    for (const topic of topics) {
      const offsets = await fetchOffsets(this.admin, topic);
      let byTime: Map<number, number> | undefined | null = null;
      for (const o of offsets) {
        const key = tpKey(topic, o.partition);
        if (resets.count(key) !== counts.get(key)) continue;
        if (resets.observe(key, o, before.get(key))) resets.reset(topic, o.partition, { low: o.low, high: o.high, from: 'survey' });
        else if (!next.has(key)) {
          if (byTime === null) byTime = await this.offsetsByTime(topic, offsets.length);
          // kafkajs may already read it from the earliest offset: records below this are skipped.
          if (!next.has(key)) next.set(key, this.startOf(topic, o, byTime));
        }
      }
    }
    if (!stopped()) this.deps.onSurveyed(topics);
  }

  /** The configured topics that exist, in configured order. */
  private async existingTopics(): Promise<string[]> {
    const all = new Set(await this.admin.listTopics());
    return this.opts.topics.filter((t) => all.has(t));
  }

  private async offsetsByTime(topic: string, partitions: number): Promise<Map<number, number> | undefined> {
    if (!needsOffsetsByTime(this.firstLook.get(topic), partitions)) return undefined;
    return fetchOffsetsByTime(this.admin, topic, Date.now() - this.opts.warmStartSec * 1000);
  }

  private startOf(topic: string, o: PartitionOffsets, byTime: Map<number, number> | undefined): number {
    return startOffset(o, this.firstLook.get(topic), byTime, this.opts.warmStartMaxRecords);
  }
}
