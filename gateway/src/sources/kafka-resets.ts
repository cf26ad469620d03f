import type { Logger } from 'pino';
import type { TickSink } from './source.js';
import { tpKey } from './kafka-offsets.js';

/** A partition's log start and end offsets. */
export interface LogEnds {
  low: number;
  high: number;
}

/**
 * True when a partition's log is no longer the one this instance read: its end is below `at`, the
 * position the instance holds in it, or its start or end went back since `was` (both only ever
 * grow in one log, so a decrease means a new log under the same name). Nothing held, nothing lost.
 */
export function wentBack(was: LogEnds | undefined, now: LogEnds, at: number | undefined): boolean {
  return at !== undefined && (now.high < at || (was !== undefined && (now.high < was.high || now.low < was.low)));
}

export interface ResetDeps {
  /** Offset of the next record to handle, per partition: a reset moves it back to the start. */
  next: Map<string, number>;
  log: Logger;
  sink: () => TickSink | undefined;
  /** Moves the running consumer, if any, to the partition's earliest offset. */
  seekEarliest: (topic: string, partition: number) => void;
  stopped: () => boolean;
}

/**
 * Detects a topic deleted and recreated (or truncated) and resets what came from it: the partition
 * is read again from its earliest offset and its tickwire topics get `TickSink.upstreamReset`, so
 * their subscribers get a resync instead of a silent seam, never a skip.
 */
export class PartitionResets {
  /** Log start and end offsets of each partition at the last look: both only ever grow. */
  private readonly ends = new Map<string, LogEnds>();
  /** Resets per partition, so that a survey never acts on offsets it read before a reset. */
  private readonly resets = new Map<string, number>();
  /** The tickwire topics published from each partition, the ones a reset of it concerns. */
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly deps: ResetDeps) {}

  /** Records a partition's log ends; true when its log went back (see `wentBack`). */
  observe(key: string, now: LogEnds, at: number | undefined): boolean {
    const was = this.ends.get(key);
    this.ends.set(key, { low: now.low, high: now.high });
    return wentBack(was, now, at);
  }

  /** How many times the partition was reset: a survey compares it before and after its awaits. */
  count(key: string): number | undefined {
    return this.resets.get(key);
  }

  /** A copy of every partition's reset count. */
  counts(): Map<string, number> {
    return new Map(this.resets);
  }

  /** The set the record reader adds a partition's tickwire topics to. */
  topicsOf(key: string): Set<string> {
    let seen = this.seen.get(key);
    if (seen === undefined) this.seen.set(key, (seen = new Set()));
    return seen;
  }

  /** The partition's log went back: what this instance holds no longer continues it. */
  reset(topic: string, partition: number, why: Record<string, unknown>): void {
    const { next, log, sink, seekEarliest, stopped } = this.deps;
    if (stopped()) return;
    const key = tpKey(topic, partition);
    const what = 'kafka partition offsets went back (topic recreated?): reading it again from its earliest offset';
    log.warn({ topic, partition, position: next.get(key), ...why }, what);
    next.set(key, 0);
    this.ends.delete(key);
    this.resets.set(key, (this.resets.get(key) ?? 0) + 1);
    const topics = this.seen.get(key);
    this.seen.delete(key);
    if (topics !== undefined && topics.size > 0) sink()?.upstreamReset?.([...topics]);
    // Assigned to the running consumer or not: the next join seeks it to `next`.
    seekEarliest(topic, partition);
  }
}
