import { describe, expect, it } from 'vitest';
import { runSim, type TickTarget } from '../src/run.js';
import { MarketSimulator } from '../src/simulator.js';

/** Full after its first push; ready() then rejects, as a target whose sink died would. */
class FailingTarget implements TickTarget {
  pushes = 0;
  push(): boolean {
    this.pushes++;
    return false;
  }
  ready(): Promise<void> {
    return Promise.reject(new Error('sink gone'));
  }
}

describe('runSim', () => {
  it.each([
    ['paced', 1000],
    ['flat out', 0],
  ])("ends with the target's error when ready() rejects (%s)", async (_mode, rate) => {
    const target = new FailingTarget();
    const run = runSim({ simulator: new MarketSimulator({ seed: 1 }), target, rate, burstiness: 0, seed: 1 });
    await expect(run).rejects.toThrow('sink gone');
    expect(target.pushes).toBeGreaterThan(0);
  });
});
