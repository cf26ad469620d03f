import type { Admin } from 'kafkajs';

/** A partition's key in the source's maps. */
export const tpKey = (topic: string, partition: number): string => `${topic}/${partition}`;

/** A partition's log start (`low`) and end (`high`, the next offset to be written). */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

export async function fetchOffsets(admin: Admin, topic: string): Promise<PartitionOffsets[]> {
  return (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
}

/**
 * Offsets by time are needed only when some partition of a topic existed when the gateway first
 * looked at it (`looked`: its partition count then, undefined before the first look).
 */
export function needsOffsetsByTime(looked: number | undefined, partitions: number): boolean {
  return looked === undefined || looked < partitions;
}

/** Per partition, the first offset at or after `since` (ms); negative when there is none. */
export async function fetchOffsetsByTime(admin: Admin, topic: string, since: number): Promise<Map<number, number>> {
  return new Map((await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((o) => [o.partition, Number(o.offset)]));
}

/**
 * Where the instance starts reading a partition it does not track yet. One that existed when the
 * gateway first looked starts at most `maxRecords` before its end and no earlier than the first
 * record of the warm-start window (`byTime`: none in it, or not asked, starts at the end). One
 * created since is all recent and none of it was read: it starts at its earliest offset.
 */
export function startOffset(
  p: PartitionOffsets,
  looked: number | undefined,
  byTime: ReadonlyMap<number, number> | undefined,
  maxRecords: number,
): number {
  if (looked !== undefined && p.partition >= looked) return p.low;
  const fromTime = byTime?.get(p.partition);
  return Math.max(p.low, p.high - maxRecords, fromTime === undefined || fromTime < 0 ? p.high : fromTime);
}

/** The warm start is complete once every partition's position reached its end as seen at the plan. */
export function warmReached(target: ReadonlyMap<string, number>, next: ReadonlyMap<string, number>): boolean {
  for (const [key, high] of target) if ((next.get(key) ?? 0) < high) return false;
  return true;
}
