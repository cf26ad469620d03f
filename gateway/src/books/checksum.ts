import { CHECKSUM_LEVELS, toUnits, type BookUnits } from '../../../protocol/src/book.js';
import type { BookSide } from './window.js';

// CRC-32 (IEEE, reflected, 0xEDB88320), as protocol/src/book.ts computes it over a string.
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const COLON = 58;
const digits = new Uint8Array(24);
/** Bytes the last `crcInt` fed (its digit count): its caller needs both, and counting again cost a loop. */
let fed = 0;

/** Feeds the decimal digits of a non-negative integer into the running CRC `c`. */
function crcInt(c: number, n: number): number {
  if (n < SMALL) {
    const len = SMALL_LEN[n] as number;
    fed = len;
    return advance(c, ZERO_BY_LEN[len] as Int32Array) ^ (SMALL_CRC[n] as number);
  }
  if (n < SMALL * SMALL) {
    // Below 10^8, as two table entries: the leading digits, then the last four zero-padded.
    const hi = Math.floor(n / SMALL);
    const len = SMALL_LEN[hi] as number;
    c = advance(c, ZERO_BY_LEN[len] as Int32Array) ^ (SMALL_CRC[hi] as number);
    fed = len + 4;
    return advance(c, ZERO_BY_LEN[4] as Int32Array) ^ (PADDED_CRC[n - hi * SMALL] as number);
  }
  if (n > Number.MAX_SAFE_INTEGER) {
    // Beyond exact integers: the string form, exactly as the reference builds it.
    const s = `${n}`;
    for (let i = 0; i < s.length; i++) c = (TABLE[(c ^ s.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
    fed = s.length;
    return c;
  }
  // Two int32 halves: integer division on int32 is much cheaper than on doubles.
  const hi = Math.floor(n / 1e8);
  c = crcInt(c, hi);
  const high = fed;
  c = crcSmall(c, n - hi * 1e8, 8);
  fed += high;
  return c;
}

/** Digits of `n` < 1e8, left-padded with zeros to `width`. */
function crcSmall(c: number, n: number, width: number): number {
  let len = 0;
  do {
    const q = (n / 10) | 0;
    digits[len++] = 48 + n - q * 10;
    n = q;
  } while (n > 0);
  while (len < width) digits[len++] = 48;
  fed = len;
  while (len > 0) c = (TABLE[(c ^ (digits[--len] as number)) & 0xff] as number) ^ (c >>> 8);
  return c;
}

function crcLevel(c: number, first: boolean, px: number, qty: number, units: BookUnits): number {
  if (!first) c = (TABLE[(c ^ COLON) & 0xff] as number) ^ (c >>> 8);
  c = crcInt(c, toUnits(px, units.tick));
  c = (TABLE[(c ^ COLON) & 0xff] as number) ^ (c >>> 8);
  return crcInt(c, toUnits(qty, units.lot));
}

/**
 * `bookChecksum` of a book's top levels, computed straight from its sides without building the
 * string or level arrays: the engine computes one per change set. A test holds it equal to
 * `bookChecksum` (protocol/src/book.ts), the definition.
 */
export function sidesChecksum(bids: BookSide, asks: BookSide, units: BookUnits): number {
  let c = -1;
  let first = true;
  for (let i = 0; i < CHECKSUM_LEVELS; i++) {
    if (i < bids.px.length) {
      c = crcLevel(c, first, bids.px[i] as number, bids.qty[i] as number, units);
      first = false;
    }
    if (i < asks.px.length) {
      c = crcLevel(c, first, asks.px[i] as number, asks.qty[i] as number, units);
      first = false;
    }
  }
  return (c ^ -1) >>> 0;
}

/**
 * Zero-byte advance tables: ZERO[L] maps a CRC register to the register after L zero bytes, split
 * per register byte (4 × 256 entries). The CRC step is linear over GF(2), so the register after a
 * segment S from state c is advance(c, |S|) xor (the register after S from 0): a level's segment
 * is hashed once and then combined in 4 lookups, whatever the state before it.
 */
const ZERO: (Int32Array | undefined)[] = [];

function zeroTable(len: number): Int32Array {
  let z = ZERO[len];
  if (z === undefined) {
    z = new Int32Array(1024);
    for (let j = 0; j < 4; j++)
      for (let v = 0; v < 256; v++) {
        let c = v << (8 * j);
        for (let k = 0; k < len; k++) c = (TABLE[c & 0xff] as number) ^ (c >>> 8);
        z[j * 256 + v] = c;
      }
    ZERO[len] = z;
  }
  return z;
}

/**
 * The digits of every integer below 10^4 hashed in advance (register from 0; combined with `advance`):
 * a level's price and size are then two or four table lookups each instead of a division and a CRC
 * step per digit. `SMALL_CRC`/`SMALL_LEN` without leading zeros, `PADDED_CRC` padded to four digits.
 */
const SMALL = 10_000;
const SMALL_CRC = new Int32Array(SMALL);
const SMALL_LEN = new Uint8Array(SMALL);
const PADDED_CRC = new Int32Array(SMALL);
const ZERO_BY_LEN = [0, 1, 2, 3, 4].map(zeroTable);
for (let v = 0; v < SMALL; v++) {
  const s = `${v}`;
  const padded = s.padStart(4, '0');
  let c = 0;
  for (let i = 0; i < s.length; i++) c = (TABLE[(c ^ s.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  SMALL_CRC[v] = c;
  SMALL_LEN[v] = s.length;
  c = 0;
  for (let i = 0; i < 4; i++) c = (TABLE[(c ^ padded.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  PADDED_CRC[v] = c;
}

function advance(c: number, z: Int32Array): number {
  return (
    (z[c & 0xff] as number) ^
    (z[256 + ((c >>> 8) & 0xff)] as number) ^
    (z[512 + ((c >>> 16) & 0xff)] as number) ^
    (z[768 + ((c >>> 24) & 0xff)] as number)
  );
}

/** One side's top levels as last hashed: price, size, and the segment `px:qty` (register from 0, length). */
class SegmentCache {
  px = new Float64Array(CHECKSUM_LEVELS);
  qty = new Float64Array(CHECKSUM_LEVELS);
  crc = new Int32Array(CHECKSUM_LEVELS);
  len = new Int32Array(CHECKSUM_LEVELS);
  n = 0;
  // Double-buffered: the next top is built from the previous one.
  private next: SegmentCache | undefined;

  /** Refreshes the cache for the side's current top levels; levels that only moved ranks are reused. */
  refresh(side: BookSide, units: BookUnits): SegmentCache {
    const out = (this.next ??= new SegmentCache());
    out.next = this;
    const n = Math.min(side.px.length, CHECKSUM_LEVELS);
    const bid = side.bid;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const p = side.px[i] as number;
      const q = side.qty[i] as number;
      out.px[i] = p;
      out.qty[i] = q;
      // Both tops are sorted best first: walk the previous one alongside (levels shift by any number of ranks).
      while (j < this.n && (bid ? (this.px[j] as number) > p : (this.px[j] as number) < p)) j++;
      const hit = j < this.n && this.px[j] === p && this.qty[j] === q ? j : -1;
      if (hit >= 0) {
        out.crc[i] = this.crc[hit] as number;
        out.len[i] = this.len[hit] as number;
      } else {
        const pu = toUnits(p, units.tick);
        const qu = toUnits(q, units.lot);
        let c = crcInt(0, pu);
        const len = fed + 1;
        c = (TABLE[(c ^ COLON) & 0xff] as number) ^ (c >>> 8);
        out.crc[i] = crcInt(c, qu);
        out.len[i] = len + fed;
      }
    }
    out.n = n;
    return out;
  }
}

/**
 * `sidesChecksum` kept incrementally for one book: each level's segment `px:qty` is hashed once
 * when it enters the top 10 (or changes size) and combined with the others by zero-byte advance
 * tables, instead of printing and hashing all 20 levels on every change set. A test holds it equal
 * to `sidesChecksum` over random sequences of books.
 */
export class TopChecksum {
  private bids = new SegmentCache();
  private asks = new SegmentCache();
  private units: BookUnits | undefined;

  /** Forgets the cached segments. */
  reset(): void {
    this.bids.n = 0;
    this.asks.n = 0;
    this.units = undefined;
  }

  /**
   * The checksum of the sides' top levels (`sidesChecksum`). `bidsSame`/`asksSame`: the caller
   * knows that side's top levels did not change since the last call, so its segments are kept as they are.
   */
  update(bids: BookSide, asks: BookSide, units: BookUnits, bidsSame = false, asksSame = false): number {
    if (units !== this.units && (this.units === undefined || units.tick !== this.units.tick || units.lot !== this.units.lot)) {
      this.reset();
      bidsSame = asksSame = false;
    }
    this.units = units;
    const b = bidsSame ? this.bids : (this.bids = this.bids.refresh(bids, units));
    const a = asksSame ? this.asks : (this.asks = this.asks.refresh(asks, units));
    let c = -1;
    let first = true;
    for (let i = 0; i < CHECKSUM_LEVELS; i++) {
      if (i < b.n) {
        if (!first) c = (TABLE[(c ^ COLON) & 0xff] as number) ^ (c >>> 8);
        c = advance(c, zeroTable(b.len[i] as number)) ^ (b.crc[i] as number);
        first = false;
      }
      if (i < a.n) {
        if (!first) c = (TABLE[(c ^ COLON) & 0xff] as number) ^ (c >>> 8);
        c = advance(c, zeroTable(a.len[i] as number)) ^ (a.crc[i] as number);
        first = false;
      }
    }
    return (c ^ -1) >>> 0;
  }
}
