/**
 * `npm run bench -- --render <run.json>`: draws a recorded run's charts again, next to the JSON
 * (`<json stem>-<chart>.svg`), without measuring anything. Runs since issue 18 keep each chart's
 * vega-lite spec in the JSON; older runs did not, so their charts are rebuilt from the scenario
 * data they recorded (the builders the scenarios themselves use). A chart neither way is skipped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderSvg } from './charts.js';
import type { RunFigures } from './measure.js';
import type { ScenarioRecord, SuiteResults } from './report.js';
import { compressionCharts } from './scenarios/compression.js';
import { fanoutCharts, type FanoutParams } from './scenarios/fanout.js';
import { DEFAULT_SIZES, microCharts, type MicroRow } from './scenarios/micro.js';
import { stalledCharts } from './scenarios/stalled.js';
import type { ChartSpec } from './types.js';

/** Charts rebuilt from a scenario's recorded data (scenarios with charts that were drawn empty). */
export function chartsFromData(rec: ScenarioRecord): ChartSpec[] {
  const d = rec.data;
  switch (rec.id) {
    case 'fanout': {
      const p = d.params as FanoutParams;
      const runs = d.runs as Record<string, RunFigures>;
      return fanoutCharts(
        p.clients,
        p.runs.map((r) => runs[r.key]).filter((r): r is RunFigures => r !== undefined),
      );
    }
    case 'compression':
      return compressionCharts(d.runs as RunFigures[]);
    case 'stalled': {
      const r = d.runs as { none: RunFigures[]; stalled: RunFigures[] };
      const base = r.none.at(-1);
      const st = r.stalled.at(-1);
      return base && st ? stalledCharts(base, st) : [];
    }
    case 'micro': {
      const rows = d.rows as MicroRow[];
      const sizes = [...new Set(rows.filter((x) => x.group === 'encode').map((x) => x.ticks))].sort((a, b) => a - b);
      return microCharts(rows, sizes.length ? sizes : DEFAULT_SIZES);
    }
    default:
      return [];
  }
}

export interface RenderOutcome {
  written: string[];
  skipped: string[];
}

/** Renders every chart of the run in `jsonPath` it can (see the module comment). */
export async function renderRun(jsonPath: string): Promise<RenderOutcome> {
  const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as SuiteResults;
  const stem = basename(jsonPath).replace(/\.json$/, '');
  const out: RenderOutcome = { written: [], skipped: [] };
  for (const rec of Object.values(results.scenarios ?? {})) {
    const rebuilt = new Map(chartsFromData(rec).map((c) => [c.name, c]));
    for (const c of rec.charts ?? []) {
      const chart: ChartSpec | undefined = c.spec ? { name: c.name, title: c.title, spec: c.spec } : rebuilt.get(c.name);
      if (!chart) {
        out.skipped.push(`${rec.id}/${c.name}`);
        continue;
      }
      const file = join(dirname(jsonPath), `${stem}-${c.name}.svg`);
      writeFileSync(file, await renderSvg(chart));
      out.written.push(file);
    }
  }
  return out;
}
