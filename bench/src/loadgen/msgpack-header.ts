/**
 * A header-only reader of protocol-v1 `upd` frames (msgpack): `op`, `topic`, `seq`, the number of
 * ticks in `data` and the first tick's `ts`, without decoding the other ticks. This is the
 * load generator's cheap check (client kind `tickwire-header`): sequence numbers are checked
 * exactly as with a full decode, latency is taken from the first (oldest) tick of each frame.
 *
 * Returns null for anything that is not a well-formed `upd` map (the caller then decodes the
 * frame fully), so `snap`, `ack`, `hb`... take the normal path.
 */

export interface UpdHeader {
  topic: string;
  seq: number;
  /** Ticks in `data`. */
  n: number;
  /** `ts` of `data[0]`; NaN when `data` is empty or the tick has no numeric `ts`. */
  ts: number;
}

class Cursor {
  p = 0;
  constructor(readonly b: Uint8Array) {}
}

const te = new TextDecoder();

function need(c: Cursor, n: number): void {
  if (c.p + n > c.b.length) throw new RangeError('truncated msgpack');
}

function u8(c: Cursor): number {
  need(c, 1);
  return c.b[c.p++] as number;
}

function be(c: Cursor, n: number): number {
  need(c, n);
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (c.b[c.p++] as number);
  return v;
}

/** Length of a map at the cursor, or -1 when the value is not a map. */
function mapLen(c: Cursor): number {
  const t = u8(c);
  if (t >= 0x80 && t <= 0x8f) return t & 0x0f;
  if (t === 0xde) return be(c, 2);
  if (t === 0xdf) return be(c, 4);
  c.p--;
  return -1;
}

function arrayLen(c: Cursor): number {
  const t = u8(c);
  if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
  if (t === 0xdc) return be(c, 2);
  if (t === 0xdd) return be(c, 4);
  c.p--;
  return -1;
}

/** Length of a string at the cursor (the cursor moves to its bytes), or -1. */
function strLen(c: Cursor): number {
  const t = u8(c);
  if (t >= 0xa0 && t <= 0xbf) return t & 0x1f;
  if (t === 0xd9) return be(c, 1);
  if (t === 0xda) return be(c, 2);
  if (t === 0xdb) return be(c, 4);
  c.p--;
  return -1;
}

function str(c: Cursor): string | undefined {
  const n = strLen(c);
  if (n < 0) return undefined;
  need(c, n);
  const s = te.decode(c.b.subarray(c.p, c.p + n));
  c.p += n;
  return s;
}

/** Compares the string at the cursor with an ASCII key without decoding it; moves past it. */
function keyIs(c: Cursor, start: number, len: number, key: string): boolean {
  if (len !== key.length) return false;
  for (let i = 0; i < len; i++) if (c.b[start + i] !== key.charCodeAt(i)) return false;
  return true;
}

/** A number (any msgpack int or float) at the cursor, or undefined (cursor unchanged). */
function num(c: Cursor): number | undefined {
  const b = c.b;
  const t = u8(c);
  if (t <= 0x7f) return t;
  if (t >= 0xe0) return t - 0x100;
  switch (t) {
    case 0xcc:
      return be(c, 1);
    case 0xcd:
      return be(c, 2);
    case 0xce:
      return be(c, 4);
    case 0xcf:
      return be(c, 8);
    case 0xd0: {
      const v = be(c, 1);
      return v >= 0x80 ? v - 0x100 : v;
    }
    case 0xd1: {
      const v = be(c, 2);
      return v >= 0x8000 ? v - 0x10000 : v;
    }
    case 0xd2: {
      const v = be(c, 4);
      return v >= 0x80000000 ? v - 0x100000000 : v;
    }
    case 0xca: {
      need(c, 4);
      const v = new DataView(b.buffer, b.byteOffset + c.p, 4).getFloat32(0);
      c.p += 4;
      return v;
    }
    case 0xcb: {
      need(c, 8);
      const v = new DataView(b.buffer, b.byteOffset + c.p, 8).getFloat64(0);
      c.p += 8;
      return v;
    }
  }
  c.p--;
  return undefined;
}

/** Skips one msgpack value of any type. */
function skip(c: Cursor): void {
  const t = u8(c);
  if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return;
  if (t >= 0x80 && t <= 0x8f) return skipN(c, 2 * (t & 0x0f));
  if (t >= 0x90 && t <= 0x9f) return skipN(c, t & 0x0f);
  if (t >= 0xa0 && t <= 0xbf) return void (c.p += t & 0x1f);
  switch (t) {
    case 0xcc:
    case 0xd0:
      c.p += 1;
      return;
    case 0xcd:
    case 0xd1:
      c.p += 2;
      return;
    case 0xce:
    case 0xd2:
    case 0xca:
      c.p += 4;
      return;
    case 0xcf:
    case 0xd3:
    case 0xcb:
      c.p += 8;
      return;
    case 0xd9:
    case 0xc4:
      c.p += be(c, 1);
      return;
    case 0xda:
    case 0xc5:
      c.p += be(c, 2);
      return;
    case 0xdb:
    case 0xc6:
      c.p += be(c, 4);
      return;
    case 0xdc:
      return skipN(c, be(c, 2));
    case 0xdd:
      return skipN(c, be(c, 4));
    case 0xde:
      return skipN(c, 2 * be(c, 2));
    case 0xdf:
      return skipN(c, 2 * be(c, 4));
    case 0xd4:
      c.p += 2;
      return;
    case 0xd5:
      c.p += 3;
      return;
    case 0xd6:
      c.p += 5;
      return;
    case 0xd7:
      c.p += 9;
      return;
    case 0xd8:
      c.p += 17;
      return;
    case 0xc7:
      c.p += be(c, 1) + 1;
      return;
    case 0xc8:
      c.p += be(c, 2) + 1;
      return;
    case 0xc9:
      c.p += be(c, 4) + 1;
      return;
  }
  throw new RangeError(`invalid msgpack type byte 0x${t.toString(16)}`);
}

function skipN(c: Cursor, n: number): void {
  for (let i = 0; i < n; i++) skip(c);
}

/** `ts` of the tick map at the cursor (the cursor moves past the tick). */
function tickTs(c: Cursor): number {
  const n = mapLen(c);
  if (n < 0) {
    skip(c);
    return NaN;
  }
  let ts = NaN;
  for (let i = 0; i < n; i++) {
    const len = strLen(c);
    if (len < 0) {
      skip(c);
      skip(c);
      continue;
    }
    need(c, len);
    const isTs = keyIs(c, c.p, len, 'ts');
    c.p += len;
    if (isTs) {
      const v = num(c);
      if (v === undefined) skip(c);
      else ts = v;
    } else {
      skip(c);
    }
  }
  return ts;
}

export function readUpdHeader(frame: Uint8Array): UpdHeader | null {
  try {
    const c = new Cursor(frame);
    const fields = mapLen(c);
    if (fields < 0) return null;
    let op: string | undefined;
    let topic: string | undefined;
    let seq: number | undefined;
    let n = -1;
    let ts = NaN;
    for (let i = 0; i < fields; i++) {
      const len = strLen(c);
      if (len < 0) return null;
      need(c, len);
      const k = c.p;
      c.p += len;
      if (keyIs(c, k, len, 'op')) {
        op = str(c);
        if (op !== 'upd') return null;
      } else if (keyIs(c, k, len, 'topic')) {
        topic = str(c);
      } else if (keyIs(c, k, len, 'seq')) {
        seq = num(c);
      } else if (keyIs(c, k, len, 'data')) {
        n = arrayLen(c);
        if (n < 0) return null;
        if (n > 0) ts = tickTs(c);
        // tickwire writes `data` last: stop there; otherwise skip the other ticks.
        if (op !== undefined && topic !== undefined && seq !== undefined) break;
        for (let j = 1; j < n; j++) skip(c);
      } else {
        skip(c);
      }
    }
    if (op !== 'upd' || topic === undefined || seq === undefined || n < 0) return null;
    return { topic, seq, n, ts };
  } catch {
    return null;
  }
}
