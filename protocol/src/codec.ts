import { C1, Packr, Unpackr } from 'msgpackr';
import { createCompactCodec, type UnitsOf } from './compact.js';
import { DEFLATE_DICTIONARIES, DICTIONARY_IDS, dictionaryOf } from './deflate-dictionaries.js';
import { kindSpec, type TopicKind } from './kinds.js';
import type { ServerMessage } from './messages.js';
import { snapHead, snapTail, updHead, updTail } from './frame-envelope.js';
import { MsgpackWriter } from './msgpack-writer.js';
import { CODEC_SPECS, codecId, negotiateSubprotocol, type CodecName } from './subprotocols.js';
import type { Payload, SourcePosition } from './ticks.js';
import { parseSubscription } from './topics.js';
import type { WireCodec } from './wire-codec.js';

/**
 * Wire codecs of protocol v1. A codec turns server messages into the exact bytes of one
 * WebSocket frame and client frames back into values. Pure: no sockets, no clocks.
 *
 * The hub calls `encodeUpd`/`encodeSnap` once per topic per flush per codec in use, and every
 * subscriber of that codec is sent the same bytes. How each topic kind's payload is written is the
 * kind's registry entry (kinds.ts); ids and subprotocols come from CODEC_SPECS (subprotocols.ts).
 */
export type { WireCodec } from './wire-codec.js';

// Plain maps only: records and the other msgpackr extensions are not standard msgpack.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false, int64AsType: 'number' });

/** The fields every codec shares, from the codec's CODEC_SPECS entry. */
abstract class SpecifiedCodec {
  readonly id: number;
  readonly subprotocol: string;
  readonly binary: boolean;
  constructor(readonly name: CodecName) {
    this.id = codecId(name);
    const spec = CODEC_SPECS[this.id] as (typeof CODEC_SPECS)[number];
    this.subprotocol = spec.subprotocol;
    this.binary = spec.binary;
  }
}

class MsgpackCodec extends SpecifiedCodec implements WireCodec {
  // Made on first use: only encoders need its scratch buffer (a client that imports the protocol does not).
  private w: MsgpackWriter | undefined;

  constructor() {
    super('msgpack');
  }

  encode(msg: ServerMessage): Uint8Array {
    if (msg.op === 'upd') return this.encodeUpd(msg.topic, kindOf(msg.topic), msg.seq, msg.data, 0, msg.data.length, msg.off);
    if (msg.op === 'snap') return this.encodeSnap(msg.topic, kindOf(msg.topic), msg.seq, msg.epoch, msg.data, msg.resync, positionOf(msg));
    return packr.pack(msg);
  }

  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array {
    // Free-form payloads (user channels, announcements) go through msgpackr; fixed shapes (market
    // ticks) through their kind's writer, which keeps every number float64.
    const write = kindSpec(kind).write.msgpack;
    if (write === 'free-form') return packr.pack(updObject(topic, seq, ticks.slice(from, to), off));
    const w = (this.w ??= new MsgpackWriter());
    updHead(w, topic, seq, off);
    w.arrayHeader(to - from);
    for (let i = from; i < to; i++) write.write(w, ticks[i] as Payload);
    return updTail(w, off);
  }

  encodeSnap(
    topic: string,
    kind: TopicKind,
    seq: number,
    epoch: string,
    tick: Payload,
    resync?: boolean,
    pos?: SourcePosition,
  ): Uint8Array {
    const write = kindSpec(kind).write.msgpack;
    if (write === 'free-form') return packr.pack(snapObject(topic, seq, epoch, tick, resync, pos));
    const w = (this.w ??= new MsgpackWriter());
    snapHead(w, topic, seq, epoch, resync, pos);
    write.write(w, tick);
    return snapTail(w, resync, pos);
  }

  decode(data: Uint8Array): unknown {
    if (data.length === 0) throw new Error('empty frame');
    // unpackMultiple rejects nothing by itself; a frame must hold exactly one value.
    const values = unpackr.unpackMultiple(data) as unknown[];
    if (values.length !== 1) throw new Error(`expected one msgpack value, got ${values.length}`);
    // msgpackr reads the reserved byte 0xc1 as a marker object; standard msgpack has no such value.
    if (values[0] === C1) throw new Error('reserved msgpack byte 0xc1');
    return values[0];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Every kind's JSON form is `as-is` (kinds.ts): the payload object serialized as it is. */
class JsonCodec extends SpecifiedCodec implements WireCodec {
  constructor() {
    super('json');
  }

  encode(msg: ServerMessage): Uint8Array {
    return encoder.encode(JSON.stringify(msg));
  }

  encodeUpd(topic: string, _kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array {
    const data = from === 0 && to === ticks.length ? ticks : ticks.slice(from, to);
    return encoder.encode(JSON.stringify(updObject(topic, seq, data, off)));
  }

  encodeSnap(
    topic: string,
    _kind: TopicKind,
    seq: number,
    epoch: string,
    tick: Payload,
    resync?: boolean,
    pos?: SourcePosition,
  ): Uint8Array {
    return encoder.encode(JSON.stringify(snapObject(topic, seq, epoch, tick, resync, pos)));
  }

  decode(data: Uint8Array): unknown {
    return JSON.parse(utf8.decode(data));
  }
}

/**
 * `tickwire.v1.msgpack+deflate`: each msgpack frame compressed once with raw DEFLATE and the same
 * bytes sent to every subscriber, instead of per-socket permessage-deflate (which costs the CPU
 * again for every client). Framing: a flag byte, 0x01 + deflate-raw(msgpack), or 0x00 + msgpack
 * when compressing would not make the frame smaller. Each frame is compressed independently, so
 * a client can start decoding at any frame. Client frames are plain msgpack.
 *
 * The DEFLATE itself is injected (RawDeflate): the protocol stays free of Node, and the gateway
 * passes node:zlib (gateway/src/codecs.ts).
 */
class SharedDeflateCodec extends SpecifiedCodec implements WireCodec {
  readonly derive: { base: WireCodec; transform(frame: Uint8Array): Uint8Array };
  private readonly deflate: (frame: Uint8Array) => Uint8Array;

  constructor(
    private readonly base: WireCodec,
    raw: RawDeflate,
  ) {
    super('msgpack+deflate');
    this.deflate = (frame) => deflateFrame(frame, raw);
    this.derive = { base, transform: this.deflate };
  }

  encode(msg: ServerMessage): Uint8Array {
    return this.deflate(this.base.encode(msg));
  }
  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array {
    return this.deflate(this.base.encodeUpd(topic, kind, seq, ticks, from, to, off));
  }
  encodeSnap(
    topic: string,
    kind: TopicKind,
    seq: number,
    epoch: string,
    tick: Payload,
    resync?: boolean,
    pos?: SourcePosition,
  ): Uint8Array {
    return this.deflate(this.base.encodeSnap(topic, kind, seq, epoch, tick, resync, pos));
  }
  decode(data: Uint8Array): unknown {
    return this.base.decode(data);
  }
}

/**
 * Frames below this size are sent uncompressed (flag 0x00) without trying. Measured here
 * (2026-11-26, `node dist/bench/src/deflate-threshold.js`, simulator ticks, 7-character symbols):
 * a 1-tick upd is 83 B (trade) or 103 B (quote) and deflates to no gain at all in 95 % / 46 % of
 * frames, about 1 B on average, for ~18 µs of deflateRawSync each; 2 ticks (128 / 168 B) save
 * 16–22 % for ~21 µs; 4 ticks (~300 B) 28 % for ~27 µs; 16 ticks (~1.1 kB) 44 % for ~52 µs.
 * 128 B skips every 1-tick frame of a symbol up to 7 characters (the bulk of frames at low
 * rates: ~18 µs per topic per flush for nothing) and still compresses every frame of 2 or more
 * ticks, from the first size where deflate pays.
 */
const DEFLATE_MIN_BYTES = 128;

/** Raw DEFLATE (RFC 1951, no zlib or gzip header), synchronous: node:zlib's deflateRawSync/inflateRawSync in the gateway. */
export interface RawDeflate {
  /** With `dictionary`: a preset dictionary (RFC 1951 streams may start with one in the window; zlib's `dictionary` option). */
  deflate(data: Uint8Array, dictionary?: Uint8Array): Uint8Array;
  inflate(data: Uint8Array, dictionary?: Uint8Array): Uint8Array;
}

/** The shared-deflate framing of one msgpack frame: flag byte, then the frame compressed or as it is. */
export function deflateFrame(frame: Uint8Array, raw: RawDeflate): Uint8Array {
  if (frame.length >= DEFLATE_MIN_BYTES) {
    const z = raw.deflate(frame);
    if (z.length < frame.length) {
      const out = new Uint8Array(z.length + 1);
      out[0] = 0x01;
      out.set(z, 1);
      return out;
    }
  }
  const out = new Uint8Array(frame.length + 1);
  out[0] = 0x00;
  out.set(frame, 1);
  return out;
}

/** Inverse of deflateFrame (tests and tools; clients have their own). */
export function inflateFrame(frame: Uint8Array, raw: RawDeflate): Uint8Array {
  const body = frame.subarray(1);
  if (frame[0] === 0x00) return body;
  if (frame[0] === 0x01) return raw.inflate(body);
  throw new Error(`bad shared-deflate flag byte ${frame[0]}`);
}

/** The generic shapes of upd and snap, with optional fields present only when set (key order as on the wire). */
function updObject(topic: string, seq: number, data: readonly Payload[], off: number | undefined): Record<string, unknown> {
  return off === undefined ? { op: 'upd', topic, seq, data } : { op: 'upd', topic, seq, data, off };
}

function snapObject(
  topic: string,
  seq: number,
  epoch: string,
  data: Payload,
  resync: boolean | undefined,
  pos: SourcePosition | undefined,
): Record<string, unknown> {
  const o: Record<string, unknown> = { op: 'snap', topic, seq, epoch, data };
  if (resync) o.resync = true;
  if (pos) {
    o.src = pos.src;
    o.off = pos.off;
  }
  return o;
}

function positionOf(msg: { src?: string; off?: number }): SourcePosition | undefined {
  return msg.src !== undefined && msg.off !== undefined ? { src: msg.src, off: msg.off } : undefined;
}

/** The kind of a message's topic; a name outside the grammar is a caller's bug, never written as some kind. */
function kindOf(topic: string): TopicKind {
  const parsed = parseSubscription(topic);
  if (!parsed) throw new Error(`cannot encode a message for ${JSON.stringify(topic.slice(0, 104))}: not a topic of any kind`);
  return parsed.kind;
}

/**
 * `tickwire.v1.msgpack-compact+deflate.d1`: each compact frame compressed once for all subscribers
 * with raw DEFLATE and a preset dictionary of its kind (deflate-dictionaries.ts), so that a frame of
 * one tick shrinks too. Framing: a flag byte, 0x00 + the compact frame as it is (when deflating
 * would not make it smaller), or the dictionary's number (1–4) + raw DEFLATE of the compact frame.
 * Each frame stands alone (no context between frames); client frames are plain msgpack.
 */
class DictionaryDeflateCodec extends SpecifiedCodec implements WireCodec {
  readonly derive: { base: WireCodec; transform(frame: Uint8Array, kind?: TopicKind): Uint8Array };

  constructor(
    private readonly base: WireCodec,
    private readonly raw: RawDeflate,
  ) {
    super('msgpack-compact+deflate');
    this.derive = { base, transform: (frame, kind) => this.deflate(frame, kind) };
  }

  private deflate(frame: Uint8Array, kind: TopicKind | undefined): Uint8Array {
    return dictionaryDeflateFrame(frame, kind, this.raw);
  }
  encode(msg: ServerMessage): Uint8Array {
    const topic = (msg as { topic?: unknown }).topic;
    return this.deflate(this.base.encode(msg), typeof topic === 'string' ? parseSubscription(topic)?.kind : undefined);
  }
  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array {
    return this.deflate(this.base.encodeUpd(topic, kind, seq, ticks, from, to, off), kind);
  }
  encodeSnap(
    topic: string,
    kind: TopicKind,
    seq: number,
    epoch: string,
    tick: Payload,
    resync?: boolean,
    pos?: SourcePosition,
  ): Uint8Array {
    return this.deflate(this.base.encodeSnap(topic, kind, seq, epoch, tick, resync, pos), kind);
  }
  decode(data: Uint8Array): unknown {
    return this.base.decode(data);
  }
}

/**
 * Below this size a frame is stored without trying: an `hb` or `pong` is ~20 B, and 2–3 B saved are
 * not worth a deflate call. A one-tick compact upd (~60–70 B) is above it and, with the dictionary,
 * shrinks (docs/protocol.md).
 */
const DICTIONARY_DEFLATE_MIN_BYTES = 32;

/** The framing of `tickwire.v1.msgpack-compact+deflate.d1` for one compact frame of a topic of `kind` (undefined: a control message). */
export function dictionaryDeflateFrame(frame: Uint8Array, kind: TopicKind | undefined, raw: RawDeflate): Uint8Array {
  if (frame.length >= DICTIONARY_DEFLATE_MIN_BYTES) {
    const id = DICTIONARY_IDS[dictionaryOf(kind)];
    const z = raw.deflate(frame, DEFLATE_DICTIONARIES[id]);
    if (z.length < frame.length) return withFlag(id, z);
  }
  return withFlag(0x00, frame);
}

/** Inverse of dictionaryDeflateFrame (tests and tools; clients have their own). */
export function dictionaryInflateFrame(frame: Uint8Array, raw: RawDeflate): Uint8Array {
  const flag = frame[0] as number;
  const body = frame.subarray(1);
  if (flag === 0x00) return body;
  const dictionary = DEFLATE_DICTIONARIES[flag];
  if (!dictionary) throw new Error(`bad compact+deflate flag byte ${flag}`);
  return raw.inflate(body, dictionary);
}

function withFlag(flag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = flag;
  out.set(body, 1);
  return out;
}

export const msgpackCodec: WireCodec = new MsgpackCodec();
export const jsonCodec: WireCodec = new JsonCodec();

/** A shared-deflate codec over msgpack, compressing with `raw`. */
export function createSharedDeflateCodec(raw: RawDeflate): WireCodec {
  return new SharedDeflateCodec(msgpackCodec, raw);
}

/**
 * Every codec of CODEC_SPECS, indexed by `WireCodec.id`. The record type makes a codec added to
 * CODEC_SPECS without a constructor here fail to compile. `units` gives the compact codec each
 * symbol's tick and lot sizes (the gateway's symbol directory); without it every symbol has the
 * default units (compact.ts).
 */
export function createCodecs(raw: RawDeflate, units: UnitsOf = () => undefined): readonly WireCodec[] {
  // One compact codec per list: the compressed codec derives from it, so the hub reuses its frames.
  let compactCodec: WireCodec | undefined;
  const compact = (): WireCodec => (compactCodec ??= createCompactCodec(msgpackCodec, units));
  const make = {
    msgpack: () => msgpackCodec,
    json: () => jsonCodec,
    'msgpack+deflate': () => createSharedDeflateCodec(raw),
    'msgpack-compact': compact,
    'msgpack-compact+deflate': () => new DictionaryDeflateCodec(compact(), raw),
  } satisfies Record<CodecName, () => WireCodec>;
  return CODEC_SPECS.map((spec) => make[spec.name]());
}

/**
 * Picks the codec of `codecs` (a list from createCodecs) for a `Sec-WebSocket-Protocol` header:
 * the first offered subprotocol we know, msgpack when none is offered, and `undefined` when only
 * unknown ones are (refused with 400).
 */
export function negotiate(header: string, codecs: readonly WireCodec[]): WireCodec | undefined {
  const id = negotiateSubprotocol(header);
  return id === undefined ? undefined : codecs[id];
}
