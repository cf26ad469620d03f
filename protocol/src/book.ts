/**
 * Order books (L2 depth) on the wire, protocol v1: the shapes, the checksum and the pure
 * operations every party needs (the gateway folds change sets into books and views; the SDKs
 * keep a local copy and verify it). docs/protocol.md, "Order books", is the contract.
 *
 * A level is `[px, qty]`. A change set lists levels per side; `qty` 0 removes the level. Levels in
 * a change set are unique per side and listed best first (bids descending, asks ascending).
 */

/** One price level: price and the size resting at it (base units). */
export type Level = [px: number, qty: number];

/** The `snap.data` of a book topic: the levels best first, at most the view's depth. */
export type BookSnapshot = {
  /** Time of the newest change folded in, epoch ms. */
  ts: number;
  bids: Level[];
  asks: Level[];
  /** Checksum of the top 10 levels (bookChecksum). */
  cs: number;
  /** The symbol's tick size and lot size: the units the checksum is computed in. */
  tick: number;
  lot: number;
  /** Present while the book is stale (upstream data was rejected): empty until the next upstream snapshot. */
  stale?: true;
};

/** One element of a book topic's `upd.data`: one change set, one seq step. */
export type BookChange = {
  ts: number;
  /** Bid levels that changed (qty 0: removed), best first. */
  b: Level[];
  /** Ask levels that changed, best first. */
  a: Level[];
  /** Checksum of the top 10 levels after applying this change set. */
  cs: number;
  /**
   * On the change set that empties a book going stale (upstream data was rejected); the change
   * set that refills it from the next upstream snapshot has no flag.
   */
  stale?: true;
};

/** The symbol's tick and lot sizes. */
export interface BookUnits {
  tick: number;
  lot: number;
}

/** Used when the symbol directory does not know the symbol (documented in docs/protocol.md). */
export const DEFAULT_BOOK_UNITS: BookUnits = { tick: 1e-8, lot: 1e-8 };

/** Levels the checksum covers per side. */
export const CHECKSUM_LEVELS = 10;

/** Depths of the depth-limited views `book.<SYMBOL>:<depth>`. */
export const BOOK_DEPTHS = [10, 25, 100] as const;
export type BookDepth = (typeof BOOK_DEPTHS)[number];

// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): zlib's crc32, Python's zlib.crc32.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of an ASCII string (the checksum input is digits and `:` only). */
export function crc32Ascii(s: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = (CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A price or size in integer units: floor(x / unit + 0.5). Prices and sizes on the symbol's grid
 * give exact integers however the float division rounds; the rule is spelled out so that every
 * language (Python's round() rounds halves to even) computes the same.
 */
export function toUnits(x: number, unit: number): number {
  return Math.floor(x / unit + 0.5);
}

/**
 * The book checksum: CRC-32 of the ASCII string that interleaves the top 10 bids and asks, best
 * first, as `bidPx:bidQty:askPx:askQty:…` in integer tick and lot units; a side with fewer levels
 * contributes what it has (an empty book checksums the empty string: 0). Unsigned 32-bit.
 */
export function bookChecksum(bids: readonly Level[], asks: readonly Level[], units: BookUnits): number {
  const parts: string[] = [];
  for (let i = 0; i < CHECKSUM_LEVELS; i++) {
    const b = bids[i];
    const a = asks[i];
    if (b) parts.push(`${toUnits(b[0], units.tick)}:${toUnits(b[1], units.lot)}`);
    if (a) parts.push(`${toUnits(a[0], units.tick)}:${toUnits(a[1], units.lot)}`);
  }
  return crc32Ascii(parts.join(':'));
}

/** Sorted levels of one side; `better(a, b)` is true when price a ranks before price b. */
class Side {
  /** Prices best first, and their sizes at the same index. */
  readonly px: number[] = [];
  readonly qty: number[] = [];

  constructor(readonly bid: boolean) {}

  /** Index of px, or of where it would go (as -(i + 1)). Binary search. */
  find(px: number): number {
    let lo = 0;
    let hi = this.px.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.px[mid] as number;
      if (p === px) return mid;
      if (this.bid ? p > px : p < px) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }

  set(px: number, qty: number): void {
    const i = this.find(px);
    if (i >= 0) {
      if (qty === 0) {
        this.px.splice(i, 1);
        this.qty.splice(i, 1);
      } else this.qty[i] = qty;
    } else if (qty !== 0) {
      const at = -i - 1;
      this.px.splice(at, 0, px);
      this.qty.splice(at, 0, qty);
    }
  }

  levels(depth: number): Level[] {
    const n = Math.min(depth, this.px.length);
    const out = new Array<Level>(n);
    for (let i = 0; i < n; i++) out[i] = [this.px[i] as number, this.qty[i] as number];
    return out;
  }

  /** Drops levels beyond `depth` (the worst ones). */
  truncate(depth: number): void {
    if (this.px.length > depth) {
      this.px.length = depth;
      this.qty.length = depth;
    }
  }
}

/**
 * An order book: the state a book topic folds its change sets into, and the local copy an SDK
 * keeps. Applying a change set sets or removes each listed level; nothing else changes.
 */
export class Book {
  readonly bids = new Side(true);
  readonly asks = new Side(false);
  /** Time of the newest change applied. */
  ts = 0;

  /** Applies one change set (a BookChange's b and a, or a snapshot's bids and asks onto an empty book). */
  apply(b: readonly Level[], a: readonly Level[], ts?: number): void {
    for (const [px, qty] of b) this.bids.set(px, qty);
    for (const [px, qty] of a) this.asks.set(px, qty);
    if (ts !== undefined) this.ts = ts;
  }

  get depth(): number {
    return Math.max(this.bids.px.length, this.asks.px.length);
  }

  bestBid(): number | undefined {
    return this.bids.px[0];
  }

  bestAsk(): number | undefined {
    return this.asks.px[0];
  }

  /** True when the best bid is at or above the best ask. */
  crossed(): boolean {
    const b = this.bids.px[0];
    const a = this.asks.px[0];
    return b !== undefined && a !== undefined && b >= a;
  }

  checksum(units: BookUnits): number {
    return bookChecksum(this.bids.levels(CHECKSUM_LEVELS), this.asks.levels(CHECKSUM_LEVELS), units);
  }

  snapshot(depth: number, units: BookUnits): BookSnapshot {
    return { ts: this.ts, bids: this.bids.levels(depth), asks: this.asks.levels(depth), cs: this.checksum(units), ...units };
  }

  /** Keeps at most `depth` levels per side (a gateway bounds each book it keeps). */
  truncate(depth: number): void {
    this.bids.truncate(depth);
    this.asks.truncate(depth);
  }

  clone(): Book {
    const c = new Book();
    c.bids.px.push(...this.bids.px);
    c.bids.qty.push(...this.bids.qty);
    c.asks.px.push(...this.asks.px);
    c.asks.qty.push(...this.asks.qty);
    c.ts = this.ts;
    return c;
  }
}

/**
 * What changes in the top `depth` levels of one side between two states of it, given as level
 * arrays best first: new or resized levels with their size, and levels that left with qty 0.
 * Result best first. This is what a depth-limited view sends, so that a client applying only
 * what it receives always holds exactly the view's depth.
 */
export function windowDiff(before: readonly Level[], after: readonly Level[], bid: boolean): Level[] {
  const out: Level[] = [];
  let i = 0;
  let j = 0;
  // Merge walk over two lists sorted best first.
  while (i < before.length || j < after.length) {
    const x = before[i];
    const y = after[j];
    if (x !== undefined && y !== undefined && x[0] === y[0]) {
      if (x[1] !== y[1]) out.push([y[0], y[1]]);
      i++;
      j++;
    } else if (y === undefined || (x !== undefined && (bid ? x[0] > y[0] : x[0] < y[0]))) {
      out.push([(x as Level)[0], 0]);
      i++;
    } else {
      out.push([y[0], y[1]]);
      j++;
    }
  }
  return out;
}

/**
 * Merges change sets per price level, the last size winning (a removal stays a removal): what a
 * throttled view sends for its interval. Applying the result equals applying the inputs in order.
 */
export class ChangeMerger {
  private readonly b = new Map<number, number>();
  private readonly a = new Map<number, number>();
  private ts = 0;
  private n = 0;

  add(c: { ts: number; b: readonly Level[]; a: readonly Level[] }): void {
    for (const [px, qty] of c.b) this.b.set(px, qty);
    for (const [px, qty] of c.a) this.a.set(px, qty);
    this.ts = c.ts;
    this.n++;
  }

  /** Change sets added since the last take. */
  get count(): number {
    return this.n;
  }

  /** The merged change set (without checksum), best first, and resets. */
  take(): { ts: number; b: Level[]; a: Level[] } {
    const b = [...this.b].sort((x, y) => y[0] - x[0]);
    const a = [...this.a].sort((x, y) => x[0] - y[0]);
    const out = { ts: this.ts, b, a };
    this.b.clear();
    this.a.clear();
    this.n = 0;
    return out;
  }
}
