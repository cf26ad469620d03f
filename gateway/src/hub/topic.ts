/** The state the hub keeps per topic and per throttled view; the behaviour lives in hub.ts, flush.ts and views.ts. */
import type { Payload } from '../../../protocol/src/ticks.js';
import type { TopicKind } from '../../../protocol/src/kinds.js';
import type { FoldState, Merger } from './fold.js';
import type { History } from './history.js';
import { Members } from './subscribers.js';
import type { HubSubscriber } from './types.js';

/** One topic in the hub: sequencing, the last value, pending ticks, positions, and who watches it. */
export interface TopicState<S extends HubSubscriber> {
  readonly name: string;
  readonly kind: TopicKind;
  /** Sequence number of the newest tick accepted (flushed or pending). 0 = none yet. */
  seq: number;
  /** The newest *flushed* tick, with sequence number `seq - pending.length`; what a snap carries (snapshot `last`). */
  last: Payload | undefined;
  /** Ticks accepted since the last flush, consecutive, ending at `seq`. */
  pending: Payload[];
  /** One record per subscriber of the plain topic (not its views), with the counts flush reads. */
  readonly members: Members<S>;
  /** Snap frames of `last`, index codec*2 + (resync ? 1 : 0); emptied whenever `last` changes. */
  snap: (Uint8Array | undefined)[];
  /** Resume history (ticks with arrival times and offsets), from the topic's first tick on. */
  hist: History | undefined;
  /** Throttled views of this topic that have subscribers, by interval. */
  views: Map<number, View<S>> | undefined;
  /**
   * The one upstream stream all of this epoch's ticks of the topic came from (see
   * SourcePosition); undefined before the first tick, null once a tick came without a position or
   * from another stream: positions are then never offered for this topic in this epoch, because
   * another instance could interleave the streams differently.
   */
  src: string | null | undefined;
  /** Upstream offsets of `pending` and of `last` (those of history are in `hist`). */
  pendingOff: number[];
  lastOff: number;
  /**
   * Snapshot `fold` (fold.ts): every flushed tick folded in, the state at the seq of `last`; a
   * snap carries it (snapPayload). Undefined for snapshot `last`.
   */
  readonly fold: FoldState | undefined;
}

export function newTopic<S extends HubSubscriber>(name: string, kind: TopicKind, codecs: number, fold?: FoldState): TopicState<S> {
  return {
    name,
    kind,
    seq: 0,
    last: undefined,
    pending: [],
    members: new Members<S>(name, codecs),
    snap: [],
    hist: undefined,
    views: undefined,
    src: undefined,
    pendingOff: [],
    lastOff: -1,
    fold,
  };
}

/** What a snap of the topic carries: its folded state (snapshot `fold`), else its newest flushed tick. */
export function snapPayload<S extends HubSubscriber>(t: TopicState<S>): Payload {
  return t.fold !== undefined ? t.fold.snapshot() : (t.last as Payload);
}

/** Sequence number of the newest flushed tick: what a subscriber can have seen. */
export function flushedSeq(t: { readonly seq: number; readonly pending: readonly unknown[] }): number {
  return t.seq - t.pending.length;
}

/**
 * A conflated view `<topic>@<interval>`: at most one tick per interval, throttle `latest`: the
 * newest, or `merge` (a fold topic): the interval's ticks merged into one.
 */
export interface View<S extends HubSubscriber> {
  readonly name: string;
  readonly base: TopicState<S>;
  readonly intervalMs: number;
  readonly members: Members<S>;
  /** The tick last sent to the view's subscribers, and its seq; what a snap of the view carries (throttle `latest`). */
  lastTick: Payload | undefined;
  lastSeq: number;
  /** Hub time at which the next update may go out. */
  nextDue: number;
  /** Snap frames of `lastTick` (or `merge.state`), index codec*2 + (resync ? 1 : 0). */
  snap: (Uint8Array | undefined)[];
  /**
   * Throttle `merge`: the base topic's ticks flushed since the view's last update (TopicFlush adds
   * them), and the base state at `lastSeq`, which the view's snap carries.
   */
  readonly merge: { readonly merger: Merger; readonly state: FoldState } | undefined;
}
