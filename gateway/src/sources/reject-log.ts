import type { Logger } from 'pino';
import type { RejectReason } from '../../../protocol/src/validate.js';

/**
 * Counts rejected upstream records by reason and logs them at most once per second per reason,
 * with how many were not logged since: a flood of bad records must not flood the log too.
 */
export class RejectLog {
  private readonly last = new Map<RejectReason, { at: number; suppressed: number }>();

  constructor(
    private readonly stats: { rejected: Record<RejectReason, number> },
    private readonly log: Logger,
    /** The log message, e.g. 'kafka record rejected'. */
    private readonly message: string,
  ) {}

  reject(reason: RejectReason, detail: string, context: Record<string, unknown> = {}): void {
    this.stats.rejected[reason]++;
    const now = Date.now();
    const last = this.last.get(reason);
    if (last && now - last.at < 1000) {
      last.suppressed++;
      return;
    }
    this.log.warn({ reason, detail, ...context, suppressed: last?.suppressed ?? 0 }, this.message);
    this.last.set(reason, { at: now, suppressed: 0 });
  }
}
