import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Book, windowDiff, type BookChange, type BookUnits, type Level } from '../../../protocol/src/book.js';
import type { ManualSource } from './gateway.js';

/** The symbol the scripted book trades, its two topics (full and depth 10), and its units. */
export const BOOK_SYMBOL = 'BTC-USD';
export const BOOK_FULL = `book.${BOOK_SYMBOL}`;
export const BOOK_TOP = `book.${BOOK_SYMBOL}:10`;
export const BOOK_UNITS: BookUnits = { tick: 0.01, lot: 0.001 };

/** A symbols file (`symbolsFile`) listing BOOK_SYMBOL with BOOK_UNITS, in a fresh temporary folder. */
export function bookSymbolsFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tw-book-')), 'symbols.json');
  writeFileSync(file, JSON.stringify({ symbols: [{ symbol: BOOK_SYMBOL, tickSize: BOOK_UNITS.tick, lotSize: BOOK_UNITS.lot }] }));
  return file;
}

/**
 * A scripted upstream for book tests: a book changed at random (seeded, so a failure replays),
 * published on BOOK_FULL and BOOK_TOP as the book engine does (full change sets, and the depth-10
 * window's difference), each with the book's checksum.
 */
export class BookScript {
  readonly book = new Book();
  /** Change sets published per topic (the seq of the last one is the count). */
  readonly seq = { [BOOK_FULL]: 0, [BOOK_TOP]: 0 };
  private ts = 1_700_000_000_000;

  constructor(
    private readonly src: ManualSource,
    private rnd = 12345,
  ) {}

  private next(n: number): number {
    this.rnd = (Math.imul(this.rnd, 1103515245) + 12345) >>> 0; // 32-bit LCG, exact in integer arithmetic
    return (this.rnd >>> 16) % n;
  }

  /** One random change set (or, with `stale`, one emptying the book) on both topics. */
  change(stale = false): void {
    const before = this.top();
    const b: Level[] = [];
    const a: Level[] = [];
    if (stale) {
      for (const px of this.book.bids.px) b.push([px, 0]);
      for (const px of this.book.asks.px) a.push([px, 0]);
    } else {
      const seen = new Set<number>();
      for (let k = 0, n = 1 + this.next(5); k < n; k++) {
        const bid = this.next(2) === 0;
        const px = Math.round((bid ? 60_000 - 0.01 * (1 + this.next(40)) : 60_000 + 0.01 * this.next(40)) * 100) / 100;
        if (seen.has(px)) continue;
        seen.add(px);
        (bid ? b : a).push([px, this.next(4) === 0 ? 0 : (1 + this.next(900)) * BOOK_UNITS.lot]);
      }
      b.sort((x, y) => y[0] - x[0]);
      a.sort((x, y) => x[0] - y[0]);
    }
    this.book.apply(b, a, ++this.ts);
    const cs = this.book.checksum(BOOK_UNITS);
    const flag = stale ? { stale: true as const } : {};
    this.publish(BOOK_FULL, { ts: this.ts, b, a, cs, ...flag });
    const after = this.top();
    this.publish(BOOK_TOP, {
      ts: this.ts,
      b: windowDiff(before.bids, after.bids, true),
      a: windowDiff(before.asks, after.asks, false),
      cs,
      ...flag,
    });
  }

  private publish(topic: typeof BOOK_FULL | typeof BOOK_TOP, c: BookChange): void {
    this.seq[topic]++;
    this.src.publish(topic, c);
  }

  /** The best `depth` levels of each side. */
  top(depth = 10): { bids: Level[]; asks: Level[] } {
    return { bids: this.book.bids.levels(depth), asks: this.book.asks.levels(depth) };
  }

  /** The whole book. */
  all(): { bids: Level[]; asks: Level[] } {
    return this.top(Infinity);
  }
}
