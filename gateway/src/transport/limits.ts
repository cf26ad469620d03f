/**
 * Limit primitives for the transport. Pure: time is passed in (ms), nothing schedules itself.
 */

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes `cost` tokens (at most the burst, so that any message can pass on a full bucket), or none. */
  take(now: number, cost = 1): boolean {
    this.tokens = refill(this.tokens, now - this.at, this.rate, this.burst);
    this.at = now;
    const c = bucketCost(cost, this.burst);
    if (this.tokens < c) return false;
    this.tokens -= c;
    return true;
  }

  /** True when the bucket has refilled completely (its state carries no information). */
  full(now: number): boolean {
    return this.tokens + ((now - this.at) / 1000) * this.rate >= this.burst;
  }
}

/**
 * The token bucket's arithmetic, for a holder that keeps the two numbers in its own fields (a
 * Session: one bucket object per connection was 72 bytes of heap, issue 18 point 7): the tokens
 * after `elapsedMs`, refilled at `rate` per second up to `burst`.
 */
export function refill(tokens: number, elapsedMs: number, rate: number, burst: number): number {
  return Math.min(burst, tokens + (elapsedMs / 1000) * rate);
}

/** What a take of `cost` tokens costs: at most the burst, so that any message can pass on a full bucket. */
export function bucketCost(cost: number, burst: number): number {
  return Math.min(cost, Math.max(1, burst));
}

/** The origin of `sinceBase`. */
const CLOCK_BASE = Date.now();

/**
 * `now` (ms) as ms since a process-wide origin, for times kept per connection: `Date.now()` is
 * past 2^31, so a field holding it is a 16-byte heap number; this stays a small integer, held in
 * the field itself, for 24 days. Differences of such times are those of the times given.
 */
export function sinceBase(now: number): number {
  const t = now - CLOCK_BASE;
  // Arithmetic on `Date.now()` yields a heap number even when the result is small; `| 0` does not.
  return t === (t | 0) ? t | 0 : t;
}

/**
 * Per-IP admission: open connections and connection-attempt rate. Buckets of IPs that stopped
 * connecting are pruned, so memory follows the set of active clients, not every IP ever seen.
 */
export class IpAdmission {
  private readonly open = new Map<string, number>();
  private readonly attempts = new Map<string, TokenBucket>();

  constructor(
    private readonly maxPerIp: number,
    private readonly ratePerSec: number,
  ) {}

  /** Checks an upgrade attempt; counts it against the rate either way. */
  admit(ip: string, now: number): 'ok' | 'too_many_connections' | 'rate_limited' {
    let b = this.attempts.get(ip);
    if (!b) this.attempts.set(ip, (b = new TokenBucket(this.ratePerSec, this.ratePerSec * 2, now)));
    if (!b.take(now)) return 'rate_limited';
    if ((this.open.get(ip) ?? 0) >= this.maxPerIp) return 'too_many_connections';
    return 'ok';
  }

  opened(ip: string): void {
    this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    const n = (this.open.get(ip) ?? 0) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  openFrom(ip: string): number {
    return this.open.get(ip) ?? 0;
  }

  prune(now: number): void {
    for (const [ip, b] of this.attempts) if (b.full(now)) this.attempts.delete(ip);
  }
}

/**
 * Deadlines per item (token expiry, maximum lifetime), bucketed by second so that checking what
 * is due costs nothing per connection that is not due.
 */
export class Deadlines<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly at = new Map<T, number>();

  add(item: T, atMs: number): void {
    this.remove(item);
    const s = Math.ceil(atMs / 1000);
    let b = this.buckets.get(s);
    if (!b) this.buckets.set(s, (b = new Set()));
    b.add(item);
    this.at.set(item, s);
  }

  remove(item: T): void {
    const s = this.at.get(item);
    if (s === undefined) return;
    this.at.delete(item);
    const b = this.buckets.get(s);
    b?.delete(item);
    if (b?.size === 0) this.buckets.delete(s);
  }

  /** Removes and returns every item whose deadline is at or before `now`. */
  due(now: number): T[] {
    const out: T[] = [];
    const limit = Math.floor(now / 1000);
    for (const [s, b] of this.buckets) {
      if (s > limit) continue;
      for (const item of b) {
        out.push(item);
        this.at.delete(item);
      }
      this.buckets.delete(s);
    }
    return out;
  }
}
