/**
 * Exponential backoff with full jitter (delay uniformly random in [0, ceiling), where the
 * ceiling grows by `factor` per attempt up to `maxDelayMs`). Full jitter spreads the reconnects
 * of many clients that lost the same gateway at the same moment.
 */

export interface BackoffOptions {
  /** Ceiling of the first attempt's delay, ms. Default 500. */
  initialDelayMs: number;
  /** Largest ceiling, ms. Default 30 000. */
  maxDelayMs: number;
  /** Growth of the ceiling per attempt. Default 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/** The ceiling of attempt `attempt` (1-based): min(maxDelayMs, initialDelayMs × factor^(attempt-1)). */
export function backoffCeiling(attempt: number, o: BackoffOptions): number {
  const n = Math.max(1, attempt);
  return Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(o.factor, n - 1));
}

/** The delay before attempt `attempt` (1-based): floor(random() × ceiling). `random` returns [0, 1). */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCeiling(attempt, o));
}

/** Checks options once, so that a typo shows at construction and not at the first reconnect. */
export function validateBackoff(o: BackoffOptions): BackoffOptions {
  if (!(o.initialDelayMs >= 0) || !Number.isFinite(o.initialDelayMs))
    throw new RangeError(`reconnect.initialDelayMs must be a finite number >= 0 (got ${o.initialDelayMs})`);
  if (!(o.maxDelayMs >= o.initialDelayMs)) throw new RangeError(`reconnect.maxDelayMs must be >= initialDelayMs (got ${o.maxDelayMs})`);
  if (!(o.factor >= 1) || !Number.isFinite(o.factor))
    throw new RangeError(`reconnect.factor must be a finite number >= 1 (got ${o.factor})`);
  return o;
}
