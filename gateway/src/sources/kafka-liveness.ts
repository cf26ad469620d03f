import type { Logger } from 'pino';
import { warmReached } from './kafka-offsets.js';

export interface LivenessOptions {
  /** No successful fetch for this long means the source is not live (`/readyz` 503). */
  staleMs: number;
  retryMaxMs: number;
  metadataRefreshMs: number;
}

/**
 * How long the source stays live after its last successful fetch. With no topic to fetch from
 * (`idle`), the survey's successes are what keeps it live, at its own pace.
 */
export function staleAfterMs(o: LivenessOptions, idle: boolean): number {
  return o.staleMs + (idle ? o.metadataRefreshMs : 0);
}

/** Down this long (since the last fetch or replacement), the consumer is replaced: longer than kafkajs's own retries. */
export function replaceAfterMs(o: LivenessOptions): number {
  return Math.max(10_000, 2 * o.staleMs, 3 * o.retryMaxMs);
}

/**
 * Whether ticks can flow: the warm start is complete (every partition reached its end as seen at
 * the plan) and a fetch succeeded recently. Logs and counts live ↔ not-live transitions (an outage
 * is otherwise only a missing event) and asks for a new consumer when one stays down.
 */
export class Liveness {
  private lastFetchOk = 0;
  private lastReplace = Date.now();
  private wasLive = false;
  private warm = false;
  /** End offsets per partition at the plan; undefined until planned (an empty plan is reached at once). */
  private warmTarget: ReadonlyMap<string, number> | undefined;

  constructor(
    private readonly opts: LivenessOptions,
    private readonly stats: { outages: number },
    private readonly log: Logger,
    private readonly replace: (why: string) => void,
  ) {}

  /** A successful fetch, or what stands for one (reachable brokers with nothing to fetch, a planned switch). */
  fetched(): void {
    this.lastFetchOk = Date.now();
  }

  replaced(): void {
    this.lastReplace = Date.now();
  }

  isLive(idle: boolean): boolean {
    return this.warm && Date.now() - this.lastFetchOk < staleAfterMs(this.opts, idle);
  }

  planned(target: ReadonlyMap<string, number>, next: ReadonlyMap<string, number>): void {
    this.warmTarget = target;
    this.checkWarm(next);
  }

  checkWarm(next: ReadonlyMap<string, number>): void {
    if (this.warm || this.warmTarget === undefined || !warmReached(this.warmTarget, next)) return;
    this.warm = true;
    this.log.info('kafka warm start complete');
  }

  /** Called periodically with the source's `live`. */
  watch(live: boolean): void {
    const downFor = Date.now() - Math.max(this.lastFetchOk, this.lastReplace);
    if (!live && downFor > replaceAfterMs(this.opts)) this.replace(`no successful fetch for ${downFor} ms`);
    if (live === this.wasLive) return;
    this.wasLive = live;
    if (live) this.log.info('kafka source live');
    else {
      this.stats.outages++;
      this.log.warn({ lastFetchAgoMs: Date.now() - this.lastFetchOk }, 'kafka source not live: no successful fetch; retrying with backoff');
    }
  }
}
