import type { HubSubscriber, ResumePoint } from './types.js';

/**
 * Where one subscriber stands on one topic (or throttled view):
 * - `awaiting`: subscribed, its first frame (a snap, or the topic's first data) comes from a flush;
 * - `resync`: the same, but that snap says continuity was lost (`resync: true`);
 * - `parked`: resuming another instance's position this hub has not reached yet (see Positions);
 * - `live`: a `viaTopic` subscriber past its first frame, reached by `TopicDelivery.publish`;
 * - `direct`: any other subscriber past its first frame, handed each frame by `Deliver`;
 * - `conflated`: was live or direct, but its transport stopped writing to it (a slow consumer): no
 *   upd reaches it until it recovers with a resync snap of the newest tick (Hub.conflate/recover);
 * - `new` before it joined and `gone` after it left: no count includes those.
 * A subscriber gets upd frames only when live or direct, so it never sees a tick twice or one
 * before its snap.
 */
export type MemberState = 'new' | 'awaiting' | 'resync' | 'parked' | 'live' | 'direct' | 'conflated' | 'gone';

export interface Member<S extends HubSubscriber> {
  readonly sub: S;
  state: MemberState;
  /**
   * Parked only: the resume point it waits for, and until when (hub clock). Absent on a member
   * that joins in any other state: one record per subscription, so 16 bytes per idle connection.
   */
  since?: ResumePoint | undefined;
  deadline?: number;
}

/** The state a subscriber takes once its first frame went out. */
export function liveState(sub: HubSubscriber): 'live' | 'direct' {
  return sub.viaTopic ? 'live' : 'direct';
}

const waits = (s: MemberState): boolean => s === 'awaiting' || s === 'resync';

/** Which moves are legal from each state; `live`/`direct` also have to match the subscriber's `viaTopic`. */
const NEXT: Record<MemberState, readonly MemberState[]> = {
  new: ['awaiting', 'resync', 'parked', 'live', 'direct'],
  awaiting: ['resync', 'live', 'direct', 'gone'],
  resync: ['resync', 'live', 'direct', 'gone'],
  parked: ['resync', 'live', 'direct', 'gone'],
  live: ['resync', 'conflated', 'gone'],
  direct: ['resync', 'conflated', 'gone'],
  conflated: ['resync', 'live', 'direct', 'gone'],
  gone: [],
};

export function isLegal(from: MemberState, to: MemberState, viaTopic: boolean): boolean {
  if (to === 'live' && !viaTopic) return false;
  if (to === 'direct' && viaTopic) return false;
  return NEXT[from].includes(to);
}

/**
 * The subscribers of one topic or throttled view, one record each, and the counts the flush path
 * reads instead of asking per subscriber. Every state change goes through `transition`, which
 * keeps all of them: the per-codec live counts (one publish per frame reaches them), the direct
 * set (frames one by one), the receiving set (live or direct), the awaiting set (in arrival order: who gets a snap at the next flush)
 * and the parked set.
 */
export class Members<S extends HubSubscriber> {
  readonly bySub = new Map<S, Member<S>>();
  /** `live` members per codec id. */
  readonly live: number[];
  /** Subscribers in state `direct`. */
  readonly direct = new Set<S>();
  /** Subscribers in state `live` or `direct`: who gets upd frames when a flush has no TopicDelivery. */
  readonly receiving = new Set<S>();
  readonly awaiting = new Set<Member<S>>();
  readonly parked = new Set<Member<S>>();
  /** Members in state `conflated`. */
  conflated = 0;

  constructor(
    readonly name: string,
    codecs: number,
  ) {
    this.live = new Array<number>(codecs).fill(0);
  }

  get size(): number {
    return this.bySub.size;
  }

  get(sub: S): Member<S> | undefined {
    return this.bySub.get(sub);
  }

  /** Adds `sub` in state `to` (it must not be a member yet). */
  join(sub: S, to: MemberState, since?: ResumePoint, deadline = 0): Member<S> {
    if (this.bySub.has(sub)) throw new Error(`hub: subscriber joins ${this.name} twice`);
    const m: Member<S> = to === 'parked' ? { sub, state: 'new', since, deadline } : { sub, state: 'new' };
    this.transition(m, to);
    return m;
  }

  /**
   * The one place a member changes state. Throws on a move the table does not allow, before
   * changing anything; a move to the state it is in is a no-op (only `resync` allows it).
   */
  transition(m: Member<S>, to: MemberState): void {
    const from = m.state;
    if (!isLegal(from, to, m.sub.viaTopic === true)) throw new Error(`hub: ${this.name}: illegal subscriber transition ${from} -> ${to}`);
    if (from === to) return;
    switch (from) {
      case 'new':
        this.bySub.set(m.sub, m);
        break;
      case 'awaiting':
      case 'resync':
        // Between the two a member keeps its place in line.
        if (!waits(to)) this.awaiting.delete(m);
        break;
      case 'parked':
        this.parked.delete(m);
        m.since = undefined;
        break;
      case 'live':
        this.live[m.sub.codec] = (this.live[m.sub.codec] as number) - 1;
        this.receiving.delete(m.sub);
        break;
      case 'direct':
        this.direct.delete(m.sub);
        this.receiving.delete(m.sub);
        break;
      case 'conflated':
        this.conflated--;
        break;
    }
    switch (to) {
      case 'awaiting':
      case 'resync':
        if (!waits(from)) this.awaiting.add(m);
        break;
      case 'parked':
        this.parked.add(m);
        break;
      case 'live':
        this.live[m.sub.codec] = (this.live[m.sub.codec] as number) + 1;
        this.receiving.add(m.sub);
        break;
      case 'direct':
        this.direct.add(m.sub);
        this.receiving.add(m.sub);
        break;
      case 'conflated':
        this.conflated++;
        break;
      case 'gone':
        this.bySub.delete(m.sub);
        break;
    }
    m.state = to;
  }

  /** Who is live (reached by publish) on this name right now: what a transport's fan-out list must hold. */
  *liveSubscribers(): IterableIterator<S> {
    for (const m of this.bySub.values()) if (m.state === 'live') yield m.sub;
  }

  /** The counts recomputed from the records: equal to the kept ones at all times (tests check it). */
  recount(): { live: number[]; direct: number; receiving: number; awaiting: number; parked: number; conflated: number } {
    const live = this.live.map(() => 0);
    let direct = 0;
    let receiving = 0;
    let awaiting = 0;
    let parked = 0;
    let conflated = 0;
    for (const m of this.bySub.values()) {
      if (m.state === 'live') live[m.sub.codec] = (live[m.sub.codec] as number) + 1;
      else if (m.state === 'direct') direct++;
      else if (waits(m.state)) awaiting++;
      else if (m.state === 'parked') parked++;
      else if (m.state === 'conflated') conflated++;
    }
    for (const m of this.bySub.values()) if (m.state === 'live' || m.state === 'direct') receiving++;
    return { live, direct, receiving, awaiting, parked, conflated };
  }
}
