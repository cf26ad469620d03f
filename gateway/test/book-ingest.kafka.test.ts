import { encode } from '@msgpack/msgpack';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BookChange, Level } from '../../protocol/src/book.js';
import { REJECT_REASONS, type RejectReason } from '../../protocol/src/validate.js';
import { loadConfig } from '../src/config/load.js';
import type { IngestStats } from '../src/sources/kafka.js';
import type { Source, TickSink } from '../src/sources/source.js';
import { bookEngine, createSource, newEpoch } from '../src/wiring.js';
import { connectedProducer, createTopic, uniqueTopic } from './support/kafka.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 15, the book rejection cases against the real broker: records produced to a Kafka topic,
 * read by the Kafka source into the book engine, whose output a spy sink records. Each case: a
 * book is filled, a bad record is counted by reason and empties all four topics with a stale
 * change set, a delta after it is ignored, and the next snapshot record refills the book.
 */
const brokers = inject('kafkaBrokers');
const TS = 1_790_000_000_000;
const BIDS: Level[] = [
  [99.5, 2],
  [99, 3],
];
const ASKS: Level[] = [
  [100, 1],
  [100.5, 4],
];

describe('book records from Kafka: rejections, stale, refill', () => {
  const kafkaTopic = uniqueTopic('books');
  const published: { topic: string; change: BookChange; off?: number }[] = [];
  const stats: IngestStats = {
    accepted: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
    lagRecords: 0,
    outages: 0,
  };
  let producer: Producer;
  let source: Source;

  beforeAll(async () => {
    await createTopic(brokers, kafkaTopic, 1);
    producer = await connectedProducer(brokers);
    const cfg = loadConfig({ overrides: { source: 'kafka', kafkaBrokers: brokers, kafkaTopics: kafkaTopic } });
    const log = pino({ level: 'silent' });
    const spy: TickSink = { publish: (topic, tick, _src, off) => void published.push({ topic, change: tick as BookChange, off }) };
    source = createSource(cfg, stats, log, newEpoch());
    await source.start(bookEngine(cfg, spy, stats, log));
    await waitFor(() => source.live, { what: 'the Kafka source live' });
  });
  afterAll(async () => {
    await source?.stop();
    await producer?.disconnect();
  });

  /** Values go out as msgpack, or JSON every other record, as producers may mix them. */
  let n = 0;
  const produce = (symbol: string, values: object[]) =>
    producer.send({
      topic: kafkaTopic,
      messages: values.map((v) => ({ key: `book.${symbol}`, value: n++ % 2 ? JSON.stringify(v) : Buffer.from(encode(v)) })),
    });
  const of = (symbol: string) => published.filter((p) => p.topic === `book.${symbol}` || p.topic.startsWith(`book.${symbol}:`));

  async function rejectionCase(symbol: string, bad: object, reason: RejectReason): Promise<void> {
    const before = { ...stats.rejected };
    await produce(symbol, [
      { type: 'snapshot', ts: TS, bids: BIDS, asks: ASKS, u: 1 },
      { type: 'delta', ts: TS + 1, changes: [['b', 99.5, 5]], u: 2, pu: 1 },
      bad,
      { type: 'delta', ts: TS + 3, changes: [['a', 100, 7]], u: 4, pu: 3 },
      { type: 'snapshot', ts: TS + 4, bids: [[98, 1]], asks: [[101, 1]], u: 10 },
    ]);
    await waitFor(() => of(symbol).filter((p) => p.topic === `book.${symbol}`).length >= 4, { what: `the refill of book.${symbol}` });
    const full = of(symbol).filter((p) => p.topic === `book.${symbol}`);
    expect(full.map((p) => p.change.stale === true)).toEqual([false, false, true, false]);
    expect(full[1]?.change.b).toEqual([[99.5, 5]]);
    // The stale change set removes what subscribers held (after the first delta) and nothing else.
    const stale = of(symbol).filter((p) => p.change.stale);
    expect(stale.map((p) => p.topic)).toEqual([`book.${symbol}`, `book.${symbol}:10`, `book.${symbol}:25`, `book.${symbol}:100`]);
    for (const p of stale)
      expect([p.change.b, p.change.a, p.change.cs]).toEqual([BIDS.map(([px]) => [px, 0]), ASKS.map(([px]) => [px, 0]), 0]);
    // The refill: the snapshot's levels, on all four topics, no flag, at its offset.
    const refill = of(symbol).slice(-4);
    for (const p of refill) expect([p.change.b, p.change.a, p.change.stale]).toEqual([[[98, 1]], [[101, 1]], undefined]);
    expect(new Set(refill.map((p) => p.off)).size).toBe(1);
    expect(stats.rejected[reason] - before[reason]).toBe(1);
    // The delta between the bad record and the snapshot was ignored and counted.
    expect(stats.rejected.book_no_snapshot - before.book_no_snapshot).toBe(1);
  }

  it('a delta whose pu is not the previous u: book_sequence', async () => {
    await rejectionCase('SEQ', { type: 'delta', ts: TS + 2, changes: [['b', 99, 1]], u: 3, pu: 7 }, 'book_sequence');
  });

  it('a delta that would cross the book: book_crossed', async () => {
    await rejectionCase('CROSS', { type: 'delta', ts: TS + 2, changes: [['b', 100, 1]], u: 3, pu: 2 }, 'book_crossed');
  });

  it('a negative size: book_negative_size (counted by the source, the engine marks the book stale)', async () => {
    await rejectionCase('NEG', { type: 'delta', ts: TS + 2, changes: [['a', 101, -1]], u: 3, pu: 2 }, 'book_negative_size');
  });

  it('an unknown side: book_unknown_side', async () => {
    await rejectionCase('SIDE', { type: 'delta', ts: TS + 2, changes: [['x', 101, 1]], u: 3, pu: 2 }, 'book_unknown_side');
  });
});
