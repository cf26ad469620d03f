/**
 * Bounded stopping for tickwire-feed. With the broker gone, kafkajs retries connects and sends for
 * a long time, so a Ctrl-C that waited for them would be ignored; every wait on the way out is
 * capped here, and what Kafka never acknowledged is counted instead of waited for.
 */
import type { SinkStats } from './kafka-sink.js';

export const ABORTED = Symbol('aborted');
export const TIMED_OUT = Symbol('timed out');

/** `p`'s value, or ABORTED as soon as `signal` aborts (`p` carries on in the background, its rejection ignored). */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof ABORTED> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.resolve(ABORTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      p.catch(() => {});
      resolve(ABORTED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** `p`'s value, or TIMED_OUT after `ms` (the timer holds the process up to then: a hung flush must still end in a summary). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.catch(() => {});
      resolve(TIMED_OUT);
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Ticks taken but neither acknowledged nor failed: queued or in flight when the feed gave up on them. */
export function unacknowledged(s: Pick<SinkStats, 'pushed' | 'acked' | 'failed'>): number {
  return Math.max(0, s.pushed - s.acked - s.failed);
}

export interface FlushOutcome {
  /** Every tick was acknowledged or failed before the timeout. */
  flushed: boolean;
  /** Ticks still unacknowledged at the end (lost as far as the feed knows). */
  unacked: number;
}

/** Flushes `sink` for at most `timeoutMs`. */
export async function flushWithin(sink: { flush(): Promise<void>; stats(): SinkStats }, timeoutMs: number): Promise<FlushOutcome> {
  const r = await within(sink.flush(), timeoutMs);
  return { flushed: r !== TIMED_OUT, unacked: unacknowledged(sink.stats()) };
}
