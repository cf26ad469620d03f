import type { QuoteTick, Tick, TradeTick } from '../../protocol/src/ticks.js';
import { Rng } from './rng.js';
import { DEFAULT_SYMBOLS, type SymbolSpec } from './symbols.js';

/** One simulated tick and its topic: `trade.<SYMBOL>` or `quote.<SYMBOL>`. */
export interface SimEvent {
  topic: string;
  tick: Tick;
}

/** Calendar year: the simulator runs 24/7, so vol is scaled to wall-clock time for every symbol. */
const YEAR_MS = 365.25 * 24 * 3600 * 1000;
/**
 * Minimum dt per event. Many events share one millisecond `ts` (the pacer emits in batches), so
 * each still gets a small price move; 0.1 ms keeps bursts from inflating volatility much.
 */
const MIN_DT_MS = 0.1;
const TRADE_SHARE = 0.3;
/** Lognormal sigmas: trade sizes are heavy-tailed; resting quote sizes a little less so. */
const TRADE_QTY_SIGMA = 1.0;
const QUOTE_QTY_SIGMA = 0.8;
/** Resting size at the touch relative to the mean trade size. */
const QUOTE_QTY_MULT = 3;

interface SymbolState {
  spec: SymbolSpec;
  tradeTopic: string;
  quoteTopic: string;
  /** Unrounded mid price, evolving by GBM. */
  mid: number;
  /** Last event ts for this symbol; NaN before the first. */
  lastTs: number;
  priceDecimals: number;
  lotDecimals: number;
  /** Integer spread jitter range (± ticks) around spreadTicks. */
  spreadJitter: number;
}

export class MarketSimulator {
  private readonly rng: Rng;
  private readonly states: SymbolState[];
  /** Cumulative weights for picking a symbol. */
  private readonly cumWeights: number[];

  constructor(opts: { seed: number; symbols?: readonly SymbolSpec[] }) {
    this.rng = new Rng(opts.seed);
    const specs = opts.symbols ?? DEFAULT_SYMBOLS;
    if (specs.length === 0) throw new Error('MarketSimulator needs at least one symbol');
    const names = new Set<string>();
    this.states = specs.map((spec) => {
      validateSpec(spec);
      if (names.has(spec.symbol)) throw new Error(`duplicate symbol ${spec.symbol}`);
      names.add(spec.symbol);
      return {
        spec: { ...spec },
        tradeTopic: `trade.${spec.symbol}`,
        quoteTopic: `quote.${spec.symbol}`,
        mid: spec.price,
        lastTs: NaN,
        priceDecimals: decimalsOf(spec.tick),
        lotDecimals: decimalsOf(spec.lot),
        spreadJitter: Math.max(1, Math.round(spec.spreadTicks / 3)),
      };
    });
    let acc = 0;
    this.cumWeights = this.states.map((s) => (acc += s.spec.weight));
  }

  /** Produces one event stamped `ts` (epoch ms). The simulator reads no clock. */
  next(ts: number): SimEvent {
    if (!Number.isFinite(ts)) throw new Error(`ts must be finite, got ${ts}`);
    const st = this.pick();
    this.advance(st, ts);
    const { spec } = st;

    // Book around the mid: an integer number of ticks wide, so ask > bid always.
    const spread = Math.max(1, Math.round(spec.spreadTicks) + this.rng.int(2 * st.spreadJitter + 1) - st.spreadJitter);
    const bidTicks = Math.max(1, Math.round(st.mid / spec.tick - spread / 2));
    const bid = toTick(bidTicks, spec.tick, st.priceDecimals);
    const ask = toTick(bidTicks + spread, spec.tick, st.priceDecimals);

    if (this.rng.next() < TRADE_SHARE) {
      const side = this.rng.next() < 0.5 ? 'b' : 's';
      const tick: TradeTick = {
        ts,
        px: side === 'b' ? ask : bid, // aggressor lifts the offer / hits the bid
        qty: this.size(st, spec.meanQty, TRADE_QTY_SIGMA),
        side,
      };
      return { topic: st.tradeTopic, tick };
    }
    const meanDepth = spec.meanQty * QUOTE_QTY_MULT;
    const tick: QuoteTick = {
      ts,
      bid,
      bsz: this.size(st, meanDepth, QUOTE_QTY_SIGMA),
      ask,
      asz: this.size(st, meanDepth, QUOTE_QTY_SIGMA),
    };
    return { topic: st.quoteTopic, tick };
  }

  private pick(): SymbolState {
    const total = this.cumWeights[this.cumWeights.length - 1]!;
    const r = this.rng.next() * total;
    for (let i = 0; i < this.cumWeights.length; i++) {
      if (r < this.cumWeights[i]!) return this.states[i]!;
    }
    return this.states[this.states.length - 1]!;
  }

  /** GBM step over the time since this symbol's previous event (martingale: drift -σ²/2). */
  private advance(st: SymbolState, ts: number): void {
    const elapsed = Number.isNaN(st.lastTs) ? 0 : ts - st.lastTs;
    const dtYears = Math.max(MIN_DT_MS, elapsed) / YEAR_MS;
    const sigma = st.spec.vol;
    st.mid *= Math.exp(-0.5 * sigma * sigma * dtYears + sigma * Math.sqrt(dtYears) * this.rng.normal());
    // Keep lastTs monotonic so a clock step backwards doesn't get its interval counted twice.
    if (!(ts <= st.lastTs)) st.lastTs = ts;
  }

  /** Lognormal size with the given mean, rounded to whole lots, at least one lot. */
  private size(st: SymbolState, mean: number, sigma: number): number {
    const q = mean * Math.exp(sigma * this.rng.normal() - 0.5 * sigma * sigma);
    const lots = Math.max(1, Math.round(q / st.spec.lot));
    return Number((lots * st.spec.lot).toFixed(st.lotDecimals));
  }
}

function toTick(ticks: number, tick: number, decimals: number): number {
  // toFixed strips float garbage such as 0.1 * 3 = 0.30000000000000004.
  return Number((ticks * tick).toFixed(decimals));
}

/** Number of decimals needed to write `x` exactly (0.01 → 2, 0.25 → 2, 1000 → 0). */
function decimalsOf(x: number): number {
  for (let d = 0; d <= 15; d++) {
    if (Math.abs(Number(x.toFixed(d)) - x) <= x * 1e-12) return d;
  }
  return 15;
}

function validateSpec(s: SymbolSpec): void {
  const positive: (keyof SymbolSpec)[] = ['price', 'tick', 'lot', 'meanQty', 'weight'];
  for (const k of positive) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`symbol ${s.symbol}: ${k} must be a finite number > 0, got ${String(v)}`);
    }
  }
  if (!Number.isFinite(s.vol) || s.vol < 0) throw new Error(`symbol ${s.symbol}: vol must be finite and >= 0`);
  if (!Number.isFinite(s.spreadTicks) || s.spreadTicks < 0) {
    throw new Error(`symbol ${s.symbol}: spreadTicks must be finite and >= 0`);
  }
  if (s.price / s.tick > 2 ** 40) throw new Error(`symbol ${s.symbol}: price/tick too large to round exactly`);
}
