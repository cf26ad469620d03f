import { encode } from '@msgpack/msgpack';
import type { Producer } from 'kafkajs';
import type { Tick } from '../../../protocol/src/ticks.js';
import { httpGet, sleep } from './gateway.js';
import { waitFor } from './wait.js';
import { connectedProducer } from './kafka.js';
import type { Msg } from './client.js';

/**
 * Helpers for tests that run several gateway instances on one Kafka: a producer that feeds
 * numbered ticks continuously, readiness polling, and the per-topic continuity check across
 * instances.
 */

/** Tick number `n` of a topic: trades carry it in `px`, quotes in `bid`, so content is checkable. */
export function numberedTick(topic: string, n: number): Tick {
  const ts = Date.now();
  return topic.startsWith('trade.') ? { ts, px: n, qty: 1, side: n % 2 ? 'b' : 's' } : { ts, bid: n, bsz: 1, ask: n + 0.5, asz: 1 };
}

export const tickNumber = (tick: Record<string, unknown>): number => (typeof tick.px === 'number' ? tick.px : (tick.bid as number));

export interface TickFeed {
  /** Ticks produced so far per topic (numbered 1..count). */
  readonly counts: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Produces one tick per topic every `intervalMs` (keyed by topic, as the Kafka contract says)
 * until stopped. Sends are sequential, so per-topic numbering is the partition order.
 */
export async function startTickFeed(brokers: string, kafkaTopic: string, topics: readonly string[], intervalMs: number): Promise<TickFeed> {
  const producer: Producer = await connectedProducer(brokers);
  const counts = new Map(topics.map((t) => [t, 0]));
  let stopped = false;
  let failure: Error | undefined;
  const loop = (async () => {
    while (!stopped) {
      const messages = topics.map((t) => {
        const n = (counts.get(t) as number) + 1;
        counts.set(t, n);
        return { key: t, value: Buffer.from(encode(numberedTick(t, n))) };
      });
      try {
        await producer.send({ topic: kafkaTopic, messages });
      } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
        return;
      }
      await sleep(intervalMs); // deliberate: the feed's pace, not a wait for anything
    }
  })();
  return {
    counts,
    async stop() {
      stopped = true;
      await loop;
      await producer.disconnect().catch(() => undefined);
      if (failure) throw failure;
    },
  };
}

export async function waitReady(port: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await httpGet(port, '/readyz')).status === 200, {
    what: `/readyz on port ${port} to be 200`,
    timeoutMs,
    intervalMs: 100,
  });
}

/** What one topic's stream looked like to a client, across reconnects and instances. */
export interface ContinuityReport {
  ticks: number;
  /** Flagged resets: snaps with `resync: true`. */
  resyncs: number;
  /** Documented continuations on another instance: a snap of the client's own last position in a new epoch. */
  moves: number;
}

/**
 * Checks one topic's messages, as received over successive connections (possibly on different
 * instances), against the protocol's promise: every consecutive pair of ticks is seq + 1 within
 * an epoch and the next tick number from the producer, unless the transition is flagged (a
 * `resync: true` snap) or is a continuation on another instance (a snap in a new epoch carrying
 * the same upstream position as the last tick received, and that same tick). Throws describing the
 * first silent gap, duplicate or reordering.
 */
export function checkContinuity(msgs: readonly Msg[]): ContinuityReport {
  const report: ContinuityReport = { ticks: 0, resyncs: 0, moves: 0 };
  let epoch: string | undefined;
  let seq = 0;
  let num = 0;
  let pos: { src: unknown; off: unknown } | undefined;
  for (const m of msgs) {
    const where = `${m.topic} after ${epoch}/${seq} (#${num})`;
    if (m.op === 'snap') {
      const n = tickNumber(m.data);
      if (epoch === undefined || m.resync === true) {
        if (m.resync === true) report.resyncs++;
        if (epoch !== undefined && n < num) throw new Error(`${where}: resync went back to tick #${n}`);
      } else if (m.epoch !== epoch && pos && m.src === pos.src && m.off === pos.off) {
        if (n !== num) throw new Error(`${where}: continuation snap carries tick #${n}, not the client's last`);
        report.moves++;
      } else if (m.epoch === epoch && m.seq === seq) {
        if (n !== num) throw new Error(`${where}: same-position snap carries another tick`);
      } else throw new Error(`${where}: unflagged snap ${m.epoch}/${m.seq} (tick #${n})`);
      epoch = m.epoch;
      seq = m.seq;
      num = n;
      pos = m.src === undefined ? undefined : { src: m.src, off: m.off };
      continue;
    }
    if (m.op !== 'upd') continue;
    if (epoch === undefined) throw new Error(`${m.topic}: upd before any snap`);
    if (m.seq !== seq + 1) throw new Error(`${where}: silent seq gap, upd starts at ${m.seq}`);
    for (const d of m.data as Record<string, unknown>[]) {
      const n = tickNumber(d);
      if (n !== num + 1) throw new Error(`${where}: tick #${n} follows #${num}`);
      num = n;
    }
    seq += m.data.length;
    report.ticks += m.data.length;
    pos = m.off === undefined ? undefined : { src: pos?.src, off: m.off };
  }
  return report;
}
