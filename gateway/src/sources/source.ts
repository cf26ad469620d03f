import type { Payload } from '../../../protocol/src/ticks.js';
import type { RejectReason } from '../../../protocol/src/validate.js';

/** Where a source delivers ticks: in tickwire, the hub. */
export interface TickSink {
  /**
   * `topic` is a valid topic name and `tick` a complete tick of its kind (the source checked).
   * A source with upstream positions (Kafka) passes the tick's: `src` names one ordered upstream
   * stream, the same string on every instance (SourcePosition), and `off` its strictly
   * increasing offset in it.
   */
  publish(topic: string, tick: Payload, src?: string, off?: number): void;
  /**
   * The upstream of `topics` restarted (a Kafka topic deleted and recreated): ticks between the
   * last one published and the first of the new upstream may be lost, and some may come again.
   * Ticks published before the call belong to the old upstream, those after it to the new one.
   */
  upstreamReset?(topics: readonly string[]): void;
  /**
   * A record keyed `topic` was rejected (and counted) by the source: what follows it on that topic
   * is missing a predecessor. The book engine marks an order book stale on it (books/engine.ts).
   * `src` and `off`: the record's position, as for `publish`.
   */
  rejected?(topic: string, reason: RejectReason, src?: string, off?: number): void;
}

/**
 * A source of ticks (the embedded simulator, Kafka).
 *
 * Guarantees a source gives the gateway:
 * - it calls `sink.publish` only on the main thread, only between `start` and the end of `stop`;
 * - for one topic, ticks are published in the order the upstream produced them;
 * - every tick it publishes has been validated (topic grammar, fields, finite numbers): bad
 *   upstream data is counted and dropped inside the source, never passed on;
 * - `live` is true only while ticks can flow (drives `/readyz`).
 */
export interface Source {
  readonly name: string;
  /** Begins delivering; resolves once the source is running (it may not be live yet). */
  start(sink: TickSink): Promise<void>;
  /** Stops delivering; after it resolves `sink` is never called again. */
  stop(): Promise<void>;
  readonly live: boolean;
}
