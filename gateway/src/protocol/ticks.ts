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

export type Tick = TradeTick | QuoteTick;

export type TopicKind = 'trade' | 'quote';
