import { describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { httpGet, startTestGateway, waitForMetric } from './support/gateway.js';
import { connectedProducer, createTopic, kafkaClient, uniqueTopic } from './support/kafka.js';
import { waitFor } from './support/wait.js';

const brokers = inject('kafkaBrokers');

const candlesOf = async (gw: Gateway, topic: string): Promise<Record<string, number | boolean>[]> =>
  JSON.parse((await httpGet(gw.port, `/v1/candles?topic=${topic}&limit=1000`)).body).candles;

describe('candle history in a compacted Kafka topic (candleTopic)', () => {
  it('two instances hold identical history, which survives a restart; the partly seen first bucket is never written', async () => {
    const ticks = uniqueTopic('candle-ticks');
    const candleTopic = uniqueTopic('candles');
    await createTopic(brokers, ticks, 1);
    // Warm start 0: an instance computes candles only from the trades it sees live, so the restarted
    // one below can have its history only from the candle topic.
    const settings = {
      source: 'kafka',
      kafkaBrokers: brokers,
      kafkaTopics: ticks,
      kafkaWarmStartSec: 0,
      candleTopic,
      candleGraceMs: 30_000,
    } as const;
    const started: Gateway[] = [];
    const producer = await connectedProducer(brokers);
    try {
      const a = await startTestGateway(settings);
      started.push(a);
      const b = await startTestGateway(settings);
      started.push(b);
      for (const gw of [a, b]) {
        await waitFor(async () => (await httpGet(gw.port, '/readyz')).status === 200, { what: 'a live source', timeoutMs: 30_000 });
      }
      // Buckets just ahead of the clock, so that none closes by the clock while the trades come in.
      const base = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      const trades: [number, number, number][] = [
        [base + 900, 100, 1], // the first bucket: both instances may have missed earlier trades of it
        [base + 1000, 101, 2],
        [base + 1500, 103, 1],
        [base + 1999, 99.5, 0.5],
        [base + 2100, 98, 1],
        [base + 3050, 97, 3],
        [base + 3060, 104, 1],
        [base + 4000, 105, 1], // opens the last bucket: 1 s candles base+1000..base+3000 are closed
      ];
      await producer.send({
        topic: ticks,
        messages: trades.map(([ts, px, qty]) => ({ key: 'trade.CNDL-USD', value: JSON.stringify({ ts, px, qty, side: 'b' }) })),
      });
      for (const gw of [a, b]) await waitForMetric(gw.port, 'tickwire_candles_persisted_total', 3, 'three candles written');
      const want = [
        { t: base + 1000, o: 101, h: 103, l: 99.5, c: 99.5, v: 3.5, q: 101 * 2 + 103 + 99.5 * 0.5, n: 3, x: true },
        { t: base + 2000, o: 98, h: 98, l: 98, c: 98, v: 1, q: 98, n: 1, x: true },
        { t: base + 3000, o: 97, h: 104, l: 97, c: 104, v: 4, q: 97 * 3 + 104, n: 2, x: true },
      ];
      const historyA = await candlesOf(a, 'candle.1s.CNDL-USD');
      expect(historyA).toEqual(want);
      // The other instance wrote the same records and read the first one's: the same history.
      expect(await candlesOf(b, 'candle.1s.CNDL-USD')).toEqual(historyA);
      // No 1-minute bucket was complete for either instance: nothing written, nothing served.
      expect(await candlesOf(a, 'candle.1m.CNDL-USD')).toEqual([]);

      await Promise.all(started.splice(0).map((g) => g.stop()));
      const c = await startTestGateway(settings);
      started.push(c);
      // Read back before /v1/candles serves: no waiting needed.
      expect(await candlesOf(c, 'candle.1s.CNDL-USD')).toEqual(historyA);

      // The compacted topic has one key per candle, as documented.
      const consumer = kafkaClient(brokers).consumer({ groupId: uniqueTopic('candle-reader') });
      const keys = new Set<string>();
      await consumer.connect();
      await consumer.subscribe({ topic: candleTopic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void keys.add(String(message.key)) });
      await waitFor(() => keys.size >= 3, { what: 'the candle records', timeoutMs: 30_000 });
      await consumer.disconnect();
      expect([...keys].sort()).toEqual(want.map((w) => `candle.1s.CNDL-USD:${w.t}`));
    } finally {
      await Promise.all(started.map((g) => g.stop()));
      await producer.disconnect();
    }
  }, 120_000);
});
