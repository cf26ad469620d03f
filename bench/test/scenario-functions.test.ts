import { describe, expect, it } from 'vitest';
import { runEncodeBenchmarks, runHubBenchmarks, type MicroRow } from '../src/suite/scenarios/micro.js';
import { linearFit } from '../src/suite/stats.js';
import { verdict } from '../src/suite/scenarios/soak.js';

// Shape only: a few iterations each, no timing assertions (the machine is shared).
const tiny = { maxTime: 0.01, minSamples: 2 };

function expectRow(r: MicroRow): void {
  for (const k of ['opsPerSec', 'nsPerOp', 'ticks'] as const) {
    expect(Number.isFinite(r[k]), `${r.name} ${k}`).toBe(true);
    expect(r[k]).toBeGreaterThan(0);
  }
  expect(r.samples).toBeGreaterThan(0);
  expect(Number.isFinite(r.rmePct)).toBe(true);
}

describe('micro scenario functions', () => {
  it('encode and deflate rows for every size and encoder', () => {
    const rows = runEncodeBenchmarks({ ...tiny, sizes: [1, 16] });
    expect(rows.map((r) => `${r.impl} ${r.ticks}`)).toEqual([
      'tickwire writer 1',
      'msgpackr pack 1',
      'JSON.stringify 1',
      '@msgpack/msgpack encode 1',
      'deflateFrame 1',
      'tickwire writer 16',
      'msgpackr pack 16',
      'JSON.stringify 16',
      '@msgpack/msgpack encode 16',
      'deflateFrame 16',
    ]);
    for (const r of rows) {
      expectRow(r);
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.nsPerTick).toBeGreaterThan(0);
    }
    // 16 quote ticks compress: the shared-deflate frame is smaller than the msgpack frame.
    const frame16 = rows.find((r) => r.impl === 'tickwire writer' && r.ticks === 16)!;
    expect(rows.find((r) => r.impl === 'deflateFrame' && r.ticks === 16)!.bytes!).toBeLessThan(frame16.bytes!);
  }, 20_000);

  it('hub flush rows count one delivery per topic per subscriber', () => {
    const rows = runHubBenchmarks({
      ...tiny,
      hub: [
        { ticks: 14, topics: 14, subscribers: 3, codec: 0 },
        { ticks: 28, topics: 14, subscribers: 2, codec: 2 },
      ],
    });
    expect(rows).toHaveLength(2);
    expect(rows[0]!.deliveriesPerOp).toBe(14 * 3);
    expect(rows[1]!.deliveriesPerOp).toBe(14 * 2);
    for (const r of rows) {
      expectRow(r);
      expect(r.nsPerDelivery).toBeGreaterThan(0);
    }
  }, 20_000);
});

describe('soak verdict', () => {
  it('fits a line and calls flat, growing, or inconclusive', () => {
    const fit = linearFit([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(fit.slope).toBeCloseTo(2);
    expect(fit.intercept).toBeCloseTo(1);
    const flat = Array.from({ length: 200 }, (_, i) => ({ t: i * 10, rssMB: 80 + (i % 5) * 0.1, heapUsedMB: 20, connections: 60 }));
    expect(verdict(flat).verdict).toBe('flat');
    // 100 MB/h
    const growing = flat.map((s) => ({ ...s, rssMB: 80 + (s.t / 3600) * 100 + (s.t % 50) * 0.01 }));
    expect(verdict(growing).verdict).toBe('growing');
    expect(verdict(growing).slopeMBPerHour).toBeGreaterThan(90);
    expect(verdict([]).verdict).toBe('inconclusive');
    // Under 10 minutes: no verdict, whatever the slope.
    expect(verdict(growing.filter((s) => s.t < 300)).verdict).toBe('inconclusive');
  });
});
