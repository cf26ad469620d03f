/**
 * Issue 18 point 4: every chart the suite renders shows its data. Log-scale bars used to be drawn
 * with zero length (`d="M24,0h24v0h-24Z"`), so the charts were empty; this renders the chart
 * helpers on a log scale and checks every chart committed under bench/results/.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { barChart, groupedBarChart, renderSvg } from '../src/suite/charts.js';
import { renderRun } from '../src/suite/rerender.js';

const RESULTS = join(import.meta.dirname, '..', 'results');

interface Mark {
  role: string;
  label: string;
  d: string;
}

function marksOf(svg: string): Mark[] {
  const out: Mark[] = [];
  const re = /<path (?:aria-label="([^"]*)" )?role="graphics-symbol" aria-roledescription="([^"]+)" d="([^"]*)"/g;
  for (const m of svg.matchAll(re)) out.push({ label: m[1] ?? '', role: m[2]!, d: m[3]! });
  return out;
}

/** Width and height of a bar path `Mx,yhWvHh-WZ` (vega's rect path). */
function barSize(d: string): { w: number; h: number } {
  const m = /^M[-\d.e]+,[-\d.e]+h([-\d.e]+)v([-\d.e]+)h/.exec(d);
  if (!m) throw new Error(`not a bar path: ${d}`);
  return { w: Math.abs(Number(m[1])), h: Math.abs(Number(m[2])) };
}

const nonEmpty = (k: Mark): boolean => (k.role === 'bar' ? ((s) => s.w > 0 && s.h > 0)(barSize(k.d)) : k.d.length > 0);
/** A zero-length bar is right only for a zero value (e.g. "resyncs: 0"). */
const zeroValued = (k: Mark): boolean => /: 0(;|$)/.test(k.label);

describe('charts (issue 18 pt 4)', () => {
  it('draws every bar of a log-scale bar chart with a non-zero length', async () => {
    const svg = await renderSvg(
      barChart(
        'c',
        'capacity',
        [
          { label: 'tickwire', value: 253_545 },
          { label: 'ws + JSON', value: 6_354 },
          { label: 'tickwire @ 3000/s', value: 5_924_649 },
        ],
        { xTitle: 'ticks/s', log: true },
      ),
    );
    const bars = marksOf(svg).filter((k) => k.role === 'bar');
    expect(bars).toHaveLength(3);
    for (const b of bars) expect(barSize(b.d).w, b.label).toBeGreaterThan(0);
    // Longer for the larger value: the bars encode the data, not just a baseline.
    const w = (l: string) => barSize(bars.find((b) => b.label.includes(`label: ${l}`))!.d).w;
    expect(w('tickwire @ 3000/s')).toBeGreaterThan(w('tickwire'));
    expect(w('tickwire')).toBeGreaterThan(w('ws + JSON'));
  });

  it('draws every bar of a log-scale grouped bar chart with a non-zero height', async () => {
    const rows = ['p50', 'p99', 'max'].flatMap((series, i) => [
      { label: 'tickwire', series, value: [0.5, 15, 40][i]! },
      { label: 'ws + JSON', series, value: [5, 150, 900][i]! },
    ]);
    const svg = await renderSvg(groupedBarChart('l', 'latency', rows, { yTitle: 'ms', log: true }));
    const bars = marksOf(svg).filter((k) => k.role === 'bar');
    expect(bars).toHaveLength(6);
    for (const b of bars) expect(barSize(b.d).h, b.label).toBeGreaterThan(0);
  });

  it('draws a hand-written log-scale bar spec (the micro chart) with non-zero bars', async () => {
    const svg = await renderSvg({
      name: 'm',
      title: 'ns per op',
      spec: {
        data: {
          values: [
            { impl: 'a', ns: 100 },
            { impl: 'b', ns: 1e5 },
          ],
        },
        mark: { type: 'bar' },
        encoding: { x: { field: 'impl', type: 'nominal' }, y: { field: 'ns', type: 'quantitative', scale: { type: 'log' } } },
      },
    });
    const bars = marksOf(svg).filter((k) => k.role === 'bar');
    expect(bars).toHaveLength(2);
    for (const b of bars) expect(barSize(b.d).h, b.label).toBeGreaterThan(0);
  });

  it("--render draws a recorded run's log-scale charts again, from its JSON, with non-empty bars", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwire-render-'));
    try {
      copyFileSync(join(RESULTS, '2026-11-26-vm-final.json'), join(dir, 'run.json'));
      const r = await renderRun(join(dir, 'run.json'));
      const names = r.written.map((f) => f.slice(dir.length + 1)).sort();
      const logCharts = ['fanout-capacity', 'fanout-latency', 'compression-ticks-per-cpu', 'stalled-latency', 'micro-encode'];
      expect(names).toEqual(expect.arrayContaining(logCharts.map((c) => `run-${c}.svg`)));
      for (const f of r.written) {
        const bars = marksOf(readFileSync(f, 'utf8')).filter((k) => k.role === 'bar');
        expect(bars.length, f).toBeGreaterThan(0);
        for (const b of bars) expect(nonEmpty(b) || zeroValued(b), `${f}: ${b.label}`).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const svgs = readdirSync(RESULTS).filter((f) => f.endsWith('.svg'));
  it('finds the committed charts', () => expect(svgs.length).toBeGreaterThan(10));
  it.each(svgs)('committed chart %s has non-empty marks', (file) => {
    const marks = marksOf(readFileSync(join(RESULTS, file), 'utf8'));
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.some(nonEmpty)).toBe(true);
    const empty = marks.filter((k) => !nonEmpty(k) && !zeroValued(k)).map((k) => k.label);
    expect(empty).toEqual([]);
  });
});
