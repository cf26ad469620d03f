#!/usr/bin/env node
/**
 * Cost of `Hub.publish` per tick, history included (issue 13 point 3): the embedded feed's ticks
 * over 14 topics, a flush every `--per-flush` ticks with the hub clock advancing 2 ms, no
 * subscribers (the sequencing hub of a multi-worker gateway works exactly so). Simulates
 * `--seconds` of feed so that the history reaches its steady state (trimming as it grows).
 *
 *   npm run build && node dist/bench/src/history-publish.js [--rate 20000] [--seconds 60] [--rounds 5]
 *
 * Prints CPU ns per tick per round and one JSON line.
 */
import { parseArgs } from 'node:util';
import { MarketSimulator } from '../../feeds/src/simulator.js';
import { Hub, type HubOptions } from '../../gateway/src/hub/hub.js';
import { CODECS } from '../../gateway/src/codecs.js';
import type { Tick } from '../../protocol/src/ticks.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '5' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const perFlush = Math.max(1, Math.round((rate * 2) / 1000));

const sim = new MarketSimulator({ seed: 1 });
const feed: { topic: string; tick: Tick }[] = [];
for (let i = 0; i < 100_000; i++) feed.push(sim.next(1_795_687_880_000 + i / 20));

// Both generations of options: the 1024-tick ring (historySize) and history by time and budget.
const opts = {
  epoch: 'bench',
  codecs: CODECS,
  maxTicksPerFrame: 256,
  historySize: 1024,
  historyMaxAgeMs: 120_000,
  historyMinWindowMs: 30_000,
  historyBudgetBytes: 2 * 1024 ** 3,
} as HubOptions;
const results: number[] = [];
let memory: Record<string, number> = {};
for (let r = 0; r < rounds; r++) {
  const hub = new Hub<{ codec: number }>(opts);
  const total = rate * seconds;
  let now = 1_000_000;
  // CPU time, not wall time: the machines this runs on are shared, and a descheduled thread is not a slower hub.
  const t0 = process.cpuUsage();
  for (let i = 0; i < total; i++) {
    const f = feed[i % feed.length]!;
    hub.publish(f.topic, f.tick);
    if (i % perFlush === perFlush - 1) hub.flush(() => undefined, (now += 2));
  }
  const used = process.cpuUsage(t0);
  const ns = ((used.user + used.system) * 1000) / total;
  results.push(ns);
  // Not there on the 1024-tick ring: this bench runs against both generations of the hub.
  const held = 'historyWindows' in hub ? hub.historyWindows() : [];
  const ticksHeld = held.reduce((n, w) => n + w.ticks, 0);
  const bytes = 'history' in hub ? hub.history.bytes : NaN;
  const minWindow = held.length ? Math.min(...held.map((w) => w.ms)) / 1000 : NaN;
  memory = { ticksHeld, bytes, bytesPerTick: Number((bytes / ticksHeld).toFixed(1)), minWindowSec: minWindow };
  console.log(
    `round ${r + 1}: ${ns.toFixed(1)} ns/tick (${total} ticks, ${seconds} s simulated at ${rate}/s); history ${JSON.stringify(memory)}`,
  );
}
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)]!;
console.log(
  JSON.stringify({
    bench: 'history-publish',
    rate,
    seconds,
    nsPerTickMedian: Number(median.toFixed(1)),
    ...memory,
    rounds: results.map((x) => Number(x.toFixed(1))),
  }),
);
