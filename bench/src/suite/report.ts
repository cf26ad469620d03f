/**
 * The results of one suite run (the JSON file) and its Markdown report. `renderReport` is pure:
 * results in, Markdown out (charts are linked, never inlined).
 */
import type { GoalResult, SuiteOptions } from './types.js';
import type { MachineInfo } from './machine.js';

export interface ScenarioRecord {
  id: string;
  group: string;
  title: string;
  status: 'ok' | 'failed';
  error?: string;
  durationSec: number;
  notes: string[];
  /** Rendered charts: `file` is relative to the report. */
  /** `spec` (the vega-lite spec, data inline) lets `--render` draw the chart again from the JSON. */
  charts: { name: string; title: string; file: string; error?: string; spec?: Record<string, unknown> }[];
  data: Record<string, unknown>;
}

export interface SuiteResults {
  suite: 'tickwire-bench';
  version: 1;
  command: string;
  machine: MachineInfo;
  options: SuiteOptions;
  startedAt: string;
  durationSec: number;
  goals: GoalResult[];
  scenarios: Record<string, ScenarioRecord>;
}

export const num = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 0.01 || a === 0) return v.toFixed(3).replace(/\.?0+$/, '') || '0';
  return v.toPrecision(2);
};

export const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function passCell(g: GoalResult): string {
  if (g.status?.startsWith('invalid')) return '⚠️ invalid';
  if (g.status === 'smoke') return 'smoke (quick run)';
  if (g.pass === true) return '✅ pass';
  if (g.pass === false) return '❌ fail';
  // A value without a verdict: measured, but the goal itself could not be tried (the note says why).
  if (g.value !== null) return '— no verdict';
  return '— not measured';
}

export function goalsTable(goals: GoalResult[]): string {
  const lines = ['| id | goal | value | target | result | note |', '|---|---|---:|---:|---|---|'];
  for (const g of goals) {
    const target = Number.isFinite(g.goal) ? `${g.direction === 'min' ? '≥' : '≤'} ${num(g.goal)}` : '—';
    const invalid = g.status?.startsWith('invalid') ? g.status : '';
    const why = [invalid, g.limitedBy ? `limited by the ${g.limitedBy}` : '', g.note ?? ''].filter(Boolean).join('; ');
    lines.push(`| ${g.id} | ${esc(g.title)} | ${num(g.value)} | ${target} | ${passCell(g)} | ${esc(why)} |`);
  }
  return lines.join('\n');
}

export function renderReport(r: SuiteResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# tickwire benchmark — ${r.startedAt.slice(0, 10)} on ${m.hostname}`);
  out.push('');
  out.push(
    `Command: \`${r.command}\` — started ${r.startedAt}, took ${num(r.durationSec)} ` +
      `s${r.options.quick ? ' (quick mode: smaller loads and shorter windows than a full run)' : ''}.`,
  );
  out.push('');
  out.push('| machine | |');
  out.push('|---|---|');
  out.push(`| host | ${esc(m.hostname)} (${esc(m.os)}) |`);
  out.push(`| CPU | ${m.cpus} × ${esc(m.cpuModel)} |`);
  out.push(`| memory | ${m.totalMemGB} GB |`);
  out.push(`| Node.js | ${m.node}, uWebSockets.js native: ${m.uwsNative ? 'yes' : '**no (JS fallback)**'} |`);
  out.push(`| open files | soft ${m.fdLimitSoft}, hard ${m.fdLimitHard} |`);
  out.push(`| source | ${m.git.commit}${m.git.dirty ? ' + uncommitted changes' : ''}, dist built ${m.git.distBuiltAt} |`);
  out.push(`| load average (1, 5, 15 min) | before ${m.loadavgBefore.join(', ')}; after ${m.loadavgAfter?.join(', ') ?? '—'} |`);
  out.push('');
  out.push(
    'Every figure is from loopback on this one machine, with the load generator and the servers sharing its cores (and other ' +
      'processes: see `otherPercent` per run). A goal is a ratio of tickwire against a baseline measured in the same run, fed by ' +
      'the same simulator (each scenario says how); absolute numbers say little alone.',
  );
  out.push('');
  out.push('## Goals');
  out.push('');
  out.push(goalsTable(r.goals));
  out.push('');
  const opts = r.options;
  const chosen = [
    opts.clients !== undefined ? `clients ${opts.clients}` : '',
    opts.topics !== undefined ? `topics ${opts.topics}` : '',
    opts.rate !== undefined ? `rate ${opts.rate}` : '',
    opts.durationSec !== undefined ? `duration ${opts.durationSec} s` : '',
    opts.soakSec !== undefined ? `soak ${opts.soakSec} s` : '',
    opts.only.length ? `only ${opts.only.join(',')}` : '',
    opts.skip?.length ? `skip ${opts.skip.join(',')}` : '',
  ].filter(Boolean);
  if (chosen.length) out.push(`Options: ${chosen.join(', ')}.`, '');
  for (const s of Object.values(r.scenarios)) {
    out.push(`## ${s.title} (\`${s.id}\`)`);
    out.push('');
    if (s.status === 'failed') out.push(`**Failed:** ${esc(s.error ?? 'unknown error')}`, '');
    out.push(`_Took ${num(s.durationSec)} s._`);
    out.push('');
    const own = r.goals.filter((g) => (s.data.goalIds as string[] | undefined)?.includes(g.id));
    if (own.length) out.push(goalsTable(own), '');
    for (const n of s.notes) out.push(n, '');
    for (const c of s.charts) {
      if (c.error) out.push(`Chart "${c.title}" could not be rendered: ${esc(c.error)}`, '');
      else out.push(`![${c.title}](${c.file})`, '');
    }
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
