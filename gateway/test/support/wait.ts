/**
 * Waiting on conditions instead of fixed sleeps: a test that sleeps "long enough" on a quiet
 * machine fails on a busy one. Bounds are generous because they only cost time on failure.
 */

export interface WaitOptions {
  /** Upper bound; the wait fails after it. Default 30 s. */
  timeoutMs?: number;
  /** What is awaited, for the timeout message ("3 acks", "/readyz 200"). */
  what: string;
  /** Poll period. Default 20 ms. */
  intervalMs?: number;
}

/**
 * Default bound of the test clients' waits (messages, close, conditions): generous, since it only
 * costs time when the awaited thing never comes, and a loaded machine can be seconds late.
 */
export const WAIT_MS = 15_000;

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `pred` until it returns a truthy value (which is returned) or `timeoutMs` passes; the
 * error names `what` and the last value or error seen. `pred` may be async; a throwing `pred`
 * counts as "not yet".
 */
export async function waitFor<T>(pred: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 20;
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 >= timeoutMs) {
      const seen = last instanceof Error ? `last error: ${last.message}` : `last value: ${String(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what} (${seen})`);
    }
    await pause(intervalMs);
  }
}

/**
 * Event-loop lag of this process: how late a 10 ms timer fires, sampled until `stop()`. On a busy
 * machine a test can print it beside a failure, or scale a time window by it.
 */
export function lagMonitor(): { maxMs: () => number; stop: () => void } {
  let max = 0;
  let expected = Date.now() + 10;
  const timer = setInterval(() => {
    const now = Date.now();
    max = Math.max(max, now - expected);
    expected = now + 10;
  }, 10);
  timer.unref();
  return { maxMs: () => max, stop: () => clearInterval(timer) };
}
