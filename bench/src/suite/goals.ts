/**
 * The goals of issue 6 (and the order-book figures of issue 15, B1–B4), in report order. A
 * scenario returns the GoalResults it measured; the runner lists every goal below, filling the
 * ones no scenario produced with `pass: null` and a note ("not measured"). Ids with a letter
 * (P7b, P9b) are the second figure of the same goal.
 */
import { availableParallelism } from 'node:os';
import type { GoalResult } from './types.js';

export interface GoalDef {
  id: string;
  title: string;
  goal: number;
  direction: 'min' | 'max';
  /** The scenario group that measures it. */
  group: string;
}

export const GOALS: GoalDef[] = [
  { id: 'P1', group: 'fanout', title: 'Ticks/s delivered, 1 topic → N clients: tickwire ÷ plain ws + JSON', goal: 15, direction: 'min' },
  { id: 'P2', group: 'fanout', title: 'Ticks/s delivered, 1 topic → N clients: tickwire ÷ Socket.IO (rooms)', goal: 30, direction: 'min' },
  // Issue 18 pt 2: against raw uWS publishing the same batched frames (one prebuilt frame per topic per
  // batch, no hub): the ceiling tickwire's hub can approach. The one-tick-per-frame figure is kept in raw.
  {
    id: 'P3',
    group: 'fanout',
    title: 'Ticks/s delivered, 1 topic → N clients: tickwire ÷ raw uWS publishing the same batched frames',
    goal: 0.9,
    direction: 'min',
  },
  // Issue 18 pt 3: ≥ 2× Centrifugo (its better client protocol, its whole-process CPU).
  { id: 'P4', group: 'fanout', title: 'Ticks/s delivered, 1 topic → N clients: tickwire ÷ Centrifugo', goal: 2, direction: 'min' },
  {
    id: 'P5',
    group: 'kafka',
    title: 'Kafka → client p99 latency: tickwire ÷ bare kafkajs consumer → one ws send',
    goal: 1.5,
    direction: 'max',
  },
  { id: 'P6', group: 'kafka', title: 'Kafka ingest rate: tickwire ÷ bare kafkajs consumer', goal: 0.9, direction: 'min' },
  { id: 'P7', group: 'wire', title: 'Wire bytes per tick: msgpack-compact ÷ JSON one-tick frames', goal: 0.25, direction: 'max' },
  { id: 'P7b', group: 'wire', title: 'Wire bytes per tick: msgpack + shared deflate ÷ JSON one-tick frames', goal: 0.15, direction: 'max' },
  // Issue 18 point 6: compression nearly free, two parts (P8 CPU, P8b bytes) of the same goal.
  {
    id: 'P8',
    group: 'compression',
    title: 'Deliveries per gateway CPU-second: compression on (msgpack-compact+deflate.d1) ÷ off (msgpack-compact)',
    goal: 0.8,
    direction: 'min',
  },
  {
    id: 'P8b',
    group: 'wire',
    title: 'Wire bytes per tick with compression on (msgpack-compact+deflate.d1) ÷ JSON one-tick frames',
    goal: 0.12,
    direction: 'max',
  },
  { id: 'P9', group: 'idle', title: 'Memory per idle connection: tickwire ÷ plain ws', goal: 0.33, direction: 'max' },
  {
    id: 'P9b',
    group: 'idle',
    title: 'Idle connections held by tickwire on this machine (absolute count, not a ratio)',
    goal: 100_000,
    direction: 'min',
  },
  {
    id: 'P10',
    group: 'stalled',
    title: "Healthy clients' p99 latency with 10 % stalled clients ÷ with none (and zero silent gaps)",
    goal: 1.2,
    direction: 'max',
  },
  // Issue 9: N = this machine's cores (at least 2), so the goal is 0.8 × N here.
  {
    id: 'W1',
    group: 'workers',
    title: 'Fan-out capacity with N workers ÷ with 1 worker (N = cores)',
    goal: 0.8 * Math.max(2, availableParallelism()),
    direction: 'min',
  },
  // Issue 15 (order books), one `books` run. The issue names the figures but no thresholds, so only
  // what holds by construction gets one; the others are informational rows (target NaN: no verdict).
  {
    id: 'B1',
    group: 'books',
    title:
      'Book fan-out, change sets delivered per gateway CPU-second: book.BTC-USD@100ms ÷ raw book.BTC-USD (informational: ' +
      'the throttled view delivers far fewer change sets by design)',
    goal: NaN,
    direction: 'min',
  },
  {
    id: 'B2',
    group: 'books',
    title: 'Book fan-out, bytes delivered per gateway CPU-second: book.BTC-USD@100ms ÷ raw book.BTC-USD (informational)',
    goal: NaN,
    direction: 'min',
  },
  {
    // A merged change set holds at most every level the interval's raw change sets touched, once:
    // a view that costs its clients more bytes than the raw topic is not merging.
    id: 'B3',
    group: 'books',
    title: 'Book fan-out, bytes per client-second: book.BTC-USD@100ms ÷ raw book.BTC-USD (the view must never send more)',
    goal: 1,
    direction: 'max',
  },
  {
    id: 'B4',
    group: 'books',
    title: 'Wire bytes per raw book change set (one per frame): msgpack-compact ÷ JSON (informational: no threshold stated for books)',
    goal: NaN,
    direction: 'max',
  },
];

/** pass for a measured value: null when the value is missing. */
export function passOf(value: number | null, goal: number, direction: 'min' | 'max'): boolean | null {
  if (value === null || !Number.isFinite(value) || !Number.isFinite(goal)) return null;
  return direction === 'min' ? value >= goal : value <= goal;
}

/** A goal result for a goal id from GOALS (throws on unknown ids). */
export function goalResult(
  id: string,
  value: number | null,
  raw: Record<string, unknown>,
  note?: string,
  passOverride?: boolean | null,
): GoalResult {
  const def = GOALS.find((g) => g.id === id);
  if (!def) throw new Error(`unknown goal ${id}`);
  const v = value !== null && Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;
  return {
    id,
    title: def.title,
    value: v,
    goal: def.goal,
    direction: def.direction,
    pass: passOverride !== undefined ? passOverride : passOf(v, def.goal, def.direction),
    ...(note ? { note } : {}),
    raw,
  };
}

/** A goal that was not measured, with the reason. */
export function notMeasured(id: string, note: string, raw: Record<string, unknown> = {}): GoalResult {
  const def = GOALS.find((g) => g.id === id);
  return { id, title: def?.title ?? id, value: null, goal: def?.goal ?? NaN, direction: def?.direction ?? 'min', pass: null, note, raw };
}

/** Orders goals as in GOALS (unknown ids after, in their order) and fills the missing ones. */
export function completeGoals(found: GoalResult[], missingNote: (def: GoalDef) => string): GoalResult[] {
  const byId = new Map<string, GoalResult>();
  for (const g of found) if (!byId.has(g.id)) byId.set(g.id, g);
  const out: GoalResult[] = [];
  for (const def of GOALS) out.push(byId.get(def.id) ?? notMeasured(def.id, missingNote(def)));
  for (const g of found) if (!GOALS.some((d) => d.id === g.id) && !out.includes(g)) out.push(g);
  return out;
}
