/**
 * The few fields of Centrifugo's protobuf client protocol (v2, centrifugal/protocol client.proto)
 * the load generator needs, by hand: a full protobuf library would cost more per frame than the
 * JSON it is compared with, and we read four fields.
 *
 * A WebSocket frame holds one or more varint-length-delimited messages. Client → server `Command`:
 * id = 1, connect = 4 (`ConnectRequest`, empty here), subscribe = 5 (`SubscribeRequest`: channel = 1).
 * Server → client `Reply`: id = 1, error = 2 (`Error`: code = 1, message = 2), push = 4 (`Push`:
 * channel = 2, pub = 4 (`Publication`: data = 4)). An empty message is a ping, answered with an
 * empty command (the single byte 0).
 */

/** What the load generator reads of one `Reply`. */
export interface CentrifugoReply {
  id: number;
  error?: { code: number; message: string };
  /** A publication's channel and data (the feeder's JSON bytes). */
  pub?: { channel: string; data: Uint8Array };
  /** An empty reply: the server's ping. */
  ping: boolean;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextDecoder();
const utf8Enc = new TextEncoder();

/** The pong: an empty command, length-prefixed. */
export const PONG = Uint8Array.of(0);

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** One length-prefixed `Command`: `{id, connect: {}}` or `{id, subscribe: {channel}}`. */
export function encodeCommand(id: number, cmd: { connect: true } | { subscribe: string }): Uint8Array {
  const body: number[] = [(1 << 3) | WIRE_VARINT, ...varintBytes(id)];
  if ('connect' in cmd) {
    body.push((4 << 3) | WIRE_LEN, 0);
  } else {
    const ch = utf8Enc.encode(cmd.subscribe);
    const sub = [(1 << 3) | WIRE_LEN, ...varintBytes(ch.length), ...ch];
    body.push((5 << 3) | WIRE_LEN, ...varintBytes(sub.length), ...sub);
  }
  return Uint8Array.from([...varintBytes(body.length), ...body]);
}

/** A cursor over protobuf bytes; throws on truncated input. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let n = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++] as number;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  }

  /** Start and end of a length-delimited field's bytes. */
  bytes(): [number, number] {
    const len = this.varint();
    const s = this.pos;
    if (s + len > this.end) throw new Error('truncated field');
    this.pos = s + len;
    return [s, s + len];
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Calls `onField` for each field of the message in buf[start, end); a field it does not read (returns false) is skipped. */
function fields(buf: Uint8Array, start: number, end: number, onField: (field: number, r: Reader, wire: number) => boolean): void {
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const key = r.varint();
    const wire = key & 7;
    if (!onField(key >>> 3, r, wire)) r.skip(wire);
  }
}

function parseError(buf: Uint8Array, s: number, e: number): { code: number; message: string } {
  const err = { code: 0, message: '' };
  fields(buf, s, e, (f, r, w) => {
    if (f === 1 && w === WIRE_VARINT) err.code = r.varint();
    else if (f === 2 && w === WIRE_LEN) {
      const [a, b] = r.bytes();
      err.message = utf8.decode(buf.subarray(a, b));
    } else return false;
    return true;
  });
  return err;
}

function parsePush(buf: Uint8Array, s: number, e: number): { channel: string; data: Uint8Array } | undefined {
  let channel = '';
  let data: Uint8Array | undefined;
  fields(buf, s, e, (f, r, w) => {
    if (w !== WIRE_LEN) return false;
    if (f === 2) {
      const [a, b] = r.bytes();
      channel = utf8.decode(buf.subarray(a, b));
    } else if (f === 4) {
      const [ps, pe] = r.bytes();
      fields(buf, ps, pe, (pf, pr, pw) => {
        if (pf !== 4 || pw !== WIRE_LEN) return false;
        const [a, b] = pr.bytes();
        data = buf.subarray(a, b);
        return true;
      });
    } else return false;
    return true;
  });
  return data ? { channel, data } : undefined;
}

/** Every `Reply` of one frame, in order. */
export function readReplies(frame: Uint8Array, onReply: (r: CentrifugoReply) => void): void {
  const top = new Reader(frame, 0, frame.length);
  while (top.pos < frame.length) {
    const [s, e] = top.bytes();
    const reply: CentrifugoReply = { id: 0, ping: s === e };
    fields(frame, s, e, (f, r, w) => {
      if (f === 1 && w === WIRE_VARINT) reply.id = r.varint();
      else if (f === 2 && w === WIRE_LEN) reply.error = parseError(frame, ...r.bytes());
      else if (f === 4 && w === WIRE_LEN) {
        const p = parsePush(frame, ...r.bytes());
        if (p) reply.pub = p;
      } else return false;
      return true;
    });
    onReply(reply);
  }
}

/** `"seq":` and `"ts":` as bytes. */
const SEQ_KEY = utf8Enc.encode('"seq":');
const TS_KEY = utf8Enc.encode('"ts":');

function indexOfBytes(buf: Uint8Array, key: Uint8Array, from: number): number {
  const first = key[0] as number;
  outer: for (let i = buf.indexOf(first, from); i !== -1 && i + key.length <= buf.length; i = buf.indexOf(first, i + 1)) {
    for (let k = 1; k < key.length; k++) if (buf[i + k] !== key[k]) continue outer;
    return i + key.length;
  }
  return -1;
}

/** The non-negative integer written at `i` (JSON digits), or NaN. */
function digitsAt(buf: Uint8Array, i: number): number {
  let n = 0;
  let any = false;
  for (; i < buf.length; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    any = true;
  }
  return any ? n : NaN;
}

/**
 * The `seq` and the first tick's `ts` of a feeder publication (`{"op":"upd","topic":…,"seq":N,
 * "data":[{"ts":T,…}]}`, JSON.stringify's key order) without parsing the JSON: the header-only
 * check of `centrifugo-protobuf-header` clients. Undefined when either is missing.
 */
export function readUpdHeadJson(data: Uint8Array): { seq: number; ts: number } | undefined {
  const s = indexOfBytes(data, SEQ_KEY, 0);
  if (s < 0) return undefined;
  const seq = digitsAt(data, s);
  const t = indexOfBytes(data, TS_KEY, s);
  const ts = t < 0 ? NaN : digitsAt(data, t);
  return Number.isNaN(seq) || Number.isNaN(ts) ? undefined : { seq, ts };
}
