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

/** Feeds the decimal digits of a non-negative integer into the running CRC `c`. */
function crcInt(c: number, n: number): number {
  if (n < 1e8) return crcSmall(c, n, 0);
  if (n > Number.MAX_SAFE_INTEGER) {
    // Beyond exact integers: the string form, exactly as the reference builds it.
    const s = `${n}`;
    for (let i = 0; i < s.length; i++) c = (TABLE[(c ^ s.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
    return c;
  }
  // Two int32 halves: integer division on int32 is much cheaper than on doubles.
  const hi = Math.floor(n / 1e8);
  return crcSmall(crcInt(c, hi), n - hi * 1e8, 8);
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
