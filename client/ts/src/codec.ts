/**
 * Wire encoding of protocol v1 for the three subprotocols: encode client messages, decode (and
 * check) server frames. Pure: no sockets, no timers. Runs in browsers and Node alike.
 *
 * | format            | subprotocol                   | server → client frames                          |
 * |-------------------|-------------------------------|-------------------------------------------------|
 * | `msgpack`         | `tickwire.v1.msgpack`         | binary, msgpack                                 |
 * | `json`            | `tickwire.v1.json`            | text, JSON                                      |
 * | `msgpack+deflate` | `tickwire.v1.msgpack+deflate` | binary, flag byte 0x00 (msgpack) or 0x01 (raw DEFLATE of msgpack) |
 * | `msgpack-compact` | `tickwire.v1.msgpack-compact` | binary, msgpack; market ticks as integer columns (compact.ts) |
 * | `msgpack-compact+deflate` | `tickwire.v1.msgpack-compact+deflate.d1` | binary, flag byte 0x00 (compact) or 1–4 (raw |
 * |                   |                               | DEFLATE of compact with preset dictionary n, dictionaries.ts)     |
 *
 * Client → server frames are msgpack on every msgpack subprotocol (no flag byte) and JSON text
 * on `json`.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { expandCompact } from './compact.js';
import { DICTIONARIES, prefixDictionary } from './dictionaries.js';
import type { ClientMessage, DecodedMessage, Format, Tick } from './types.js';

/** The subprotocol that selects each format. */
export const SUBPROTOCOLS: Readonly<Record<Format, string>> = {
  msgpack: 'tickwire.v1.msgpack',
  json: 'tickwire.v1.json',
  'msgpack+deflate': 'tickwire.v1.msgpack+deflate',
  'msgpack-compact': 'tickwire.v1.msgpack-compact',
  'msgpack-compact+deflate': 'tickwire.v1.msgpack-compact+deflate.d1',
};

/**
 * The subprotocols offered for a format, most wanted first. `msgpack+deflate` and `msgpack-compact`
 * also offer plain msgpack: the server picks the first one it knows, so a gateway without that
 * subprotocol still accepts the connection (the status `open` event names the one chosen).
 */
export function offeredSubprotocols(format: Format): string[] {
  if (format === 'msgpack+deflate') return [SUBPROTOCOLS['msgpack+deflate'], SUBPROTOCOLS.msgpack];
  if (format === 'msgpack-compact') return [SUBPROTOCOLS['msgpack-compact'], SUBPROTOCOLS.msgpack];
  if (format === 'msgpack-compact+deflate')
    return [SUBPROTOCOLS['msgpack-compact+deflate'], SUBPROTOCOLS['msgpack-compact'], SUBPROTOCOLS.msgpack];
  return [SUBPROTOCOLS[format]];
}

/**
 * The format of a negotiated subprotocol (`WebSocket.protocol`). The SDK always offers one, so an
 * empty echo comes only from an intermediary that dropped the header; it is read as msgpack, the
 * first the SDK offers for its binary formats. Returns undefined for an unknown subprotocol.
 */
export function formatOfSubprotocol(subprotocol: string): Format | undefined {
  if (subprotocol === '') return 'msgpack';
  for (const f of Object.keys(SUBPROTOCOLS) as Format[]) if (SUBPROTOCOLS[f] === subprotocol) return f;
  return undefined;
}

const encoder = new Encoder();
const decoder = new Decoder();

/** Encodes one client message for `format`: a string (JSON, a text frame) or bytes (msgpack, a binary frame). */
export function encodeClientMessage(format: Format, msg: ClientMessage): string | Uint8Array {
  return format === 'json' ? JSON.stringify(msg) : encoder.encode(msg);
}

/** Raw DEFLATE (RFC 1951) decompressor: sync or async. */
export type InflateRaw = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * Raw DEFLATE via the standard `DecompressionStream('deflate-raw')` (browsers, Node ≥ 20).
 * Throws when the runtime has no such stream.
 */
export async function inflateRawStream(data: Uint8Array): Promise<Uint8Array> {
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (typeof DS !== 'function') throw new Error('DecompressionStream is not available; pass the inflateRaw option');
  const ds = new DS('deflate-raw');
  const writer = ds.writable.getWriter();
  // Write and close without awaiting: the readable side must be drained concurrently. Their
  // rejections surface through the reader below, so they are only silenced here.
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** A server frame that breaks the protocol (undecodable, wrong frame type, malformed message). */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Flag byte of `tickwire.v1.msgpack+deflate` frames. */
export const FLAG_PLAIN = 0x00;
export const FLAG_DEFLATE = 0x01;

/**
 * Decodes one server frame as delivered by a WebSocket (`string` for text frames; `ArrayBuffer`
 * or a typed array for binary ones). Synchronous except for compressed frames of the deflate formats,
 * which return a promise. Throws (or rejects with) {@link FrameError}.
 */
export function decodeServerFrame(
  format: Format,
  data: unknown,
  inflateRaw: InflateRaw = inflateRawStream,
): DecodedMessage | Promise<DecodedMessage> {
  if (format === 'json') {
    if (typeof data !== 'string') throw new FrameError('binary frame on a JSON connection');
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch (e) {
      throw new FrameError(`invalid JSON: ${(e as Error).message}`);
    }
    return parseServerMessage(value);
  }
  const bytes = toBytes(data);
  if (format === 'msgpack') return parseServerMessage(decodeMsgpack(bytes));
  if (format === 'msgpack-compact') return parseServerMessage(expandCompact(decodeMsgpack(bytes)));
  if (bytes.byteLength === 0) throw new FrameError('empty frame (no flag byte)');
  const flag = bytes[0] as number;
  const body = bytes.subarray(1);
  const badFlag = () => new FrameError(`unknown flag byte 0x${flag.toString(16).padStart(2, '0')}`);
  if (format === 'msgpack-compact+deflate') {
    const fromCompact = (b: Uint8Array) => parseServerMessage(expandCompact(decodeMsgpack(b)));
    if (flag === FLAG_PLAIN) return fromCompact(body);
    const dictionary = DICTIONARIES[flag];
    if (!dictionary) throw badFlag();
    return inflateThen(inflateRaw, prefixDictionary(dictionary, body), (b) => fromCompact(b.subarray(dictionary.length)));
  }
  if (flag === FLAG_PLAIN) return parseServerMessage(decodeMsgpack(body));
  if (flag !== FLAG_DEFLATE) throw badFlag();
  return inflateThen(inflateRaw, body, (b) => parseServerMessage(decodeMsgpack(b)));
}

/** Inflates `data` and decodes the result: synchronously when the inflater is, as a promise otherwise. */
function inflateThen(
  inflateRaw: InflateRaw,
  data: Uint8Array,
  decode: (inflated: Uint8Array) => DecodedMessage,
): DecodedMessage | Promise<DecodedMessage> {
  let inflated: Uint8Array | Promise<Uint8Array>;
  try {
    inflated = inflateRaw(data);
  } catch (e) {
    throw new FrameError(`invalid DEFLATE data: ${(e as Error).message}`);
  }
  if (!isPromise(inflated)) return decode(inflated);
  return inflated.then(decode, (e: unknown) => {
    throw new FrameError(`invalid DEFLATE data: ${(e as Error).message}`);
  });
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') throw new FrameError('text frame on a msgpack connection');
  throw new FrameError(`unsupported frame data (${Object.prototype.toString.call(data)}); set binaryType to "arraybuffer"`);
}

function decodeMsgpack(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new FrameError(`invalid msgpack: ${(e as Error).message}`);
  }
}

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isOffset = (v: unknown): v is number => isInt(v) && v >= 0;
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === 'string');

/**
 * Checks a decoded value against the v1 server messages. Fields the SDK relies on are checked;
 * unknown extra fields are kept; an unknown `op` yields `{op:'unknown'}` (ignored by the client,
 * for forward compatibility). Tick contents are not checked field by field.
 */
export function parseServerMessage(value: unknown): DecodedMessage {
  if (!isObj(value)) throw new FrameError('a server message must be a map');
  const v = value;
  const bad = (what: string): never => {
    throw new FrameError(`malformed ${String(v.op)}: ${what}`);
  };
  switch (v.op) {
    case 'upd':
      if (typeof v.topic !== 'string') bad('topic');
      if (!isInt(v.seq)) bad('seq');
      if (!Array.isArray(v.data) || v.data.length === 0 || !v.data.every(isObj)) bad('data');
      if (v.off !== undefined && !isOffset(v.off)) bad('off');
      return {
        op: 'upd',
        topic: v.topic as string,
        seq: v.seq as number,
        data: v.data as Tick[],
        ...(v.off !== undefined ? { off: v.off as number } : {}),
      };
    case 'snap':
      if (typeof v.topic !== 'string') bad('topic');
      if (!isInt(v.seq)) bad('seq');
      if (typeof v.epoch !== 'string') bad('epoch');
      if (!isObj(v.data)) bad('data');
      if (v.resync !== undefined && typeof v.resync !== 'boolean') bad('resync');
      if ((v.src !== undefined || v.off !== undefined) && (typeof v.src !== 'string' || !isOffset(v.off))) bad('src/off');
      return {
        op: 'snap',
        topic: v.topic as string,
        seq: v.seq as number,
        epoch: v.epoch as string,
        data: v.data as Tick,
        ...(v.resync === true ? { resync: true } : {}),
        ...(v.src !== undefined ? { src: v.src as string, off: v.off as number } : {}),
      };
    case 'hb':
      if (typeof v.ts !== 'number') bad('ts');
      return { op: 'hb', ts: v.ts as number };
    case 'shutdown':
      if (typeof v.ts !== 'number') bad('ts');
      return { op: 'shutdown', ts: v.ts as number, ...(typeof v.msg === 'string' ? { msg: v.msg } : {}) };
    case 'ack':
      if (!isInt(v.id)) bad('id');
      if (!isStrArray(v.topics)) bad('topics');
      return { op: 'ack', id: v.id as number, topics: v.topics as string[] };
    case 'pong':
      if (!isInt(v.id)) bad('id');
      return { op: 'pong', id: v.id as number };
    case 'err': {
      if (typeof v.code !== 'string') bad('code');
      if (v.id !== undefined && !isInt(v.id)) bad('id');
      if (v.topics !== undefined && !isStrArray(v.topics)) bad('topics');
      const msg = typeof v.msg === 'string' ? v.msg : '';
      return {
        op: 'err',
        code: v.code as string,
        msg,
        ...(v.id !== undefined ? { id: v.id as number } : {}),
        ...(v.topics !== undefined ? { topics: v.topics as string[] } : {}),
      };
    }
    default:
      if (typeof v.op !== 'string') throw new FrameError('a server message must have a string "op"');
      return { op: 'unknown', serverOp: v.op, raw: v };
  }
}
