import { describe, expect, it } from 'vitest';
import { BOOK_TOPIC, bookRecords, microCodecs, runEngine, throttledSets } from '../src/suite/book-micro.js';
import type { BookChange } from '../../protocol/src/book.js';
import type { WireCodec } from '../../protocol/src/codec.js';

/**
 * The micro's wire bytes stand for what the gateway sends only if its compact frames are in column
 * form: a frame in map form (a value off the symbol's grid, fractional ts, missing units) is as
 * large as msgpack's, which is how B4 once read 0.88 where the gateway sends a quarter of msgpack.
 */
const compact = microCodecs().find((c) => c.name === 'msgpack-compact') as WireCodec;

/** Column form: `data` is an array whose first element is an integer (protocol/src/compact.ts). */
function isColumns(frame: Uint8Array): boolean {
  const msg = compact.decode(frame) as { data?: unknown };
  return Array.isArray(msg.data) && Number.isInteger(msg.data[0]);
}

describe('book micro: compact frames', () => {
  const { changeSets } = runEngine(bookRecords(3000, 50_000));
  const { merged } = throttledSets(changeSets, 100);

  it('has raw and merged change sets to encode', () => {
    expect(changeSets.length).toBeGreaterThan(1000);
    expect(merged.length).toBeGreaterThan(0);
  });

  it.each([
    ['raw, one per frame', () => changeSets, 1],
    ['raw, 20 per frame', () => changeSets, 20],
    ['merged 100 ms', () => merged, 1],
  ] as const)('%s: every frame in column form', (_, sets: () => BookChange[], perFrame) => {
    const s = sets();
    const mapForm: number[] = [];
    for (let i = 0; i < s.length; i += perFrame) {
      if (!isColumns(compact.encodeUpd(BOOK_TOPIC, 'book', i + 1, s, i, Math.min(s.length, i + perFrame)))) mapForm.push(i);
    }
    expect(mapForm.slice(0, 5)).toEqual([]);
  });
});
