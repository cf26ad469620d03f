/**
 * The benchmark suite's runner: picks scenarios, runs them in order with a live progress line
 * each, collects machine and goals, and writes `<date>-<host>.json`, `<date>-<host>.md` and the
 * charts `<date>-<host>-<chart>.svg` into the output directory. run.ts is its command line; the
 * smoke test calls `runSuite` directly.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { renderSvg } from './charts.js';
import { completeGoals } from './goals.js';
import { smokeOrStatus } from './validity.js';
import { machineInfo } from './machine.js';
import { ROOT } from './proc.js';
import { renderReport, type ScenarioRecord, type SuiteResults } from './report.js';
import type { GoalResult, Scenario, ScenarioContext, ScenarioResult, SuiteOptions } from './types.js';

export interface RunSuiteOptions {
  opts: SuiteOptions;
  scenarios: Scenario[];
  outDir: string;
  root?: string;
  /** The command line recorded in the report. */
  command?: string;
  /** Where progress goes (default process.stderr). */
  stderr?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  /** Upper bound on one scenario, s (default 300 quick, 3600 full; soak adds its duration). */
  scenarioTimeoutSec?: number;
}

export interface SuiteOutput {
  jsonPath: string;
  mdPath: string;
  svgPaths: string[];
  results: SuiteResults;
}

/** The scenarios `--only`, `--skip` and `--quick` select, in registry order. */
export function selectScenarios(all: Scenario[], opts: SuiteOptions): Scenario[] {
  const clean = (xs: string[] | undefined) => (xs ?? []).map((s) => s.trim()).filter(Boolean);
  const only = clean(opts.only);
  const skip = clean(opts.skip);
  for (const [flag, names] of [
    ['--only', only],
    ['--skip', skip],
  ] as const) {
    const unknown = names.filter((o) => !all.some((s) => s.id === o || s.group === o));
    if (unknown.length)
      throw new Error(
        `${flag}: no scenario or group named ${unknown.join(', ')} ` +
          `(known: ${[...new Set(all.flatMap((s) => [s.id, s.group]))].join(', ')})`,
      );
  }
  return all.filter((s) => {
    if (skip.includes(s.id) || skip.includes(s.group)) return false;
    if (only.length === 0) return !opts.quick || s.quick;
    // Named by id: runs even in quick mode; named by group: quick ones only in quick mode.
    if (only.includes(s.id)) return true;
    return only.includes(s.group) && (!opts.quick || s.quick);
  });
}

function stemFor(outDir: string, date: string, host: string): string {
  const base = `${date}-${host.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
  let stem = base;
  for (let i = 2; existsSync(join(outDir, `${stem}.json`)) || existsSync(join(outDir, `${stem}.md`)); i++) stem = `${base}-${i}`;
  return stem;
}

class ProgressLine {
  private current = '';
  private lastPlain = 0;
  constructor(private readonly out: { write(s: string): unknown; isTTY?: boolean }) {}
  get tty(): boolean {
    return this.out.isTTY === true;
  }
  set(line: string): void {
    this.current = line;
    if (this.tty) {
      const cols = (this.out as NodeJS.WriteStream).columns ?? 160;
      this.out.write(`\r${line.length > cols - 1 ? `${line.slice(0, cols - 2)}…` : line}\x1b[K`);
    } else if (Date.now() - this.lastPlain >= 2000) {
      this.lastPlain = Date.now();
      this.out.write(`${line}\n`);
    }
  }
  log(line: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${line}\n`);
      if (this.current) this.set(this.current);
    } else {
      this.out.write(`${line}\n`);
    }
  }
  done(line: string): void {
    this.current = '';
    if (this.tty) this.out.write(`\r\x1b[K${line}\n`);
    else this.out.write(`${line}\n`);
  }
}

export async function runSuite(o: RunSuiteOptions): Promise<SuiteOutput> {
  const root = o.root ?? ROOT;
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const machine = machineInfo(root);
  const selected = selectScenarios(o.scenarios, o.opts);
  const out = new ProgressLine(o.stderr ?? process.stderr);
  mkdirSync(o.outDir, { recursive: true });
  const stem = stemFor(o.outDir, startedAt.slice(0, 10), machine.hostname);
  out.log(
    `tickwire bench: ${selected.length} scenario(s) [${selected.map((s) => s.id).join(', ')}]${o.opts.quick ? ' (quick)' : ''} ` +
      `→ ${join(o.outDir, stem)}.{json,md}`,
  );

  const records: Record<string, ScenarioRecord> = {};
  const goals: GoalResult[] = [];
  const svgPaths: string[] = [];
  const usedNames = new Set<string>();
  const failed = new Map<string, string>();
  const shared = new Map<string, Promise<{ value: unknown; dispose: () => Promise<void> }>>();
  const useShared = <T>(key: string, create: () => Promise<{ value: T; dispose: () => Promise<void> }>): Promise<T> => {
    if (!shared.has(key)) shared.set(key, create());
    return (shared.get(key) as Promise<{ value: T }>).then((r) => r.value);
  };

  try {
    for (const [i, sc] of selected.entries()) {
      const prefix = `[${i + 1}/${selected.length} ${sc.id}]`;
      const s0 = Date.now();
      const ctx: ScenarioContext = {
        opts: o.opts,
        root,
        progress: (line) => out.set(`${prefix} ${line}`),
        log: (line) => out.log(`${prefix} ${line}`),
        shared: useShared,
      };
      out.set(`${prefix} ${sc.title}: starting`);
      const bound = (o.scenarioTimeoutSec ?? (o.opts.quick ? 300 : 3600)) + (sc.group === 'soak' ? (o.opts.soakSec ?? 0) * 1.5 : 0);
      let result: ScenarioResult | undefined;
      let error: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        result = await Promise.race([
          sc.run(ctx),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`scenario exceeded its bound of ${Math.round(bound)} s`)), bound * 1000);
          }),
        ]);
      } catch (e) {
        error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        failed.set(sc.group, `scenario ${sc.id} failed: ${error.split('\n')[0]}`);
      } finally {
        clearTimeout(timer);
      }
      const rec: ScenarioRecord = {
        id: sc.id,
        group: sc.group,
        title: sc.title,
        status: error ? 'failed' : 'ok',
        ...(error ? { error } : {}),
        durationSec: Math.round((Date.now() - s0) / 100) / 10,
        notes: result?.notes ?? [],
        charts: [],
        data: { ...(result?.data ?? {}), goalIds: (result?.goals ?? []).map((g) => g.id) },
      };
      goals.push(...(result?.goals ?? []));
      for (const chart of result?.charts ?? []) {
        let name = chart.name.replace(/[^A-Za-z0-9._-]+/g, '-');
        for (let k = 2; usedNames.has(name); k++) name = `${chart.name}-${k}`;
        usedNames.add(name);
        const file = `${stem}-${name}.svg`;
        try {
          const svg = await renderSvg(chart);
          writeFileSync(join(o.outDir, file), svg);
          svgPaths.push(join(o.outDir, file));
          rec.charts.push({ name, title: chart.title, file, spec: chart.spec });
        } catch (e) {
          rec.charts.push({ name, title: chart.title, file, error: e instanceof Error ? e.message : String(e), spec: chart.spec });
        }
      }
      records[sc.id] = rec;
      const summary = (result?.goals ?? [])
        .map((x) => smokeOrStatus(x, o.opts.quick))
        .map((g) => {
          const word = g.status === 'smoke' || g.status?.startsWith('invalid') ? ` ${g.status.split(':')[0]}` : '';
          return `${g.id} ${g.value ?? 'n/m'}${g.pass === true ? ' ✓' : g.pass === false ? ' ✗' : word}`;
        })
        .join(', ');
      out.done(
        `${prefix} ${sc.title}: ${error ? `FAILED (${error.split('\n')[0]})` : 'done'} in ${rec.durationSec} ` +
          `s${summary ? ` — ${summary}` : ''}`,
      );
    }
  } finally {
    for (const [key, p] of shared) {
      try {
        await (await p).dispose();
      } catch (e) {
        out.log(`tickwire bench: disposing ${key} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  machine.loadavgAfter = loadavg().map((v) => Math.round(v * 100) / 100);
  const selectedGroups = new Set(selected.map((s) => s.group));
  const registeredGroups = new Set(o.scenarios.map((s) => s.group));
  const results: SuiteResults = {
    suite: 'tickwire-bench',
    version: 1,
    command: o.command ?? 'npm run bench',
    machine,
    options: o.opts,
    startedAt,
    durationSec: Math.round((Date.now() - t0) / 100) / 10,
    goals: completeGoals(goals, (def) => {
      if (failed.has(def.group)) return `not measured: ${failed.get(def.group)}`;
      if (!registeredGroups.has(def.group)) return `not measured: no "${def.group}" scenario is registered in this build`;
      if (!selectedGroups.has(def.group))
        return `not measured: the "${def.group}" scenarios were not selected${o.opts.quick ? ' (or do not run in --quick)' : ''}`;
      return 'not measured: the scenario did not produce this goal';
    }).map((g) => smokeOrStatus(g, o.opts.quick)),
    scenarios: records,
  };
  const jsonPath = join(o.outDir, `${stem}.json`);
  const mdPath = join(o.outDir, `${stem}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(mdPath, renderReport(results));
  out.log(`tickwire bench: wrote ${jsonPath}, ${mdPath} and ${svgPaths.length} chart(s) in ${results.durationSec} s`);
  return { jsonPath, mdPath, svgPaths, results };
}
