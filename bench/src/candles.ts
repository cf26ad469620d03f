#!/usr/bin/env node
/**
 * Cost per trade of candle and stats maintenance (issue 16): the candle engine fed trades of
 * `--symbols` symbols at `--rate` trades per second of simulated time, drained (changed candles
 * published, buckets closed by the clock, stats once a second) every `--flush-ms` as the gateway's
 * flush loop does, all six intervals. Publishing goes to a function that keeps only a count: the
 * hub's own cost per tick is history-publish.ts's figure.
 *
 *   npm run build && node dist/bench/src/candles.js [--rate 50000] [--symbols 8] [--seconds 120] [--flush-ms 2] [--rounds 5]
 *
 * Prints CPU ns per trade per round, the goal (≤ 200 ns per trade for all six intervals) as a
 * ratio, and one JSON line.
 */
import { parseArgs } from 'node:util';
import { CandleEngine } from '../../gateway/src/candles/engine.js';
import type { TradeTick } from '../../protocol/src/ticks.js';

const GOAL_NS = 200;

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '50000' },
    symbols: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '120' },
    'flush-ms': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
  },
});
const rate = Number(args.rate);
const symbols = Number(args.symbols);
const seconds = Number(args.seconds);
const flushMs = Number(args['flush-ms']);
const rounds = Number(args.rounds);

// A fixed random walk per symbol, made before timing: the bench measures the engine, not the feed.
const N = 1 << 16;
const topics = Array.from({ length: symbols }, (_, i) => `trade.SYM${i}-USD`);
const trades: { topic: string; px: number; qty: number }[] = [];
let seed = 1;
const rand = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
const px = topics.map(() => 100 + rand() * 1000);
for (let i = 0; i < N; i++) {
  const s = Math.floor(rand() * symbols);
  px[s] = (px[s] as number) * (1 + (rand() - 0.5) * 1e-4);
  trades.push({ topic: topics[s] as string, px: px[s], qty: 0.001 + rand() });
}

const results: number[] = [];
let published = 0;
for (let r = 0; r < rounds; r++) {
  const engine = new CandleEngine({ graceMs: 2000, firstBucketComplete: true });
  const publish = (): void => void published++;
  const total = rate * seconds;
  const perFlush = Math.max(1, Math.round((rate * flushMs) / 1000));
  const t0ms = Date.UTC(2026, 11, 6);
  // One reusable tick per trade as the source would hand over a fresh one; its fields are set per trade.
  const tick: TradeTick = { ts: 0, px: 0, qty: 0, side: 'b' };
  const c0 = process.cpuUsage();
  for (let i = 0; i < total; i++) {
    const t = trades[i & (N - 1)]!;
    tick.ts = t0ms + (i * 1000) / rate;
    tick.px = t.px;
    tick.qty = t.qty;
    engine.trade(t.topic, tick);
    if (i % perFlush === perFlush - 1) engine.drain(tick.ts, publish);
  }
  const used = process.cpuUsage(c0);
  const ns = ((used.user + used.system) * 1000) / total;
  results.push(ns);
  console.log(`round ${r + 1}: ${ns.toFixed(1)} ns CPU per trade (${symbols} symbols, 6 intervals + stats, ${total} trades)`);
}
const sorted = [...results].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] as number;
const ratio = median / GOAL_NS;
console.log(
  `median ${median.toFixed(1)} ns per trade; goal ≤ ${GOAL_NS} ns: ratio ${ratio.toFixed(2)} (${ratio <= 1 ? 'met' : 'NOT met'})`,
);
console.log(
  JSON.stringify({
    bench: 'candles',
    rate,
    symbols,
    seconds,
    flushMs,
    rounds,
    nsPerTrade: results,
    median,
    goalNs: GOAL_NS,
    ratio,
    published,
  }),
);
