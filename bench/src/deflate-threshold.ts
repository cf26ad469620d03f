#!/usr/bin/env node
/**
 * What shared deflate (`tickwire.v1.msgpack+deflate`) costs and saves per frame size, to choose
 * DEFLATE_MIN_BYTES (protocol/src/codec.ts):
 *
 *   npm run build && node dist/bench/src/deflate-threshold.js [--ms 300]
 *
 * Frames are real `upd` frames of the embedded simulator's ticks (seed 1, one topic each, as the
 * hub batches them), encoded by the msgpack codec. Per frame size: msgpack bytes, deflated bytes
 * (with the flag byte), bytes saved, µs of deflateRawSync per frame (median of 5 timed loops of
 * `--ms` each), µs per byte saved, and µs of the codec's `deflateFrame` as built (which skips
 * deflate under DEFLATE_MIN_BYTES). Prints a Markdown table and one JSON line.
 */
import { deflateRawSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { MarketSimulator } from '../../feeds/src/simulator.js';
import { parseSymbols } from '../../feeds/src/symbols.js';
import { deflateFrame, msgpackCodec } from '../../gateway/src/codecs.js';
import type { Payload } from '../../protocol/src/ticks.js';
import type { TopicKind } from '../../protocol/src/kinds.js';

const { values: args } = parseArgs({ options: { ms: { type: 'string', default: '300' } } });
const loopMs = Number(args.ms);
const TICKS = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 256];

const sim = new MarketSimulator({ seed: 1, symbols: parseSymbols('BTC-USD,ETH-USD,AAPL') });
const byTopic = new Map<string, Payload[]>();
for (let i = 0, ts = 1_795_687_880_463; i < 200_000; i++, ts += 1) {
  const e = sim.next(ts);
  const list = byTopic.get(e.topic) ?? [];
  list.push(e.tick);
  byTopic.set(e.topic, list);
}

/** Frames of `n` consecutive ticks, cycling over topics and positions so deflate sees varied input. */
function frames(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [topic, ticks] of byTopic) {
    const kind = topic.slice(0, topic.indexOf('.')) as TopicKind;
    for (let from = 0; from + n <= ticks.length && out.length < 600; from += n * 7 + 1)
      out.push(msgpackCodec.encodeUpd(topic, kind, 1000 + from, ticks, from, from + n));
  }
  return out;
}

function timePerFrame(fs: Uint8Array[], fn: (f: Uint8Array) => Uint8Array = deflateRawSync): number {
  const samples: number[] = [];
  let sink = 0;
  for (let s = 0; s < 5; s++) {
    let ops = 0;
    const t0 = process.hrtime.bigint();
    const end = t0 + BigInt(loopMs * 1e6);
    let now = t0;
    while (now < end) {
      for (let i = 0; i < 50; i++) sink += fn(fs[(ops + i) % fs.length] as Uint8Array).length;
      ops += 50;
      now = process.hrtime.bigint();
    }
    samples.push(Number(now - t0) / 1000 / ops);
  }
  if (sink === 0) throw new Error('nothing deflated');
  samples.sort((a, b) => a - b);
  return samples[2] as number;
}

const rows = TICKS.map((n) => {
  const fs = frames(n);
  const raw = fs.reduce((a, f) => a + f.length, 0) / fs.length;
  const z = fs.reduce((a, f) => a + deflateRawSync(f).length + 1, 0) / fs.length;
  const us = timePerFrame(fs);
  const codecUs = timePerFrame(fs, deflateFrame);
  const saved = raw + 1 - z; // against the 0x00-flagged uncompressed frame
  return {
    ticks: n,
    msgpackBytes: Math.round(raw),
    deflatedBytes: Math.round(z),
    savedBytes: Math.round(saved),
    savedPct: Math.round((saved / (raw + 1)) * 1000) / 10,
    deflateMicros: Math.round(us * 10) / 10,
    microsPerByteSaved: saved > 0 ? Math.round((us / saved) * 1000) / 1000 : null,
    deflateFrameMicros: Math.round(codecUs * 100) / 100,
  };
});
process.stdout.write(
  '| ticks | msgpack B | deflated B (+flag) | saved B | saved % | deflate µs/frame | µs per byte saved | deflateFrame µs (as ' +
    'built) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n',
);
for (const r of rows)
  process.stdout.write(
    `| ${r.ticks} | ${r.msgpackBytes} | ${r.deflatedBytes} | ${r.savedBytes} | ${r.savedPct} | ${r.deflateMicros} ` +
      `| ${r.microsPerByteSaved ?? '—'} | ${r.deflateFrameMicros} |\n`,
  );
process.stdout.write(`${JSON.stringify({ scenario: 'deflate-threshold', loopMs, rows })}\n`);
