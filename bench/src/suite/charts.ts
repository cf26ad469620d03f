/**
 * Charts of the report: vega-lite specs (data inline) rendered to SVG in Node by vega's headless
 * view (`renderer: 'none'`, `toSVG()`); nothing is drawn by hand.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ChartSpec } from './types.js';

/** Renders one chart; throws when the spec is invalid. */
export async function renderSvg(chart: ChartSpec): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: chart.title,
    background: 'white',
    padding: 8,
    ...withLogBaselines(chart.spec),
  } as vl.TopLevelSpec;
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * A log scale has no zero, and vega-lite draws bars from zero: on a log axis every bar had zero
 * length. Bars on a log axis therefore start at a positive baseline, the power of ten below the
 * smallest value, which is also where the axis starts.
 */
export function logBaseline(values: number[]): number {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  if (pos.length === 0) return 1;
  const min = Math.min(...pos);
  const base = 10 ** Math.floor(Math.log10(min));
  // Strictly below the smallest value, or its bar would have zero length again.
  return base < min ? base : base / 10;
}

type Enc = Record<string, Record<string, unknown> | undefined>;

/** A bar spec with a log x or y scale gets the baseline above (spec otherwise unchanged). */
export function withLogBaselines(spec: Record<string, unknown>): Record<string, unknown> {
  const mark = spec.mark;
  const type = typeof mark === 'string' ? mark : (mark as { type?: string } | undefined)?.type;
  const enc = spec.encoding as Enc | undefined;
  const values = (spec.data as { values?: Record<string, unknown>[] } | undefined)?.values;
  if (type !== 'bar' || !enc || !Array.isArray(values)) return spec;
  const out: Enc = { ...enc };
  for (const ch of ['x', 'y'] as const) {
    const e = enc[ch];
    const scale = e?.scale as Record<string, unknown> | undefined;
    if (!e || scale?.type !== 'log' || enc[`${ch}2`] || typeof e.field !== 'string') continue;
    const base = logBaseline(values.map((v) => Number(v[e.field as string])));
    out[ch] = { ...e, scale: { domainMin: base, ...scale } };
    out[`${ch}2`] = { datum: base };
  }
  return { ...spec, encoding: out };
}

/** A horizontal bar chart of one value per label (e.g. ticks/s per server), optionally with a log scale. */
export function barChart(
  name: string,
  title: string,
  rows: { label: string; value: number; group?: string }[],
  opts: { xTitle: string; log?: boolean; color?: string } = { xTitle: '' },
): ChartSpec {
  const data = rows.filter((r) => Number.isFinite(r.value) && (!opts.log || r.value > 0));
  return {
    name,
    title,
    spec: {
      width: 480,
      data: { values: data },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: null, title: null },
        x: { field: 'value', type: 'quantitative', title: opts.xTitle, ...(opts.log ? { scale: { type: 'log' } } : {}) },
        ...(data.some((r) => r.group)
          ? { color: { field: 'group', type: 'nominal', title: null } }
          : { color: { value: opts.color ?? '#4c78a8' } }),
      },
    },
  };
}

/** Grouped bars: for each label, one bar per series (e.g. latency p50/p99/p99.9 per server). */
export function groupedBarChart(
  name: string,
  title: string,
  rows: { label: string; series: string; value: number }[],
  opts: { yTitle: string; log?: boolean },
): ChartSpec {
  const data = rows.filter((r) => Number.isFinite(r.value) && (!opts.log || r.value > 0));
  return {
    name,
    title,
    spec: {
      data: { values: data },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'label', type: 'nominal', sort: null, title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: null },
        y: { field: 'value', type: 'quantitative', title: opts.yTitle, ...(opts.log ? { scale: { type: 'log' } } : {}) },
        color: { field: 'series', type: 'nominal', sort: null, title: null },
      },
      width: { step: 24 },
    },
  };
}

/** Lines of y against x per series (e.g. RSS against connections per server). */
export function lineChart(
  name: string,
  title: string,
  rows: { x: number; y: number; series: string }[],
  opts: { xTitle: string; yTitle: string },
): ChartSpec {
  return {
    name,
    title,
    spec: {
      width: 480,
      height: 260,
      data: { values: rows.filter((r) => Number.isFinite(r.x) && Number.isFinite(r.y)) },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: opts.xTitle },
        y: { field: 'y', type: 'quantitative', title: opts.yTitle },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
  };
}
