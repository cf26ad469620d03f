import type { Logger } from 'pino';

/**
 * Last-resort guards on the paths that carry data from outside into the gateway. Input is
 * validated before it gets here (record.ts, publish-body.ts, payload.ts), so an exception on these
 * paths is a bug; but one bad record or request must cost that record, never the process and
 * every client with it (issue 13: one poison record crash-looped the gateway). Each is counted in
 * `tickwire_internal_errors_total{site}` and logged at most once per second per site.
 */
export type FailureSite = 'ingest' | 'publish' | 'flush' | 'handoff';

export const FAILURE_SITES: readonly FailureSite[] = ['ingest', 'publish', 'flush', 'handoff'];

export class Failures {
  readonly counts: Record<FailureSite, number> = { ingest: 0, publish: 0, flush: 0, handoff: 0 };
  private log: Logger | undefined;
  private readonly logged = new Map<FailureSite, { at: number; suppressed: number }>();

  logTo(log: Logger): void {
    this.log = log;
  }

  record(site: FailureSite, err: unknown, context: Record<string, unknown> = {}): void {
    this.counts[site]++;
    const now = Date.now();
    const last = this.logged.get(site);
    if (last && now - last.at < 1000) {
      last.suppressed++;
      return;
    }
    this.logged.set(site, { at: now, suppressed: 0 });
    const e = err instanceof Error ? err : new Error(String(err));
    const stack = e.stack?.split('\n').slice(0, 6).join('\n');
    const suppressed = last?.suppressed ?? 0;
    this.log?.error({ site, err: { message: e.message, stack }, suppressed, ...context }, 'internal error contained');
  }

  /** Runs `fn`; an exception is recorded under `site` and becomes `undefined`. */
  guard<T>(site: FailureSite, fn: () => T, context?: Record<string, unknown>): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.record(site, e, context);
      return undefined;
    }
  }
}
