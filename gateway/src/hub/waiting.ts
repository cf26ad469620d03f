import { THROTTLE_INTERVALS } from '../../../protocol/src/topics.js';

/** Which bound refused a waiting subscription (the `limit` label of tickwire_waiting_refused_total). */
export type WaitLimit = 'connection' | 'ip' | 'total';
export const WAIT_LIMITS: readonly WaitLimit[] = ['connection', 'ip', 'total'];

export interface WaitingLimits {
  perConnection: number;
  perIp: number;
  total: number;
}

export interface WaitingStats {
  /** Subscriptions currently waiting for their topic's first tick. */
  current: number;
  refused: Record<WaitLimit, number>;
}

/** What a waiting subscription needs once its topic exists: the resume point and, for a park, its deadline. */
export interface Waiter<P> {
  readonly since: P | undefined;
  readonly deadline: number;
}

/** The owner of a waiting subscription: the subscriber itself is the connection; `remote` its client IP. */
export interface WaitingOwner {
  readonly remote?: string;
}

/**
 * Subscriptions to topics (or throttled views) that have no data yet. A topic costs a hub
 * TopicState (history arrays and all) only once it has a tick; until then a subscription to it is
 * one map entry here, bounded per connection, per client IP and in total, so that clients cannot
 * buy memory or CPU by naming symbols that do not exist. Every entry is deleted when its
 * subscriber leaves or the topic gets its first tick; empty maps are deleted with it.
 */
export class Waiting<S extends WaitingOwner, P> {
  readonly stats: WaitingStats = { current: 0, refused: { connection: 0, ip: 0, total: 0 } };
  private readonly byName = new Map<string, Map<S, Waiter<P>>>();
  private readonly perSub = new Map<S, number>();
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: WaitingLimits) {}

  /** Adds `sub` as waiting on `name`; says which limit refused it, if one did. */
  add(sub: S, name: string, w: Waiter<P>): 'ok' | 'duplicate' | WaitLimit {
    let subs = this.byName.get(name);
    if (subs?.has(sub)) return 'duplicate';
    const ip = sub.remote ?? '';
    const limit =
      (this.perSub.get(sub) ?? 0) >= this.limits.perConnection
        ? 'connection'
        : (this.perIp.get(ip) ?? 0) >= this.limits.perIp
          ? 'ip'
          : this.stats.current >= this.limits.total
            ? 'total'
            : undefined;
    if (limit) {
      this.stats.refused[limit]++;
      return limit;
    }
    if (!subs) this.byName.set(name, (subs = new Map<S, Waiter<P>>()));
    subs.set(sub, w);
    this.perSub.set(sub, (this.perSub.get(sub) ?? 0) + 1);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.stats.current++;
    return 'ok';
  }

  get(sub: S, name: string): Waiter<P> | undefined {
    return this.byName.get(name)?.get(sub);
  }

  /** Returns false when `sub` was not waiting on `name`. */
  remove(sub: S, name: string): boolean {
    const subs = this.byName.get(name);
    if (!subs?.delete(sub)) return false;
    if (subs.size === 0) this.byName.delete(name);
    this.release(sub);
    return true;
  }

  /** Removes and returns everything waiting on topic `base` and its throttled views, plain topic first. */
  take(base: string): [name: string, subs: Map<S, Waiter<P>>][] {
    if (this.byName.size === 0) return [];
    const out: [string, Map<S, Waiter<P>>][] = [];
    for (const name of [base, ...Object.keys(THROTTLE_INTERVALS).map((i) => `${base}@${i}`)]) {
      const subs = this.byName.get(name);
      if (!subs) continue;
      this.byName.delete(name);
      for (const sub of subs.keys()) this.release(sub);
      out.push([name, subs]);
    }
    return out;
  }

  /** Topics (and views) with someone waiting on them. */
  get names(): number {
    return this.byName.size;
  }

  private release(sub: S): void {
    this.stats.current--;
    const n = (this.perSub.get(sub) ?? 1) - 1;
    if (n === 0) this.perSub.delete(sub);
    else this.perSub.set(sub, n);
    const ip = sub.remote ?? '';
    const m = (this.perIp.get(ip) ?? 1) - 1;
    if (m === 0) this.perIp.delete(ip);
    else this.perIp.set(ip, m);
  }
}
