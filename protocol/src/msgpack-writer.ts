import type { Payload, QuoteTick, TopicKind, TradeTick } from './ticks.js';

/**
 * A minimal msgpack writer for the two hot frames (`upd` and `snap`).
 *
 * Why not msgpackr here: msgpackr writes an integral double (a price of 65000) as a msgpack int,
 * while protocol v1 promises float64 for every tick number, so that typed decoders (Python,
 * Go, Rust) always see floats. Writing the fixed shapes directly also skips per-key type
 * dispatch on the hottest path. Output is standard msgpack (maps, str, float64, uint);
 * gateway/test/codec.test.ts decodes it with @msgpack/msgpack.
 */
/** A short ASCII string (a map key or fixed value) as its finished msgpack bytes. */
function fixstr(s: string): Buffer {
  return Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s, 'latin1')]);
}

/**
 * Keys and fixed strings, encoded once: writing them is a copy, not a UTF-8 length and encode
 * per key per tick.
 */
export const K = {
  op: fixstr('op'),
  upd: fixstr('upd'),
  snap: fixstr('snap'),
  topic: fixstr('topic'),
  seq: fixstr('seq'),
  epoch: fixstr('epoch'),
  data: fixstr('data'),
  resync: fixstr('resync'),
  src: fixstr('src'),
  off: fixstr('off'),
  ts: fixstr('ts'),
  px: fixstr('px'),
  qty: fixstr('qty'),
  side: fixstr('side'),
  b: fixstr('b'),
  s: fixstr('s'),
  bid: fixstr('bid'),
  bsz: fixstr('bsz'),
  ask: fixstr('ask'),
  asz: fixstr('asz'),
} as const;

export class MsgpackWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  /** Returns a copy of what was written and resets the writer, so the scratch buffer is reused. */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  mapHeader(n: number): void {
    this.ensure(5);
    if (n < 16) this.buf[this.pos++] = 0x80 | n;
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xde;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdf;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  arrayHeader(n: number): void {
    this.ensure(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xdc;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdd;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  str(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.ensure(len + 5);
    if (len < 32) this.buf[this.pos++] = 0xa0 | len;
    else if (len < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = len;
    } else if (len < 0x10000) {
      this.buf[this.pos++] = 0xda;
      this.buf.writeUInt16BE(len, this.pos);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdb;
      this.buf.writeUInt32BE(len, this.pos);
      this.pos += 4;
    }
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  bool(b: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = b ? 0xc3 : 0xc2;
  }

  /** Bytes that are already msgpack (a precomputed key from K). */
  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  f64(x: number): void {
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.buf.writeDoubleBE(x, this.pos);
    this.pos += 8;
  }

  /** A non-negative safe integer (sequence numbers). */
  uint(n: number): void {
    this.ensure(9);
    if (n < 0x80) this.buf[this.pos++] = n;
    else if (n < 0x100) {
      this.buf[this.pos++] = 0xcc;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = 0xcd;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else if (n < 0x100000000) {
      this.buf[this.pos++] = 0xce;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    } else {
      this.buf[this.pos++] = 0xcf;
      this.buf.writeBigUInt64BE(BigInt(n), this.pos);
      this.pos += 8;
    }
  }

  /** A market tick (trade or quote); free-form payloads never come here. */
  tick(kind: TopicKind, t: Payload): void {
    if (kind === 'trade') {
      const tr = t as TradeTick;
      this.mapHeader(4);
      this.raw(K.ts);
      this.f64(tr.ts);
      this.raw(K.px);
      this.f64(tr.px);
      this.raw(K.qty);
      this.f64(tr.qty);
      this.raw(K.side);
      this.raw(tr.side === 'b' ? K.b : K.s);
    } else {
      const q = t as QuoteTick;
      this.mapHeader(5);
      this.raw(K.ts);
      this.f64(q.ts);
      this.raw(K.bid);
      this.f64(q.bid);
      this.raw(K.bsz);
      this.f64(q.bsz);
      this.raw(K.ask);
      this.f64(q.ask);
      this.raw(K.asz);
      this.f64(q.asz);
    }
  }
}
