import { Partitioners, type PartitionMetadata, type ProducerRecord, type RecordMetadata } from 'kafkajs';
import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Tick } from '../../protocol/src/ticks.js';
import { encodeTick, explicitPartitioner, KafkaSink, keyPartitioner } from '../src/kafka-sink.js';
import { waitFor } from '../../gateway/test/support/wait.js';

const trade = (i: number): Tick => ({ ts: 1_800_000_000_000 + i, px: 100 + i / 100, qty: 1, side: 'b' });

interface FakeSend {
  record: ProducerRecord;
  partitions: Set<number>;
  done: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * A producer whose sends complete only when the test says so, in any order. Completed sends are
 * appended to `log` (the "broker"), so a test can see what order a real broker would store.
 */
class FakeProducer {
  sends: FakeSend[] = [];
  log: { partition: number; key: string; value: Buffer }[] = [];
  disconnected = false;
  maxOutstanding = 0;
  overlaps = 0;
  outstanding(): FakeSend[] {
    return this.sends.filter((s) => !s.done);
  }
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return new Promise((resolve, reject) => {
      const partitions = new Set(record.messages.map((m) => m.partition!));
      for (const o of this.outstanding()) for (const p of partitions) if (o.partitions.has(p)) this.overlaps++;
      const entry: FakeSend = {
        record,
        partitions,
        done: false,
        resolve: () => {
          entry.done = true;
          for (const m of record.messages) this.log.push({ partition: m.partition!, key: String(m.key), value: m.value as Buffer });
          resolve([]);
        },
        reject: (e: Error) => {
          entry.done = true;
          reject(e);
        },
      };
      this.sends.push(entry);
      this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding().length);
    });
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
  /** Completes the oldest outstanding send (or a random one). */
  ack(random = false): void {
    const o = this.outstanding();
    if (o.length) o[random ? Math.floor(Math.random() * o.length) : 0]!.resolve();
  }
}

/** A key (tickwire topic) for each of `n` partitions. */
function keysByPartition(n: number): string[] {
  const partitionOf = keyPartitioner(n);
  const keys: string[] = [];
  for (let i = 0; keys.filter(Boolean).length < n; i++) {
    const key = `trade.K${i}`;
    keys[partitionOf(key)] ??= key;
  }
  return keys;
}

describe('KafkaSink (fake producer)', () => {
  it('sends a full batch at once and a partial one after the linger time', async () => {
    const p = new FakeProducer();
    const sink = new KafkaSink({ producer: p, topic: 't', partitions: 1, maxBatch: 10, lingerMs: 30 });
    for (let i = 0; i < 10; i++) sink.push('trade.X', trade(i));
    expect(p.sends.map((s) => s.record.messages.length)).toEqual([10]);
    const r = p.sends[0]!.record;
    expect(r).toMatchObject({ topic: 't', acks: -1 });
    expect(r.messages[0]).toMatchObject({ key: 'trade.X', partition: 0 });
    p.ack();
    await waitFor(() => sink.stats().acked === 10, { what: 'the full batch acked', timeoutMs: 10_000, intervalMs: 1 });
    const t0 = performance.now();
    for (let i = 10; i < 15; i++) sink.push('trade.X', trade(i));
    // A partial batch goes out once it has lingered 30 ms: never earlier (however late a busy
    // machine runs the timer, which only makes it later).
    await waitFor(() => p.sends.length === 2, { what: 'the partial batch sent', timeoutMs: 10_000, intervalMs: 1 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(p.sends.map((s) => s.record.messages.length)).toEqual([10, 5]);
    p.ack();
    await sink.flush();
    expect(sink.stats()).toMatchObject({ pushed: 15, sent: 15, acked: 15, failed: 0, inFlight: 0, pending: 0, batches: 2 });
  });

  it('runs up to maxInFlight sends, never two for one partition; full when a batch waits behind one', async () => {
    const keys = keysByPartition(4); // lanes: {0, 2} and {1, 3}
    const p = new FakeProducer();
    const sink = new KafkaSink({ producer: p, topic: 't', partitions: 4, maxBatch: 5, maxInFlight: 2, lingerMs: 1000 });
    for (let i = 0; i < 5; i++) expect(sink.push(keys[0]!, trade(i))).toBe(true);
    for (let i = 0; i < 5; i++) expect(sink.push(keys[1]!, trade(i))).toBe(true);
    expect(p.sends.map((s) => [...s.partitions])).toEqual([[0], [1]]);
    // Partition 2 shares partition 0's lane: it queues behind that send.
    for (let i = 0; i < 4; i++) expect(sink.push(keys[2]!, trade(i))).toBe(true);
    expect(sink.push(keys[0]!, trade(5))).toBe(false); // a full batch waits: backpressure
    expect(sink.full).toBe(true);
    expect(p.sends).toHaveLength(2);
    let ready = false;
    const waiting = sink.ready().then(() => (ready = true));
    p.sends[1]!.resolve(); // the other lane frees up: still full
    await waitFor(() => sink.stats().acked === 5, { what: 'the other lane acked', timeoutMs: 10_000, intervalMs: 1 });
    expect(ready).toBe(false);
    p.sends[0]!.resolve();
    await waiting;
    expect(p.sends.map((s) => [...s.partitions].sort())).toEqual([[0], [1], [0, 2]]);
    expect(sink.stats()).toMatchObject({ inFlight: 1, pending: 0, acked: 10 });
    const flushed = sink.flush();
    p.ack();
    await flushed;
    expect(p.overlaps).toBe(0);
  });

  it('keeps every key in order however the sends complete, with bounded memory', async () => {
    const p = new FakeProducer();
    const sink = new KafkaSink({ producer: p, topic: 't', partitions: 8, maxBatch: 50, maxInFlight: 4, lingerMs: 1 });
    const acker = setInterval(() => p.ack(true), 1); // completions in random order
    const keys = Array.from({ length: 14 }, (_, i) => `quote.S${i}`);
    let maxPending = 0;
    for (let i = 0; i < 5000; i++) {
      if (!sink.push(keys[i % 7 === 0 ? 0 : i % keys.length]!, trade(i))) await sink.ready();
      maxPending = Math.max(maxPending, sink.stats().pending);
    }
    const flushed = sink.flush();
    const drain = setInterval(() => p.ack(true), 0);
    await flushed;
    clearInterval(acker);
    clearInterval(drain);
    expect(p.overlaps).toBe(0);
    expect(p.maxOutstanding).toBeLessThanOrEqual(4);
    expect(p.maxOutstanding).toBeGreaterThan(1);
    expect(maxPending).toBeLessThanOrEqual(2 * 50 * 4);
    expect(sink.stats()).toMatchObject({ sent: 5000, acked: 5000, failed: 0, pending: 0 });
    const last = new Map<string, number>();
    for (const m of p.log) {
      const ts = (unpack(m.value) as Tick).ts;
      expect(ts).toBeGreaterThan(last.get(m.key) ?? 0);
      last.set(m.key, ts);
    }
    expect(p.log).toHaveLength(5000);
  });

  it('counts a failed send, reports it and carries on', async () => {
    const p = new FakeProducer();
    const errors: string[] = [];
    const sink = new KafkaSink({
      producer: p,
      topic: 't',
      partitions: 1,
      maxBatch: 3,
      onError: (e, n) => errors.push(`${n}: ${e.message}`),
    });
    for (let i = 0; i < 6; i++) sink.push('trade.X', trade(i));
    p.sends[0]!.reject(new Error('broker on fire'));
    await waitFor(() => errors.length === 1, { what: 'the failed send reported', timeoutMs: 10_000, intervalMs: 1 });
    p.sends[1]!.resolve();
    await sink.flush();
    expect(errors).toEqual(['3: broker on fire']);
    expect(sink.stats()).toMatchObject({ sent: 6, acked: 3, failed: 3, errors: 1, lastError: 'broker on fire' });
  });

  it('flush() sends a partial batch now; close() flushes, disconnects and refuses more', async () => {
    const p = new FakeProducer();
    const sink = new KafkaSink({ producer: p, topic: 't', partitions: 3, maxBatch: 100, lingerMs: 60_000 });
    sink.push('trade.X', trade(1));
    const closed = sink.close();
    expect(p.sends).toHaveLength(1);
    expect(p.disconnected).toBe(false);
    p.ack();
    await closed;
    expect(p.disconnected).toBe(true);
    expect(() => sink.push('trade.X', trade(2))).toThrow(/closed/);
    await sink.flush(); // idle: returns at once
  });

  it('validates its options', () => {
    const p = new FakeProducer();
    expect(() => new KafkaSink({ producer: p, topic: 't', partitions: 0 })).toThrow(/partitions/);
    expect(() => new KafkaSink({ producer: p, topic: 't', partitions: 1, maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => new KafkaSink({ producer: p, topic: 't', partitions: 1, lingerMs: -1 })).toThrow(/lingerMs/);
  });

  it('encodes values as standard msgpack maps or JSON', () => {
    const t = trade(5);
    const m = encodeTick(t, 'msgpack') as Buffer;
    expect(m[0]).toBe(0xde); // a plain map (map16), not a msgpackr record extension
    expect(unpack(m)).toEqual(t);
    expect(JSON.parse(encodeTick(t, 'json') as string)).toEqual(t);
  });
});

describe('partitioning', () => {
  const meta = (n: number): PartitionMetadata[] =>
    Array.from({ length: n }, (_, i) => ({
      partitionId: i,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
      offlineReplicas: [],
    }));

  it('keyPartitioner picks exactly the partitions of kafkajs DefaultPartitioner (Java murmur2)', () => {
    const reference = Partitioners.DefaultPartitioner();
    const keys = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.EUR-USD', 'trade.A', ...Array.from({ length: 200 }, (_, i) => `quote.SYM${i}`)];
    for (const n of [1, 3, 8, 12]) {
      const partitionOf = keyPartitioner(n);
      for (const key of [...keys, ...keys]) {
        expect(partitionOf(key)).toBe(reference({ topic: 'ticks', partitionMetadata: meta(n), message: { key, value: null } }));
      }
    }
  });

  it('explicitPartitioner uses the message partition, else the default', () => {
    const part = explicitPartitioner();
    expect(part({ topic: 't', partitionMetadata: meta(8), message: { key: 'x', value: null, partition: 5 } })).toBe(5);
    expect(part({ topic: 't', partitionMetadata: meta(8), message: { key: 'trade.A', value: null } })).toBe(keyPartitioner(8)('trade.A'));
  });
});
