import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BookChecksumVector } from '../../../protocol/src/book-fixtures.js';
import { bookChecksum, type BookEvent } from '../src/book.js';
import { memoryClient } from './support/memory-client.js';

/**
 * The shared order-book checksum vectors (docs/fixtures/book-checksum.json, the gateway's and both
 * SDKs'): the SDK's checksum gives each vector's `cs`, and a maintained book accepts a snapshot
 * carrying it and refuses (resyncs) one carrying anything else.
 */

const FILE = join(dirname(fileURLToPath(import.meta.url)), '../../../docs/fixtures/book-checksum.json');
const vectors = (JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: BookChecksumVector[] }).vectors;

describe('docs/fixtures/book-checksum.json', () => {
  it('has vectors', () => {
    expect(vectors.length).toBeGreaterThan(3);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    expect(bookChecksum(v.bids, v.asks, { tick: v.tick, lot: v.lot })).toBe(v.cs);
    for (const [cs, verified] of [
      [v.cs, true],
      [(v.cs + 1) >>> 0, false],
    ] as const) {
      const t = memoryClient();
      const book = t.client.book('BTC-USD');
      const events: BookEvent[] = [];
      book.onChange((e) => events.push(e));
      t.open();
      t.sock().serverSend({ op: 'ack', id: 1, topics: ['book.BTC-USD'] });
      const data = { ts: 1, bids: v.bids, asks: v.asks, cs, tick: v.tick, lot: v.lot };
      t.sock().serverSend({ op: 'snap', topic: 'book.BTC-USD', seq: 1, epoch: 'E', data });
      expect(book.synced).toBe(verified);
      expect(events.map((e) => e.type)).toEqual([verified ? 'snapshot' : 'resyncing']);
      if (verified) expect([...book.bids]).toEqual(v.bids);
    }
  });
});
