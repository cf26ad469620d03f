import { describe, it, expect } from 'vitest';
import { Pacer, realClock, type PacerClock } from '../src/pacer.js';
import { MarketSimulator, type FeedEvent } from '../src/simulator.js';
import { waitFor } from '../../gateway/test/support/wait.js';

/** Manual clock: advance() fires due interval callbacks in time order, like real timers would. */
class FakeClock implements PacerClock {
  t = 1_700_000_000_000;
  private timers = new Map<number, { fn: () => void; ms: number; due: number }>();
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { fn, ms, due: this.t + ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get active(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: { fn: () => void; ms: number; due: number } | undefined;
      for (const tm of this.timers.values()) if (tm.due <= end && (!next || tm.due < next.due)) next = tm;
      if (!next) break;
      this.t = next.due;
      next.due += next.ms;
      next.fn();
    }
    this.t = end;
  }
  /** Moves time without firing timers (a stalled event loop); the next advance fires once. */
  stall(ms: number): void {
    this.t += ms;
    for (const tm of this.timers.values()) tm.due = this.t;
  }
}

function setup(opts: { rate: number; burstiness?: number; seed?: number; intervalMs?: number }) {
  const clock = new FakeClock();
  const batches: { at: number; events: FeedEvent[] }[] = [];
  const pacer = new Pacer({
    ...opts,
    seed: opts.seed ?? 1,
    clock,
    simulator: new MarketSimulator({ seed: 11 }),
    emit: (events) => batches.push({ at: clock.now(), events }),
  });
  return { clock, batches, pacer };
}

const total = (batches: { events: FeedEvent[] }[]) => batches.reduce((a, b) => a + b.events.length, 0);

describe('Pacer', () => {
  it('emits rate × elapsed within ±5 % over a long run, for several seeds', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { clock, batches, pacer } = setup({ rate: 500, burstiness: 0.5, seed });
      pacer.start();
      clock.advance(300_000); // 5 fake minutes
      const expected = 500 * 300;
      const err = Math.abs(pacer.emitted - expected) / expected;
      expect(err, `seed ${seed}`).toBeLessThan(0.05);
      // The pacer corrects for the randomness of burst lengths, so it is in fact much closer.
      expect(err, `seed ${seed}`).toBeLessThan(0.02);
      expect(total(batches)).toBe(pacer.emitted);
    }
  });

  it('is exact when steady and stamps events with the clock time', () => {
    const { clock, batches, pacer } = setup({ rate: 1234, burstiness: 0, intervalMs: 7 });
    pacer.start();
    clock.advance(7 * 1430); // a whole number of intervals
    expect(Math.abs(pacer.emitted - 1234 * 7 * 1.43)).toBeLessThanOrEqual(1);
    for (const b of batches) {
      expect(b.events.length).toBeGreaterThan(0); // empty batches are not emitted
      for (const e of b.events) expect(e.tick.ts).toBe(b.at);
    }
    // Steady: per-interval counts hug the mean (1234 × 7 ms ≈ 8.6).
    const counts = batches.map((b) => b.events.length);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...counts)).toBeLessThanOrEqual(9);
  });

  it('spreads a low rate over intervals and never emits an empty batch', () => {
    const { clock, batches, pacer } = setup({ rate: 10, burstiness: 0 });
    pacer.start();
    clock.advance(60_000);
    expect(pacer.emitted).toBeGreaterThanOrEqual(599);
    expect(pacer.emitted).toBeLessThanOrEqual(600);
    expect(batches.every((b) => b.events.length === 1)).toBe(true);
  });

  it('has bursts (intervals ≥ 2× the mean) when burstiness > 0, none when 0', () => {
    const rate = 2000;
    const meanPerInterval = (rate * 10) / 1000;
    const bursty = setup({ rate, burstiness: 0.5, seed: 9 });
    bursty.pacer.start();
    bursty.clock.advance(60_000);
    const big = bursty.batches.filter((b) => b.events.length >= 2 * meanPerInterval).length;
    expect(big).toBeGreaterThan(50);
    // Outside bursts the rate sits below the mean, so the long-run average still holds.
    expect(bursty.batches.filter((b) => b.events.length < meanPerInterval).length).toBeGreaterThan(1000);

    const steady = setup({ rate, burstiness: 0 });
    steady.pacer.start();
    steady.clock.advance(60_000);
    expect(steady.batches.filter((b) => b.events.length >= 1.5 * meanPerInterval)).toHaveLength(0);
  });

  it('emits nothing at rate 0 and resumes after setRate', () => {
    const { clock, batches, pacer } = setup({ rate: 0 });
    pacer.start();
    clock.advance(5_000);
    expect(batches).toHaveLength(0);
    expect(pacer.emitted).toBe(0);
    pacer.setRate(100);
    clock.advance(10_000);
    expect(pacer.emitted).toBeGreaterThan(800);
    expect(pacer.emitted).toBeLessThan(1200);
    pacer.setRate(0);
    const before = pacer.emitted;
    clock.advance(5_000);
    expect(pacer.emitted).toBe(before);
  });

  it('stop() stops emitting and clears the timer; start() resumes without a backlog', () => {
    const { clock, pacer } = setup({ rate: 1000, burstiness: 0 });
    pacer.start();
    pacer.start(); // idempotent: one timer
    expect(clock.active).toBe(1);
    clock.advance(1_000);
    const n = pacer.emitted;
    expect(n).toBeGreaterThan(950);
    pacer.stop();
    expect(clock.active).toBe(0);
    clock.advance(5_000);
    expect(pacer.emitted).toBe(n);
    pacer.stop(); // idempotent
    pacer.start();
    clock.advance(1_000);
    expect(pacer.emitted - n).toBeGreaterThan(950);
    expect(pacer.emitted - n).toBeLessThan(1050);
  });

  it('stop() from inside emit takes effect immediately', () => {
    const clock = new FakeClock();
    let calls = 0;
    const pacer: Pacer = new Pacer({
      rate: 1000,
      seed: 1,
      clock,
      simulator: new MarketSimulator({ seed: 1 }),
      emit: () => {
        calls++;
        pacer.stop();
      },
    });
    pacer.start();
    clock.advance(1_000);
    expect(calls).toBe(1);
  });

  it('catches up after a late timer, but bounded to 1 s worth', () => {
    const { clock, batches, pacer } = setup({ rate: 1000, burstiness: 0 });
    pacer.start();
    clock.advance(1_000);
    clock.stall(300);
    clock.advance(1);
    expect(batches.at(-1)!.events.length).toBeGreaterThanOrEqual(299);
    expect(batches.at(-1)!.events.length).toBeLessThanOrEqual(311);

    clock.stall(30_000);
    clock.advance(1);
    const last = batches.at(-1)!.events.length;
    expect(last).toBeGreaterThan(900);
    expect(last).toBeLessThanOrEqual(1001);
  });

  it('keeps one batch per interval when its timer fires late and drifts (a busy process)', () => {
    // Node's repeating timer counts its period from when it actually ran: each fire here is 3 ms late
    // and the next one is due a period after that, as on a busy event loop.
    class DriftingClock extends FakeClock {
      override setInterval(fn: () => void, ms: number): unknown {
        return super.setInterval(fn, ms + 3);
      }
    }
    const clock = new DriftingClock();
    const batches: number[] = [];
    const pacer = new Pacer({
      rate: 2000,
      burstiness: 0,
      seed: 1,
      clock,
      simulator: new MarketSimulator({ seed: 11 }),
      emit: () => batches.push(clock.now()),
    });
    pacer.start();
    clock.advance(10_000);
    // 1 000 slots of 10 ms; a drifting 10 ms timer alone would give 10 000 / 13 ≈ 770 batches.
    expect(batches.length).toBeGreaterThan(950);
    expect(Math.abs(pacer.emitted - 20_000)).toBeLessThanOrEqual(40);
  });

  it('is deterministic for a seed with a fake clock', () => {
    const a = setup({ rate: 3000, seed: 21 });
    const b = setup({ rate: 3000, seed: 21 });
    a.pacer.start();
    b.pacer.start();
    a.clock.advance(20_000);
    b.clock.advance(20_000);
    expect(b.batches.map((x) => x.events.length)).toEqual(a.batches.map((x) => x.events.length));
  });

  it('validates options', () => {
    const base = { seed: 1, simulator: new MarketSimulator({ seed: 1 }), emit: () => {} };
    expect(() => new Pacer({ ...base, rate: -1 })).toThrow(/rate/);
    expect(() => new Pacer({ ...base, rate: NaN })).toThrow(/rate/);
    expect(() => new Pacer({ ...base, rate: 1, intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => new Pacer({ ...base, rate: 1, burstiness: 2 })).toThrow(/burstiness/);
  });

  it('runs on the real clock', async () => {
    let n = 0;
    const pacer = new Pacer({
      rate: 2000,
      seed: 1,
      clock: realClock,
      simulator: new MarketSimulator({ seed: 1 }),
      emit: (events) => (n += events.length),
    });
    pacer.start();
    await waitFor(() => n >= 100, { what: '100 events on the real clock', timeoutMs: 10_000 });
    pacer.stop();
    const after = n;
    expect(after).toBeGreaterThan(0);
    expect(after).toBe(pacer.emitted);
    // Deliberate: "nothing after stop" on a timer-driven pacer is only seen by letting time pass;
    // 50 ms is five of its 10 ms intervals.
    await new Promise((r) => setTimeout(r, 50));
    expect(n).toBe(after);
  });
});
