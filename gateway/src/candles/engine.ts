import { CANDLE_INTERVAL_NAMES, CANDLE_INTERVALS, type CandleInterval } from '../../../protocol/src/candle.js';
import type { CandleTick, Payload, StatsTick, TradeTick } from '../../../protocol/src/ticks.js';
import { StatsWindow } from './stats.js';

/**
 * Candles and 24-hour statistics computed from the trades the gateway carries (issue 16).
 *
 * Per symbol and interval the engine keeps the open candle. A bucket is `[t, t + interval)` of the
 * trades' own `ts`, aligned to the epoch (UTC). It closes when a trade of a later bucket arrives,
 * or when the clock passes its end plus `graceMs`. A trade for a bucket that is already closed
 * (its candle was final, or a later one is open) is late: counted per interval, never folded into
 * another bucket. Buckets without trades are not invented: the next candle opens at its own first
 * trade's price, not at the previous close, and `t` jumps over the empty buckets.
 *
 * Cost per trade: one Map lookup (the trade topic gives the symbol's six open candles), then per
 * interval two comparisons and a few stores; no allocation. Objects are made per flush per
 * changed candle (the hub keeps them as last values) and per closed candle.
 *
 * Pure: time comes in with `drain(now)`; publishing goes to the function given there.
 */

/** Index of each interval in a symbol's candle array, in CANDLE_INTERVAL_NAMES order. */
const INTERVALS: readonly CandleInterval[] = CANDLE_INTERVAL_NAMES;
const MS: readonly number[] = INTERVALS.map((i) => CANDLE_INTERVALS[i]);
const ONE_MINUTE = INTERVALS.indexOf('1m');

/** A closed candle with what the persistence layer needs to know about it. */
export interface ClosedCandle {
  topic: string;
  interval: CandleInterval;
  symbol: string;
  candle: CandleTick;
  /**
   * Whether this gateway saw every trade of the bucket as far as it can tell: false for the
   * bucket open when it started consuming the symbol (earlier trades may have gone by) and for one
   * open across an upstream reset. Only complete candles are stored and persisted.
   */
  complete: boolean;
}

export interface CandleEngineOptions {
  /** How long after a bucket's end (by the clock given to `drain`) it is closed without a later trade. */
  graceMs: number;
  /**
   * Whether the first bucket of each symbol is complete: true when the source starts with the
   * gateway (the embedded feed: nothing came before), false when it may join a stream midway (Kafka).
   */
  firstBucketComplete: boolean;
  /** Called once per closed candle (history, persistence), in close order. */
  onClosed?: (c: ClosedCandle) => void;
  /** Minimum time between two `stats.<SYMBOL>` updates. */
  statsIntervalMs?: number;
  /** Where late trades are counted, per interval in CANDLE_INTERVAL_NAMES order (Metrics.candles.late). */
  late?: number[];
}

/** One open (or last closed) candle: plain numbers on a monomorphic class, updated in place. */
class OpenCandle {
  /** Bucket open; -1 before the first trade. */
  t = -1;
  end = -1;
  o = 0;
  h = 0;
  l = 0;
  c = 0;
  v = 0;
  q = 0;
  n = 0;
  /** Changed since the last publish. */
  dirty = false;
  /** Final update sent: trades of this bucket are late now. */
  closed = true;
  complete = false;

  constructor(
    readonly topic: string,
    readonly ms: number,
  ) {}

  snapshot(x: boolean): CandleTick {
    return { t: this.t, o: this.o, h: this.h, l: this.l, c: this.c, v: this.v, q: this.q, n: this.n, x };
  }
}

/** A symbol's six open candles, its stats window, and whether it is on the dirty list. */
class SymbolState {
  readonly candles: OpenCandle[];
  readonly stats: StatsWindow;
  readonly statsTopic: string;
  queued = false;
  /** The newest trade ts seen (stats `ts`). */
  lastTs = 0;

  constructor(readonly symbol: string) {
    this.candles = INTERVALS.map((i, k) => new OpenCandle(`candle.${i}.${symbol}`, MS[k] as number));
    this.stats = new StatsWindow();
    this.statsTopic = `stats.${symbol}`;
  }
}

export type Publish = (topic: string, tick: Payload) => void;

export class CandleEngine {
  /** By trade topic (`trade.<SYMBOL>`), so a trade needs no parsing. */
  private readonly symbols = new Map<string, SymbolState>();
  /** Symbols with a changed candle since the last drain. */
  private dirty: SymbolState[] = [];
  /** Final updates waiting for the next drain, in close order. */
  private finals: { topic: string; candle: CandleTick }[] = [];
  /** Earliest clock time at which an open candle may be closed by the clock. */
  private nextDeadline = Infinity;
  private nextStatsAt = 0;
  private readonly statsIntervalMs: number;
  /** Late trades by interval (CANDLE_INTERVAL_NAMES order): the metrics' array when given. */
  readonly late: number[];

  constructor(private readonly opts: CandleEngineOptions) {
    this.statsIntervalMs = opts.statsIntervalMs ?? 1000;
    this.late = opts.late ?? INTERVALS.map(() => 0);
  }

  /** Symbols that have had a trade. */
  get symbolCount(): number {
    return this.symbols.size;
  }

  /** Folds one trade of `tradeTopic` (`trade.<SYMBOL>`) into the symbol's six candles. */
  trade(tradeTopic: string, tick: TradeTick): void {
    let s = this.symbols.get(tradeTopic);
    if (s === undefined) {
      s = new SymbolState(tradeTopic.slice(6));
      this.symbols.set(tradeTopic, s);
    }
    const { ts, px, qty } = tick;
    if (ts > s.lastTs) s.lastTs = ts;
    const cs = s.candles;
    for (let k = 0; k < cs.length; k++) {
      const c = cs[k] as OpenCandle;
      if (ts >= c.t && ts < c.end) {
        if (c.closed) {
          (this.late[k] as number)++;
          continue;
        }
        if (px > c.h) c.h = px;
        else if (px < c.l) c.l = px;
        c.c = px;
        c.v += qty;
        c.q += px * qty;
        c.n++;
        c.dirty = true;
      } else if (ts >= c.end) this.open(s, c, k, ts, px, qty);
      else (this.late[k] as number)++;
    }
    if (!s.queued) {
      s.queued = true;
      this.dirty.push(s);
    }
  }

  /** The first trade of a later bucket: closes the current candle (if still open) and starts the next. */
  private open(s: SymbolState, c: OpenCandle, k: number, ts: number, px: number, qty: number): void {
    const first = c.t === -1;
    if (!c.closed) this.close(s, c, k);
    c.t = ts - (ts % c.ms);
    c.end = c.t + c.ms;
    c.o = c.h = c.l = c.c = px;
    c.v = qty;
    c.q = px * qty;
    c.n = 1;
    c.dirty = true;
    c.closed = false;
    c.complete = !first || this.opts.firstBucketComplete;
    const deadline = c.end + this.opts.graceMs;
    if (deadline < this.nextDeadline) this.nextDeadline = deadline;
  }

  private close(s: SymbolState, c: OpenCandle, k: number): void {
    c.closed = true;
    c.dirty = false;
    const candle = c.snapshot(true);
    this.finals.push({ topic: c.topic, candle });
    if (k === ONE_MINUTE) s.stats.push(candle);
    this.opts.onClosed?.({ topic: c.topic, interval: INTERVALS[k] as CandleInterval, symbol: s.symbol, candle, complete: c.complete });
  }

  /**
   * The upstream of these topics restarted (TickSink.upstreamReset): trades may have been lost,
   * so the open candles of their symbols are no longer complete.
   */
  upstreamReset(topics: readonly string[]): void {
    for (const t of topics) for (const c of this.symbols.get(t)?.candles ?? []) c.complete = false;
  }

  /** Whether `drain(now)` has something to do besides changed candles: a bucket past its grace, or stats due. */
  due(now: number): boolean {
    return now >= this.nextDeadline || (now >= this.nextStatsAt && this.symbols.size > 0);
  }

  /**
   * Runs just before the hub's flush: closes the buckets whose end + grace the clock passed,
   * publishes the final updates, then each changed open candle once, then the stats that changed
   * (at most once per statsIntervalMs).
   */
  drain(now: number, publish: Publish): void {
    if (now >= this.nextDeadline) this.closeExpired(now);
    const finals = this.finals;
    if (finals.length > 0) {
      this.finals = [];
      for (const f of finals) publish(f.topic, f.candle);
    }
    const dirty = this.dirty;
    if (dirty.length > 0) {
      this.dirty = [];
      for (const s of dirty) {
        s.queued = false;
        for (const c of s.candles) {
          if (!c.dirty) continue;
          c.dirty = false;
          publish(c.topic, c.snapshot(false));
        }
      }
    }
    if (now >= this.nextStatsAt) {
      this.nextStatsAt = now + this.statsIntervalMs;
      for (const s of this.symbols.values()) this.publishStats(s, publish);
    }
  }

  private closeExpired(now: number): void {
    let next = Infinity;
    for (const s of this.symbols.values()) {
      for (let k = 0; k < s.candles.length; k++) {
        const c = s.candles[k] as OpenCandle;
        if (c.closed) continue;
        const deadline = c.end + this.opts.graceMs;
        if (now >= deadline) this.close(s, c, k);
        else if (deadline < next) next = deadline;
      }
    }
    this.nextDeadline = next;
  }

  private publishStats(s: SymbolState, publish: Publish): void {
    const m = s.candles[ONE_MINUTE] as OpenCandle;
    const stats: StatsTick | undefined = s.stats.compute(m.closed ? undefined : m, s.lastTs);
    if (stats !== undefined) publish(s.statsTopic, stats);
  }

  /** The open (not yet final) candle of a topic, for tests and diagnostics. */
  openCandle(tradeTopic: string, interval: CandleInterval): CandleTick | undefined {
    const c = this.symbols.get(tradeTopic)?.candles[INTERVALS.indexOf(interval)];
    return c && !c.closed ? c.snapshot(false) : undefined;
  }
}
