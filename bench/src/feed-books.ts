#!/usr/bin/env node
/**
 * CPU cost of the embedded feed per tick with order books (issue 15): the simulator alone
 * (`off`: book model kept, no records written), with its book records (`records`), and with the
 * records folded by the gateway's book engine into change sets (`engine`, a null sink behind it:
 * the hub's cost is not included). Ticks are stamped at `--rate` per second of event time.
 *
 *   npm run build && node dist/bench/src/feed-books.js [--ticks 1000000] [--rate 10000] [--rounds 5]
 *
 * Prints ns per tick (median of the rounds) and records per tick for each mode.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { BookEngine } from '../../gateway/src/books/engine.js';
import { MarketSimulator, type FeedEvent } from '../../feeds/src/simulator.js';
import { DEFAULT_SYMBOLS } from '../../feeds/src/symbols.js';
import { REJECT_REASONS, type RejectReason } from '../../protocol/src/validate.js';

const { values: args } = parseArgs({
  options: {
    ticks: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
  },
});
const ticks = Number(args.ticks);
const rate = Number(args.rate);
const rounds = Number(args.rounds);
const specs = new Map(DEFAULT_SYMBOLS.map((s) => [s.symbol, s]));

function round(mode: 'off' | 'records' | 'engine'): { ns: number; recordsPerTick: number } {
  const sim = new MarketSimulator({ seed: 1, books: mode !== 'off' });
  const stats = { rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number> };
  const engine = new BookEngine(
    { publish: () => undefined },
    {
      maxDepth: 1000,
      units: (s) => {
        const spec = specs.get(s);
        return spec && { tick: spec.tick, lot: spec.lot };
      },
      stats,
      log: pino({ level: 'silent' }),
    },
  );
  const out: FeedEvent[] = [];
  let records = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < ticks; i++) {
    out.length = 0;
    sim.nextInto(1_795_687_880_000 + Math.floor((i * 1000) / rate), out);
    records += out.length;
    if (mode === 'engine') for (const e of out) engine.publish(e.topic, e.tick);
  }
  const used = process.cpuUsage(t0);
  if (Object.values(stats.rejected).some((n) => n > 0)) throw new Error(`the engine rejected simulator records: ${JSON.stringify(stats)}`);
  return { ns: ((used.user + used.system) * 1000) / ticks, recordsPerTick: records / ticks };
}

const result: Record<string, { nsPerTick: number; recordsPerTick: number }> = {};
for (const mode of ['off', 'records', 'engine'] as const) {
  const runs = Array.from({ length: rounds }, () => round(mode));
  const ns = runs.map((r) => r.ns).sort((a, b) => a - b);
  const median = ns[Math.floor(ns.length / 2)] as number;
  result[mode] = { nsPerTick: Math.round(median), recordsPerTick: Number((runs[0]?.recordsPerTick ?? 0).toFixed(2)) };
  console.log(`${mode.padEnd(8)} ${median.toFixed(0).padStart(6)} ns/tick  (${result[mode].recordsPerTick} records per tick)`);
}
console.log(JSON.stringify({ bench: 'feed-books', ticks, rate, ...result }));
