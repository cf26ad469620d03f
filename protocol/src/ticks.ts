/**
 * Tick payloads as they appear on the wire (protocol v1). Every number is a float64 on the wire;
 * `ts` is epoch milliseconds. The topic kind says which shape a tick has.
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
 * One candle (`candle.<interval>.<SYMBOL>`, computed by the gateway; candle.ts). `t` is the
 * bucket's open time (epoch ms, by the trades' own `ts`); `v` the base volume (Σ qty), `q` the
 * quote volume (Σ px·qty), `n` the trade count; `x` is true only on the final update of a closed
 * candle.
 */
export type CandleTick = {
  /** Bucket open time, epoch ms. */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Base volume (Σ qty). */
  v: number;
  /** Quote volume (Σ px·qty). */
  q: number;
  /** Trade count. */
  n: number;
  /** True on the final update of a closed candle (always, in history). */
  x: boolean;
};

/**
 * Rolling 24-hour statistics of one symbol (`stats.<SYMBOL>`), from its 1-minute candles: the
 * window is the last 1440 closed minutes plus the open one. `open` is the first price of the
 * window, `chg` = last − open, `chgPct` = 100·chg/open; `ts` is the newest trade's ts.
 */
export type StatsTick = {
  /** Time of the last update (the newest trade's ts), epoch ms. */
  ts: number;
  /** Last trade price. */
  last: number;
  /** Price 24 h ago (the open of the window). */
  open: number;
  high: number;
  low: number;
  /** Base volume over the window. */
  v: number;
  /** Quote volume over the window. */
  q: number;
  /** `last - open`. */
  chg: number;
  /** `chg` in percent of `open`. */
  chgPct: number;
  /** Trade count over the window. */
  n: number;
};

/**
 * The payload of a private user channel (`user.<sub>.<stream>`: orders, fills) or of the
 * `sys.announce` broadcast: a map whose fields are the producer's, passed through as they are.
 */
export type EventPayload = Record<string, unknown>;

/** A market tick as ingested (these carry `ts`). */
export type Tick = TradeTick | QuoteTick;

/** What the gateway computes from the trades it carries (candle.ts). */
export type ComputedTick = CandleTick | StatsTick;

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
