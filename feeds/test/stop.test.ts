/**
 * Issue 17 point 4: stopping the feed is bounded. With the broker gone, sends never complete;
 * the final flush gives up after its timeout and counts what Kafka never acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { KafkaSink } from '../src/kafka-sink.js';
import { ABORTED, flushWithin, unlessAborted } from '../src/stop.js';

/** A producer whose sends hang, as kafkajs's do while it retries a broker that is gone. */
function hungProducer() {
  let sends = 0;
  return {
    get sends() {
      return sends;
    },
    send: () => {
      sends++;
      return new Promise<never>(() => {});
    },
    disconnect: () => Promise.resolve(),
  };
}

describe('bounded stop (issue 17 pt 4)', () => {
  it('flushWithin gives up after the timeout and counts queued and in-flight ticks as unacknowledged', async () => {
    const producer = hungProducer();
    const sink = new KafkaSink({ producer, topic: 't', partitions: 2, maxBatch: 10, lingerMs: 0, maxInFlight: 1 });
    for (let i = 0; i < 35; i++) sink.push(`trade.S${i % 3}`, { ts: i, px: 1, sz: 1, side: 'buy' } as never);
    const t0 = performance.now();
    const r = await flushWithin(sink, 300);
    const took = performance.now() - t0;
    expect(r).toEqual({ flushed: false, unacked: 35 });
    expect(producer.sends).toBeGreaterThan(0);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5000);
  });

  it('flushWithin reports a complete flush when every send is acknowledged', async () => {
    const producer = { send: () => Promise.resolve([]), disconnect: () => Promise.resolve() };
    const sink = new KafkaSink({ producer, topic: 't', partitions: 1, maxBatch: 10, lingerMs: 1000 });
    for (let i = 0; i < 15; i++) sink.push('trade.X', { ts: i, px: 1, sz: 1, side: 'buy' } as never);
    expect(await flushWithin(sink, 5000)).toEqual({ flushed: true, unacked: 0 });
    expect(sink.stats().acked).toBe(15);
  });

  it('unlessAborted stops waiting when the signal aborts', async () => {
    const ac = new AbortController();
    const waiting = unlessAborted(new Promise<number>(() => {}), ac.signal);
    ac.abort();
    expect(await waiting).toBe(ABORTED);
    expect(await unlessAborted(Promise.resolve(7), new AbortController().signal)).toBe(7);
  });
});
