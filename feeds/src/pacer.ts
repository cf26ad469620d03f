import { Rng } from './rng.js';
import type { FeedEvent, MarketSimulator } from './simulator.js';

/** All timing the pacer uses, injectable so tests can drive it with a fake clock. */
export interface PacerClock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realClock: PacerClock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/** Late timers catch up at most this much elapsed time, so a stall doesn't become one giant batch. */
const MAX_CATCH_UP_MS = 1000;
/** Mean length of a burst; bursts run at 3–5× the mean rate. */
const BURST_MEAN_MS = 250;
const BURST_MULT_MIN = 3;
const BURST_MULT_MAX = 5;
/** Fraction of time spent bursting at burstiness 1 (mean multiplier 4 → 40 % of events in bursts). */
const MAX_BURST_TIME_SHARE = 0.1;
/**
 * Random regime lengths alone would let the realised mean wander by several % over minutes, so
 * the normal-regime level is also nudged to pay back accumulated excess over about this long.
 */
const CORRECTION_S = 5;

export interface PacerOptions {
  /** Mean ticks per second in total; 0 = paused. */
  rate: number;
  /** Timer period, default 10 ms. */
  intervalMs?: number;
  /** 0 = steady; 1 = most bursty. Default 0.5. */
  burstiness?: number;
  seed: number;
  clock?: PacerClock;
  simulator: MarketSimulator;
  /** Each batch: `n` ticks, each preceded by the book records it caused (when the simulator writes books). */
  emit: (events: FeedEvent[]) => void;
}

/**
 * Drives a simulator at a target total rate. Each timer tick turns elapsed clock time into a number
 * of due events (fractions carried over), modulated by a two-state regime: normal, or a short
 * burst at 3–5× rate. The normal-regime multiplier sits below 1 (plus a slow correction for the
 * randomness of the regimes) so the long-run mean is `rate`.
 */
export class Pacer {
  private readonly clock: PacerClock;
  private readonly intervalMs: number;
  private readonly sim: MarketSimulator;
  private readonly emitFn: (events: FeedEvent[]) => void;
  private readonly rng: Rng;
  private readonly burstShare: number;
  private readonly normalMult: number;
  private rate: number;
  private handle: unknown = null;
  private last = 0;
  /** The next batch's slot on the grid. */
  private nextSlot = 0;
  private carry = 0;
  private inBurst = false;
  private burstMult = 1;
  /** ∫(multiplier − 1) dt in seconds: events produced beyond `rate`, in seconds-at-rate. */
  private excessS = 0;
  private regimeLeftMs = Infinity;
  private count = 0;

  constructor(opts: PacerOptions) {
    this.rate = checkRate(opts.rate);
    this.intervalMs = opts.intervalMs ?? 10;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs <= 0) {
      throw new Error(`intervalMs must be finite and > 0, got ${this.intervalMs}`);
    }
    const burstiness = opts.burstiness ?? 0.5;
    if (!(burstiness >= 0 && burstiness <= 1)) throw new Error(`burstiness must be in [0, 1], got ${burstiness}`);
    this.clock = opts.clock ?? realClock;
    this.sim = opts.simulator;
    this.emitFn = opts.emit;
    this.rng = new Rng(opts.seed);
    this.burstShare = MAX_BURST_TIME_SHARE * burstiness;
    const meanBurstMult = (BURST_MULT_MIN + BURST_MULT_MAX) / 2;
    // Solve share·burst + (1 − share)·normal = 1 for the normal multiplier.
    this.normalMult = (1 - this.burstShare * meanBurstMult) / (1 - this.burstShare);
    // Start in the stationary distribution so short runs aren't biased towards either regime.
    this.enterRegime(this.burstShare > 0 && this.rng.next() < this.burstShare);
  }

  /** Total events emitted so far. */
  get emitted(): number {
    return this.count;
  }

  /** Changes the mean rate (0 pauses). Fractional carry is dropped so a resume starts clean. */
  setRate(rate: number): void {
    this.rate = checkRate(rate);
    if (this.rate === 0) this.carry = 0;
  }

  start(): void {
    if (this.handle !== null) return;
    this.last = this.clock.now();
    this.nextSlot = this.last + this.intervalMs;
    // Checked twice per interval: a timer up to half an interval late still hits its slot.
    this.handle = this.clock.setInterval(() => this.onTimer(), Math.max(1, this.intervalMs / 2));
  }

  stop(): void {
    if (this.handle === null) return;
    this.clock.clearInterval(this.handle);
    this.handle = null;
  }

  private onTimer(): void {
    if (this.handle === null) return; // stopped, but a fire was already queued
    const now = this.clock.now();
    // Batches on a fixed grid of slots (start + k × interval), not every interval after the last
    // fire: a repeating timer drifts by its lateness, so a busier process would fire less often and
    // batch more ticks per frame than a quieter one fed at the same rate (benchmarks compare both).
    if (now < this.nextSlot) return;
    this.nextSlot += this.intervalMs * (Math.floor((now - this.nextSlot) / this.intervalMs) + 1);
    let elapsed = Math.min(Math.max(0, now - this.last), MAX_CATCH_UP_MS);
    this.last = now;
    if (this.rate === 0) return;

    // Integrate rate × regime multiplier over the elapsed time, switching regimes as they expire.
    let due = this.carry;
    while (elapsed > 0) {
      const seg = Math.min(elapsed, this.regimeLeftMs);
      const mult = this.inBurst ? this.burstMult : Math.min(2, Math.max(0, this.normalMult - this.excessS / CORRECTION_S));
      due += (this.rate * mult * seg) / 1000;
      this.excessS += ((mult - 1) * seg) / 1000;
      elapsed -= seg;
      this.regimeLeftMs -= seg;
      if (this.regimeLeftMs <= 0) this.enterRegime(!this.inBurst);
    }
    const n = Math.floor(due);
    this.carry = due - n;
    if (n === 0) return;

    const events: FeedEvent[] = [];
    for (let i = 0; i < n; i++) this.sim.nextInto(now, events);
    this.count += n;
    this.emitFn(events);
  }

  private enterRegime(burst: boolean): void {
    this.inBurst = burst;
    if (this.burstShare === 0) {
      this.regimeLeftMs = Infinity;
    } else if (burst) {
      this.burstMult = BURST_MULT_MIN + (BURST_MULT_MAX - BURST_MULT_MIN) * this.rng.next();
      this.regimeLeftMs = this.rng.exp(1 / BURST_MEAN_MS);
    } else {
      // Mean normal length chosen so bursts take `burstShare` of the time.
      this.regimeLeftMs = this.rng.exp(this.burstShare / (BURST_MEAN_MS * (1 - this.burstShare)));
    }
  }
}

function checkRate(rate: number): number {
  if (!Number.isFinite(rate) || rate < 0) throw new Error(`rate must be finite and >= 0, got ${rate}`);
  return rate;
}
