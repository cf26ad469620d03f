import type { WireCodec } from '../../../protocol/src/codec.js';
import { foldFlushed, loseFold } from './folding.js';
import type { Frames } from './frames.js';
import type { TopicState } from './topic.js';
import type { HubSubscriber } from './types.js';

/**
 * Where a topic's continuity breaks (a replica's gap, an upstream reset, frames that cannot be
 * encoded): what it leaves of the topic's state, so that every subscriber gets a snap flagged
 * `resync` instead of a silent jump. The hub decides when; these only rewrite the topic.
 */

/**
 * Everyone waits for a resync snap: live subscribers stop being live (no publish reaches them
 * until the snap went out, see TopicDelivery); parked ones are settled by position.
 */
export function resyncAll<S extends HubSubscriber>(t: TopicState<S>): void {
  const ms = t.members;
  if (ms.size > 0) for (const m of ms.bySub.values()) if (m.state !== 'parked') ms.transition(m, 'resync');
}

/**
 * Moves a topic past a gap to `seq`: what was pending becomes the last value unsent (it could
 * not be followed consecutively), every subscriber waits for a resync snap, and history
 * before the gap is no longer used for resume.
 */
export function skipTo<S extends HubSubscriber>(t: TopicState<S>, seq: number): void {
  if (t.pending.length) {
    foldFlushed(t, t.pending);
    t.last = t.pending[t.pending.length - 1];
  }
  if (typeof t.src === 'string' && t.pendingOff.length) t.lastOff = t.pendingOff[t.pendingOff.length - 1] as number;
  t.pending = [];
  t.pendingOff = [];
  t.snap = [];
  t.seq = seq;
  t.hist?.restart(seq + 1);
  resyncAll(t);
}

/**
 * A topic whose frames could not be encoded (a payload no codec can write got past ingest, or a
 * bug): instead of the exception ending the process, its unflushed ticks are dropped (with the
 * last value too when that cannot be encoded either), resume cannot reach back across them, and
 * every subscriber waits for a snap flagged `resync`, of the last value or of the next tick.
 */
export function dropUnflushable<S extends HubSubscriber>(t: TopicState<S>, frames: Frames, codecs: readonly WireCodec[]): void {
  // A fold topic's state misses the dropped ticks: it says so until they no longer matter.
  if (t.pending.length > 0) loseFold(t);
  t.pending = [];
  t.pendingOff = [];
  t.snap = [];
  t.hist?.restart(t.seq + 1);
  if (t.last !== undefined) {
    try {
      for (const c of codecs) frames.snap(t, c.id, true);
    } catch {
      t.last = undefined;
      t.snap = [];
    }
  }
  resyncAll(t);
}
