/**
 * The recorded sample in feeds/data/ (sample-ticks.ndjson and sample-ticks.csv): 30 s of a
 * four-symbol market from the simulator and pacer on a fake clock, so it is reproducible
 * byte for byte. A test checks that the committed files are what this produces.
 *
 *   node dist/feeds/src/sample.js [DIR]     (re)writes DIR/sample-ticks.{ndjson,csv}; DIR defaults to feeds/data
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';
import { Pacer, type PacerClock } from './pacer.js';
import { MarketSimulator, type SimEvent } from './simulator.js';
import { parseSymbols } from './symbols.js';

export const SAMPLE = {
  seed: 42,
  symbols: 'BTC-USD,ETH-USD,AAPL,EUR-USD',
  /** Ticks per second, across all symbols. */
  rate: 15,
  burstiness: 0.5,
  durationMs: 30_000,
  /** 2026-01-05 14:30:00 UTC. */
  startTs: Date.UTC(2026, 0, 5, 14, 30, 0),
  files: { ndjson: 'sample-ticks.ndjson', csv: 'sample-ticks.csv' },
} as const;

export function generateSample(): SimEvent[] {
  let now: number = SAMPLE.startTs;
  let fire: (() => void) | undefined;
  const clock: PacerClock = {
    now: () => now,
    setInterval: (fn) => {
      fire = fn;
      return 1;
    },
    clearInterval: () => {
      fire = undefined;
    },
  };
  const events: SimEvent[] = [];
  const pacer = new Pacer({
    rate: SAMPLE.rate,
    burstiness: SAMPLE.burstiness,
    seed: SAMPLE.seed,
    clock,
    simulator: new MarketSimulator({ seed: SAMPLE.seed, symbols: parseSymbols(SAMPLE.symbols) }),
    emit: (batch) => events.push(...(batch as SimEvent[])), // a simulator without books: ticks only
    intervalMs: 10,
  });
  pacer.start();
  for (let t = 10; t <= SAMPLE.durationMs; t += 10) {
    now = SAMPLE.startTs + t;
    fire?.();
  }
  pacer.stop();
  return events;
}

export function toNdjson(events: readonly SimEvent[]): string {
  return events.map((e) => JSON.stringify({ topic: e.topic, ...e.tick }) + '\n').join('');
}

const CSV_COLUMNS = ['topic', 'ts', 'px', 'qty', 'side', 'bid', 'bsz', 'ask', 'asz'] as const;

export function toCsv(events: readonly SimEvent[]): string {
  const rows = events.map((e) => {
    const cell: Partial<Record<(typeof CSV_COLUMNS)[number], string | number>> = {
      topic: e.topic,
      ...(e.tick as Partial<TradeTick & QuoteTick>),
    };
    return CSV_COLUMNS.map((c) => (cell[c] === undefined ? '' : String(cell[c]))).join(',');
  });
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

function isMain(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const dir = process.argv[2] ?? 'feeds/data';
  const events = generateSample();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, SAMPLE.files.ndjson), toNdjson(events));
  writeFileSync(join(dir, SAMPLE.files.csv), toCsv(events));
  process.stdout.write(`wrote ${events.length} ticks to ${join(dir, SAMPLE.files.ndjson)} and ${join(dir, SAMPLE.files.csv)}\n`);
}
