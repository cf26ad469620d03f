/**
 * The internal format in which the primary hands sequenced ticks to the workers (workers > 1):
 * one flush interval's `[topic, seq, tick]` triples, encoded once into a SharedArrayBuffer
 * whose handle is posted to every worker. Why: bench/src/handoff.ts (numbers in
 * docs/workers.md). The primary is the one serial stage; structured clone serializes the same
 * objects once per worker (about 1.5 µs per tick with 2 workers), posting one encoded buffer
 * still copies it per worker (about 0.7–1.1 µs), a shared buffer is encoded once and never
 * copied (about 0.4–0.8 µs). Each batch gets its own buffer, freed by GC once every worker has
 * decoded it: no ring, so no flow control or overwrite to get wrong.
 */
import { Packr } from 'msgpackr';
import type { Payload } from '../../../protocol/src/ticks.js';

/** A tick with the sequence number the primary gave it, and its upstream position when it has one. */
export type SequencedTick =
  [topic: string, seq: number, tick: Payload] | [topic: string, seq: number, tick: Payload, src: string, off: number];

// Internal only (never on the wire), so msgpackr's records extension is allowed: a record's keys
// are written once per batch rather than once per tick. `structures` stays off, so every batch
// is self-describing and a restarted worker decodes the next batch without history.
const packr = new Packr({ useRecords: true, moreTypes: false, structuredClone: false });

export function encodeBatch(batch: readonly SequencedTick[]): Uint8Array {
  return packr.pack(batch);
}

/** `encodeBatch` into a SharedArrayBuffer: posting it to any number of workers copies nothing. */
export function encodeShared(batch: readonly SequencedTick[]): Uint8Array {
  const bytes = packr.pack(batch);
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  return shared;
}

export function decodeBatch(bytes: Uint8Array): SequencedTick[] {
  return packr.unpack(bytes) as SequencedTick[];
}
