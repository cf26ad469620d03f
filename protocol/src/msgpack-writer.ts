/**
 * A minimal msgpack writer for the two hot frames (`upd` and `snap`).
 *
 * Why not msgpackr here: msgpackr writes an integral double (a price of 65000) as a msgpack int,
 * while protocol v1 promises float64 for every tick number, so that typed decoders (Python,
 * Go, Rust) always see floats. Writing the fixed shapes directly also skips per-key type
 * dispatch on the hottest path. Output is standard msgpack (maps, str, float64, uint);
 * protocol/test/codec.test.ts decodes it with @msgpack/msgpack. Each topic kind's tick writer
 * lives in its registry entry (kinds.ts).
 *
 * Module load touches no Node global (the keys are plain Uint8Arrays), so browsers can import
 * the protocol; the writer itself uses Buffer and is only constructed where frames are encoded.
 */
import { K } from './msgpack-keys.js';

export { K };

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
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
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

  /** A safe integer of either sign, in the smallest msgpack int form (the compact codec's columns). */
  int(n: number): void {
    if (n >= 0) return this.uint(n);
    this.ensure(9);
    if (n >= -32) this.buf[this.pos++] = n & 0xff;
    else if (n >= -0x80) {
      this.buf[this.pos++] = 0xd0;
      this.buf.writeInt8(n, this.pos);
      this.pos += 1;
    } else if (n >= -0x8000) {
      this.buf[this.pos++] = 0xd1;
      this.buf.writeInt16BE(n, this.pos);
      this.pos += 2;
    } else if (n >= -0x80000000) {
      this.buf[this.pos++] = 0xd2;
      this.buf.writeInt32BE(n, this.pos);
      this.pos += 4;
    } else {
      this.buf[this.pos++] = 0xd3;
      this.buf.writeBigInt64BE(BigInt(n), this.pos);
      this.pos += 8;
    }
  }
}
