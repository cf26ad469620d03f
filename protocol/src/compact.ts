import { DEFAULT_BOOK_UNITS, type BookUnits } from './book.js';
import type { WireCodec } from './wire-codec.js';
import { compactForm, scalesOf, type Column, type Columns, type Scales } from './compact-columns.js';
import type { TopicKind } from './kinds.js';
import type { ServerMessage } from './messages.js';
import { snapHead, snapTail, updHead, updTail } from './frame-envelope.js';
import { MsgpackWriter } from './msgpack-writer.js';
import { CODEC_SPECS, codecId } from './subprotocols.js';
import type { Payload, SourcePosition } from './ticks.js';
import { parseSubscription } from './topics.js';

/**
 * A symbol's tick and lot sizes, from the gateway's symbol directory; undefined when it does not
 * know the symbol (DEFAULT_BOOK_UNITS then, as for order books).
 */
export type UnitsOf = (symbol: string) => BookUnits | undefined;

/**
 * `tickwire.v1.msgpack-compact`: standard msgpack (no extension types) in which the `data` of a
 * market upd or snap is `[pxScale, qtyScale, ...columns]` (compact-columns.ts) instead of a list
 * of tick maps. Every frame carries its scales, so a client decodes each frame
 * on its own: a resumed stream without a snap, or a symbol whose units changed, decode alike.
 *
 * Whatever has no column form is written exactly as the msgpack codec writes it: control
 * messages, free-form kinds, book snapshots, and every frame with a value off its grid (the whole
 * frame, so no value is ever rounded). A client tells the two apart by `data`: an array whose
 * first element is an integer is columns, anything else is the msgpack form. Client frames are plain msgpack.
 */
class CompactCodec implements WireCodec {
  readonly name = 'msgpack-compact' as const;
  readonly id = codecId('msgpack-compact');
  readonly subprotocol = (CODEC_SPECS[codecId('msgpack-compact')] as (typeof CODEC_SPECS)[number]).subprotocol;
  readonly binary = true;
  private w: MsgpackWriter | undefined;

  constructor(
    /** The map form: the msgpack codec. */
    private readonly map: WireCodec,
    private readonly units: UnitsOf,
  ) {}

  encode(msg: ServerMessage): Uint8Array {
    if (msg.op === 'upd') return this.encodeUpd(msg.topic, kindOf(msg.topic), msg.seq, msg.data, 0, msg.data.length, msg.off);
    if (msg.op === 'snap') {
      const pos = msg.src !== undefined && msg.off !== undefined ? { src: msg.src, off: msg.off } : undefined;
      return this.encodeSnap(msg.topic, kindOf(msg.topic), msg.seq, msg.epoch, msg.data, msg.resync, pos);
    }
    return this.map.encode(msg);
  }

  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array {
    const c = this.columns(topic, kind, ticks, from, to);
    if (!c) return this.map.encodeUpd(topic, kind, seq, ticks, from, to, off);
    const w = (this.w ??= new MsgpackWriter());
    updHead(w, topic, seq, off);
    writeColumns(w, c.s, c.cols);
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
    const c = this.columns(topic, kind, [tick], 0, 1);
    if (!c) return this.map.encodeSnap(topic, kind, seq, epoch, tick, resync, pos);
    const w = (this.w ??= new MsgpackWriter());
    snapHead(w, topic, seq, epoch, resync, pos);
    writeColumns(w, c.s, c.cols);
    return snapTail(w, resync, pos);
  }

  decode(data: Uint8Array): unknown {
    return this.map.decode(data);
  }

  /**
   * The ticks as columns with the topic's scales, or undefined for the map form: a kind without
   * columns, a value off its grid, or a name outside the grammar (written as msgpack would).
   */
  private columns(
    topic: string,
    kind: TopicKind,
    ticks: readonly Payload[],
    from: number,
    to: number,
  ): { s: Scales; cols: Columns } | undefined {
    const form = compactForm(kind);
    if (form === 'map') return undefined;
    const symbol = parseSubscription(topic)?.symbol;
    if (symbol === undefined) return undefined;
    const s = scalesOf(this.units(symbol) ?? DEFAULT_BOOK_UNITS);
    const cols = form.columns(ticks, from, to, s);
    return cols && { s, cols };
  }
}

/**
 * `[pxScale, qtyScale, column, column, …]`: an array whose first element is an integer, where the
 * msgpack form's data is a list of maps (upd) or a map (snap). Positional, in the order of the kind's
 * columns (compact-columns.ts): a one-tick frame, the common case at low rates, would otherwise
 * spend a third of its bytes on column names.
 */
function writeColumns(w: MsgpackWriter, s: Scales, cols: Columns): void {
  w.arrayHeader(cols.length + 2);
  w.uint(s.px);
  w.uint(s.qty);
  for (const [, col] of cols) writeColumn(w, col);
}

function writeColumn(w: MsgpackWriter, col: Column): void {
  if (typeof col === 'string') return w.str(col);
  w.arrayHeader(col.length);
  for (const v of col) {
    if (typeof v === 'number') w.int(v);
    else {
      w.arrayHeader(v.length);
      for (const x of v) w.int(x);
    }
  }
}

function kindOf(topic: string): TopicKind {
  const parsed = parseSubscription(topic);
  if (!parsed) throw new Error(`cannot encode a message for ${JSON.stringify(topic.slice(0, 104))}: not a topic of any kind`);
  return parsed.kind;
}

/** The compact codec over `map` (the msgpack codec), with the symbols' units from `units`. */
export function createCompactCodec(map: WireCodec, units: UnitsOf): WireCodec {
  return new CompactCodec(map, units);
}
