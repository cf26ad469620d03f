import { C1, Packr, Unpackr } from 'msgpackr';
import type { ServerMessage } from './messages.js';
import { MsgpackWriter } from './msgpack-writer.js';
import type { Tick, TopicKind } from './ticks.js';

/**
 * Wire codecs of protocol v1. A codec turns server messages into the exact bytes of one
 * WebSocket frame and client frames back into values. Pure: no sockets, no clocks.
 *
 * The hub calls `encodeUpd`/`encodeSnap` once per topic per flush per codec in use, and every
 * subscriber of that codec is sent the same bytes.
 */
export interface WireCodec {
  /** Index into the hub's codec list; stored on each subscriber. */
  readonly id: number;
  readonly name: 'msgpack' | 'json';
  /** The WebSocket subprotocol that selects this codec. */
  readonly subprotocol: string;
  /** Binary (msgpack) or text (JSON) WebSocket frames. */
  readonly binary: boolean;
  encode(msg: ServerMessage): Uint8Array;
  /** `{op:"upd", topic, seq, data: ticks[from..to)}` where seq belongs to ticks[from]. */
  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Tick[], from: number, to: number): Uint8Array;
  encodeSnap(topic: string, kind: TopicKind, seq: number, epoch: string, tick: Tick): Uint8Array;
  /** Decodes one client frame; throws on bytes that are not a single value of this encoding. */
  decode(data: Uint8Array): unknown;
}

// Plain maps only: records and the other msgpackr extensions are not standard msgpack.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false, int64AsType: 'number' });

class MsgpackCodec implements WireCodec {
  readonly id = 0;
  readonly name = 'msgpack' as const;
  readonly subprotocol = 'tickwire.v1.msgpack';
  readonly binary = true;
  private readonly w = new MsgpackWriter();

  encode(msg: ServerMessage): Uint8Array {
    if (msg.op === 'upd') return this.encodeUpd(msg.topic, kindOf(msg.topic), msg.seq, msg.data, 0, msg.data.length);
    if (msg.op === 'snap') return this.encodeSnap(msg.topic, kindOf(msg.topic), msg.seq, msg.epoch, msg.data);
    return packr.pack(msg);
  }

  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Tick[], from: number, to: number): Uint8Array {
    const w = this.w;
    w.mapHeader(4);
    w.str('op');
    w.str('upd');
    w.str('topic');
    w.str(topic);
    w.str('seq');
    w.uint(seq);
    w.str('data');
    w.arrayHeader(to - from);
    for (let i = from; i < to; i++) w.tick(kind, ticks[i] as Tick);
    return w.finish();
  }

  encodeSnap(topic: string, kind: TopicKind, seq: number, epoch: string, tick: Tick): Uint8Array {
    const w = this.w;
    w.mapHeader(5);
    w.str('op');
    w.str('snap');
    w.str('topic');
    w.str(topic);
    w.str('seq');
    w.uint(seq);
    w.str('epoch');
    w.str(epoch);
    w.str('data');
    w.tick(kind, tick);
    return w.finish();
  }

  decode(data: Uint8Array): unknown {
    if (data.length === 0) throw new Error('empty frame');
    // unpackMultiple rejects nothing by itself; a frame must hold exactly one value.
    const values = unpackr.unpackMultiple(data as Buffer) as unknown[];
    if (values.length !== 1) throw new Error(`expected one msgpack value, got ${values.length}`);
    // msgpackr reads the reserved byte 0xc1 as a marker object; standard msgpack has no such value.
    if (values[0] === C1) throw new Error('reserved msgpack byte 0xc1');
    return values[0];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

class JsonCodec implements WireCodec {
  readonly id = 1;
  readonly name = 'json' as const;
  readonly subprotocol = 'tickwire.v1.json';
  readonly binary = false;

  encode(msg: ServerMessage): Uint8Array {
    return encoder.encode(JSON.stringify(msg));
  }

  encodeUpd(topic: string, _kind: TopicKind, seq: number, ticks: readonly Tick[], from: number, to: number): Uint8Array {
    const data = from === 0 && to === ticks.length ? ticks : ticks.slice(from, to);
    return encoder.encode(JSON.stringify({ op: 'upd', topic, seq, data }));
  }

  encodeSnap(topic: string, _kind: TopicKind, seq: number, epoch: string, tick: Tick): Uint8Array {
    return encoder.encode(JSON.stringify({ op: 'snap', topic, seq, epoch, data: tick }));
  }

  decode(data: Uint8Array): unknown {
    return JSON.parse(utf8.decode(data));
  }
}

function kindOf(topic: string): TopicKind {
  return topic.startsWith('trade.') ? 'trade' : 'quote';
}

export const msgpackCodec: WireCodec = new MsgpackCodec();
export const jsonCodec: WireCodec = new JsonCodec();

/** Indexed by `WireCodec.id`. */
export const CODECS: readonly WireCodec[] = [msgpackCodec, jsonCodec];

/**
 * Picks the codec for a `Sec-WebSocket-Protocol` header: the first offered subprotocol we know,
 * msgpack when none is offered, and `undefined` when only unknown ones are (refused with 400).
 */
export function negotiate(header: string): WireCodec | undefined {
  const offered = header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (offered.length === 0) return msgpackCodec;
  for (const p of offered) {
    const c = CODECS.find((codec) => codec.subprotocol === p);
    if (c) return c;
  }
  return undefined;
}
