import { K, type MsgpackWriter } from './msgpack-writer.js';
import type { SourcePosition } from './ticks.js';

/**
 * The msgpack envelope of `upd` and `snap` frames around their `data`, shared by the msgpack and
 * compact codecs (which differ only in how `data` is written). Each head writes the map header and
 * the fields before `data`, ending with the `data` key; the caller then writes the value and calls
 * the tail.
 */
export function updHead(w: MsgpackWriter, topic: string, seq: number, off: number | undefined): void {
  w.mapHeader(off === undefined ? 4 : 5);
  w.raw(K.op);
  w.raw(K.upd);
  w.raw(K.topic);
  w.str(topic);
  w.raw(K.seq);
  w.uint(seq);
  w.raw(K.data);
}

export function updTail(w: MsgpackWriter, off: number | undefined): Uint8Array {
  if (off !== undefined) {
    w.raw(K.off);
    w.uint(off);
  }
  return w.finish();
}

export function snapHead(w: MsgpackWriter, topic: string, seq: number, epoch: string, resync?: boolean, pos?: SourcePosition): void {
  w.mapHeader(5 + (resync ? 1 : 0) + (pos ? 2 : 0));
  w.raw(K.op);
  w.raw(K.snap);
  w.raw(K.topic);
  w.str(topic);
  w.raw(K.seq);
  w.uint(seq);
  w.raw(K.epoch);
  w.str(epoch);
  w.raw(K.data);
}

export function snapTail(w: MsgpackWriter, resync?: boolean, pos?: SourcePosition): Uint8Array {
  if (resync) {
    w.raw(K.resync);
    w.bool(true);
  }
  if (pos) {
    w.raw(K.src);
    w.str(pos.src);
    w.raw(K.off);
    w.uint(pos.off);
  }
  return w.finish();
}
