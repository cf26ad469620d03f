import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bookChecksum, type Level } from '../src/book.js';
import { bookChecksumVectors, type BookChecksumVector } from '../src/book-fixtures.js';

const file = JSON.parse(readFileSync(new URL('../../docs/fixtures/book-checksum.json', import.meta.url), 'utf8')) as {
  vectors: BookChecksumVector[];
};

/** The documented rule (docs/protocol.md, "Order books"), spelled out once more, as an SDK would. */
function documented(v: BookChecksumVector): string {
  const u = (x: number, unit: number) => Math.floor(x / unit + 0.5);
  const parts: string[] = [];
  for (let i = 0; i < 10; i++) {
    for (const side of [v.bids, v.asks] as Level[][]) {
      const l = side[i];
      if (l) parts.push(`${u(l[0], v.tick)}:${u(l[1], v.lot)}`);
    }
  }
  return parts.join(':');
}

describe('order-book checksum vectors (docs/fixtures/book-checksum.json)', () => {
  it('the file holds exactly the generated vectors (npm run docs:fixtures)', () => {
    expect(file.vectors).toEqual(bookChecksumVectors());
    expect(file.vectors.length).toBeGreaterThanOrEqual(8);
  });

  it('every vector recomputes: the string by the documented rule, its CRC-32 by zlib, and bookChecksum', () => {
    for (const v of file.vectors) {
      expect(documented(v), v.name).toBe(v.string);
      expect(crc32(Buffer.from(v.string, 'ascii')) >>> 0, v.name).toBe(v.cs);
      expect(bookChecksum(v.bids, v.asks, { tick: v.tick, lot: v.lot }), v.name).toBe(v.cs);
    }
    expect(file.vectors.find((v) => v.bids.length === 0 && v.asks.length === 0)).toMatchObject({ string: '', cs: 0 });
  });
});
