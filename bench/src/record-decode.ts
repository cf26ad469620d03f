#!/usr/bin/env node
/**
 * Micro-benchmark of Kafka record decoding (`decodeRecord`) against a bare msgpackr unpack of the
 * same value, with benchmark.js:
 *
 *   npm run build && node dist/bench/src/record-decode.js [--max-time 1]
 *
 * Prints one line per case (ns per record) and one JSON line.
 */
import { encode } from '@msgpack/msgpack';
import Benchmark from 'benchmark';
import { Unpackr } from 'msgpackr';
import { parseArgs } from 'node:util';
import { DEFAULT_SYMBOLS } from '../../feeds/src/symbols.js';
import { decodeRecord } from '../../protocol/src/record.js';

const { values: args } = parseArgs({ options: { 'max-time': { type: 'string', default: '1' } } });
const maxTime = Number(args['max-time']);
const SYMBOLS = DEFAULT_SYMBOLS.map((s) => s.symbol);
const keys = SYMBOLS.flatMap((s) => [Buffer.from(`trade.${s}`), Buffer.from(`quote.${s}`)]);
const ts = 1_795_687_880_463;
const values = keys.map((k, i) =>
  Buffer.from(
    encode(
      k.toString().startsWith('trade.')
        ? { ts: ts + i, px: 65_000.25 + i, qty: 0.0123, side: i % 2 ? 'b' : 's' }
        : { ts: ts + i, bid: 64_999.5 + i, bsz: 0.75, ask: 65_000 + i, asz: 1.2 },
    ),
  ),
);
const json = values.map((_v, i) => Buffer.from(JSON.stringify({ ts: ts + i, bid: 1.1 + i, bsz: 3, ask: 1.2 + i, asz: 4 })));
const jsonKeys = keys.map((k) => Buffer.from(k.toString().replace(/^trade\./, 'quote.')));
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });
let sink: unknown;
let i = 0;
const suite = new Benchmark.Suite();
const rows: { name: string; nsPerOp: number; rmePct: number }[] = [];
suite
  .add(
    'decodeRecord msgpack',
    () => {
      const n = i++ % keys.length;
      sink = decodeRecord(keys[n]!, values[n]!, 65_536, ts);
    },
    { maxTime },
  )
  .add(
    'msgpackr unpack (same values)',
    () => {
      const n = i++ % keys.length;
      sink = unpackr.unpack(values[n]!);
    },
    { maxTime },
  )
  .add(
    'decodeRecord JSON',
    () => {
      const n = i++ % keys.length;
      sink = decodeRecord(jsonKeys[n]!, json[n]!, 65_536, ts);
    },
    { maxTime },
  )
  .on('cycle', (e: Benchmark.Event) => {
    const b = e.target as unknown as Benchmark;
    const row = { name: String(b.name), nsPerOp: Math.round(1e9 / (b.hz ?? 1)), rmePct: Math.round((b.stats?.rme ?? 0) * 10) / 10 };
    rows.push(row);
    process.stdout.write(`${row.name.padEnd(32)} ${String(row.nsPerOp).padStart(6)} ns/record ±${row.rmePct}%\n`);
  })
  .run();
if (!sink) throw new Error('nothing decoded');
process.stdout.write(`${JSON.stringify({ scenario: 'record-decode', rows })}\n`);
