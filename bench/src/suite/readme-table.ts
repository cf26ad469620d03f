/**
 * The README's headline table (P1–P10) from one results JSON, so the numbers in the README are
 * always a copy of a committed run: `npm run bench -- --readme bench/results/<run>.json` prints
 * the block and replaces the one between the markers in README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { GOALS } from './goals.js';
import { esc, num, passCell, type SuiteResults } from './report.js';

export const README_START = '<!-- bench-table:start -->';
export const README_END = '<!-- bench-table:end -->';

/** The Markdown block (markers included) for `results`, read from `jsonPath`, as seen from `readmePath`. */
export function readmeTable(results: SuiteResults, jsonPath: string, readmePath: string): string {
  const m = results.machine;
  const rel = (p: string) => relative(dirname(readmePath), p).split('\\').join('/');
  const mdPath = jsonPath.replace(/\.json$/, '.md');
  const lines = [
    README_START,
    `Measured on \`${m.hostname}\` (${m.cpus} × ${m.cpuModel}, ${m.totalMemGB} GB, Node ${m.node}, ` +
      `source ${m.git.commit}${m.git.dirty ? ' + changes' : ''}) on ${results.startedAt.slice(0, 10)} with ` +
      `\`${results.command}\`${results.options.quick ? ' (quick mode: small loads, not the goal figures)' : ''}; ` +
      `full report: [${rel(mdPath)}](${rel(mdPath)}), raw figures: [${rel(jsonPath)}](${rel(jsonPath)}). Values are ratios ` +
      `against baselines measured in the same run (P9b is a count).`,
    '',
    '| goal | measured | strict (same load) | target | result | note |',
    '|---|---:|---:|---:|---|---|',
  ];
  const how: string[] = [];
  for (const g of results.goals) {
    // Titles and targets as defined now (older results may carry placeholders for goals they did not measure).
    const def = GOALS.find((d) => d.id === g.id);
    const goal = Number.isFinite(g.goal) ? g.goal : (def?.goal ?? NaN);
    const direction = def?.direction ?? g.direction;
    const target = Number.isFinite(goal) ? `${direction === 'min' ? '≥' : '≤'} ${num(goal)}` : '—';
    // Verdicts need no note (the report has the details); missing verdicts say why.
    const note = g.pass === true || g.pass === false ? '' : (g.note ?? '');
    const strict = g.strict ? num(g.strict.value) : '';
    lines.push(`| **${g.id}** ${esc(def?.title ?? g.title)} | ${num(g.value)} | ${strict} | ${target} | ${passCell(g)} | ${esc(note)} |`);
    if (g.strict && g.capacityHow) how.push(`- **${g.id}** measured (capacity): ${g.capacityHow}; strict: ${g.strict.how}.`);
  }
  if (how.length)
    lines.push(
      '',
      'How the two fan-out ratios were obtained (the verdict is on the capacity ratio; the report explains both):',
      '',
      ...how,
    );
  lines.push(README_END);
  return lines.join('\n');
}

/** Replaces the block between the markers in `readmePath`; false when the markers are missing. */
export function updateReadme(readmePath: string, block: string): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) return false;
  writeFileSync(readmePath, text.slice(0, a) + block + text.slice(b + README_END.length));
  return true;
}

/** Reads a results JSON written by the runner. */
export function readResults(jsonPath: string): SuiteResults {
  const r = JSON.parse(readFileSync(jsonPath, 'utf8')) as SuiteResults;
  if (r.suite !== 'tickwire-bench' || !Array.isArray(r.goals))
    throw new Error(`${jsonPath} is not a results file of the tickwire benchmark suite`);
  return r;
}
