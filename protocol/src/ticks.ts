/**
 * Tick payloads as they appear on the wire (protocol v1). Every number is a float64 on the wire;
 * `ts` is epoch milliseconds. These are the only two tick shapes; the topic kind says which.
 */
export interface TradeTick {
  /** Exchange/ingest time, epoch milliseconds. */
  ts: number;
  /** Trade price. */
  px: number;
  /** Trade size (base units). */
  qty: number;
  /** Aggressor side: "b" buyer-initiated, "s" seller-initiated. */
  side: 'b' | 's';
}

export interface QuoteTick {
  ts: number;
  bid: number;
  /** Size at the bid. */
  bsz: number;
  ask: number;
  /** Size at the ask. */
  asz: number;
}

/**
 * The payload of a private user channel (`user.<sub>.<stream>`: orders, fills) or of the
 * `sys.announce` broadcast: a map whose fields are the producer's, passed through as they are.
 */
export type EventPayload = Record<string, unknown>;

/** A market tick. */
export type Tick = TradeTick | QuoteTick;

/** Anything a topic carries: market ticks, or free-form payloads on user and system topics. */
export type Payload = Tick | EventPayload;

/**
 * Where a tick came from upstream: `src` names one ordered upstream stream (for Kafka, the
 * cluster, topic and partition) and `off` the tick's place in it (the record offset). Every
 * gateway instance reading that upstream sees the same tick at the same position, which is what
 * lets a client resume on another instance (docs/protocol.md#resume-on-another-instance).
 */
export interface SourcePosition {
  src: string;
  off: number;
}
