import { WAIT_MS, waitFor } from '../../../../gateway/test/support/wait.js';
import type { SubscriptionEvent } from '../../src/types.js';

/** Polls `cond` every 5 ms until it holds; throws after `timeoutMs`, naming `what`. */
export async function waitUntil(cond: () => boolean, timeoutMs = WAIT_MS, what = 'condition'): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 5 });
}

/** Only for deliberate bounded waits that a test measures (each call says why); otherwise wait on a condition. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checks the stream invariant a consumer relies on: it starts with a `snap`; every `tick` has the
 * seq right after the previous event's (or only a larger one, for throttled topics); the only
 * way to break continuity is a `resync` (optionally announced by a `gap`). Throws on the first
 * violation; returns the number of ticks.
 */
export function checkEvents(events: SubscriptionEvent[], throttled = false): number {
  if (events.length === 0) return 0;
  const first = events[0] as SubscriptionEvent;
  if (first.type !== 'snap') throw new Error(`first event is ${first.type}, not snap`);
  let last = first.seq;
  let ticks = 0;
  for (let i = 1; i < events.length; i++) {
    const ev = events[i] as SubscriptionEvent;
    switch (ev.type) {
      case 'snap':
        throw new Error(`second snap at #${i}`);
      case 'tick':
        if (throttled ? ev.seq <= last : ev.seq !== last + 1) throw new Error(`silent gap at #${i}: after ${last} came tick ${ev.seq}`);
        last = ev.seq;
        ticks++;
        break;
      case 'gap':
        if (events[i + 1]?.type !== 'resync' && i + 1 < events.length) throw new Error(`gap at #${i} not followed by a resync`);
        break;
      case 'resync':
      case 'moved': // renumbered by another instance: the next tick continues from its seq
        last = ev.seq;
        break;
    }
  }
  return ticks;
}

/** A subscription's events as short strings (`tick5`, `resync:epoch@3`, `snap@1`, `moved@E/2`, `gap4/6`) for exact comparison. */
export const eventSummary = (evs: SubscriptionEvent[]): string[] =>
  evs.map((e) =>
    e.type === 'tick'
      ? `tick${e.seq}`
      : e.type === 'resync'
        ? `resync:${e.reason}@${e.seq}`
        : e.type === 'snap'
          ? `snap@${e.seq}`
          : e.type === 'moved'
            ? `moved@${e.epoch}/${e.seq}`
            : `gap${e.expected}/${e.got}`,
  );
