#!/usr/bin/env node
/**
 * `npm run bench` — the benchmark suite (see bench/README.md and USAGE below). Builds nothing
 * itself (the npm script builds first). Exit status 0 when the suite ran (goals may fail: read
 * the report), 1 when a scenario failed to run, 2 on bad options.
 */
import { parseCli } from './options.js';
import { ROOT } from './proc.js';
import { readmeTable, readResults, updateReadme } from './readme-table.js';
import { renderRun } from './rerender.js';
import { runSuite, selectScenarios } from './runner.js';
import { scenarios } from './scenarios/index.js';
import type { GoalResult } from './types.js';

const USAGE = `usage: npm run bench -- [options]
  --quick            small loads, short windows: every scenario in under 3 minutes
                     (the goal figures need a full run)
  --clients N        clients of the fan-out and compression runs (default 1000 / 500; quick 100)
  --topics N         topics each fan-out and compression client subscribes to (default 1)
  --rate N           ticks/s offered by the embedded feed of the fan-out, wire, compression and
                     stalled runs (default: per scenario, see the report)
  --max-other-cpu P  other processes' CPU during a run (% of one core, from /proc/stat minus the
                     suite's own processes) above which the run is repeated, and its goals are
                     'invalid' if it stays above (default 50)
  --duration D       measurement window of each run, e.g. 10s, 2m or seconds (default 10 s, Kafka
                     latency 30 s; quick 1.5-3 s); also the length of the soak (default 30 min;
                     quick 6 s). Soak mode: --only soak --duration 30m
  --only LIST        comma-separated scenario ids or groups to run (see --list)
  --skip LIST        comma-separated scenario ids or groups not to run
  --out DIR          where results go (default bench/results/local, ignored by git)
  --record           write the results to bench/results (tracked) to commit them
  --list             list the scenarios and exit
  --readme FILE      print the README's headline table from results FILE (a .json written by a
                     run) and replace the block between the bench-table markers in README.md
  --render FILE      draw the charts of results FILE (a .json written by a run) again, next to it;
                     measures nothing
`;

async function main(): Promise<number> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cli.render) {
    const r = await renderRun(cli.render);
    for (const f of r.written) process.stdout.write(`${f}\n`);
    if (r.skipped.length) process.stderr.write(`bench: no spec or recorded data to draw ${r.skipped.join(', ')}; left as they were\n`);
    return 0;
  }
  if (cli.readme) {
    const readme = `${ROOT}README.md`;
    const block = readmeTable(readResults(cli.readme), cli.readme, readme);
    process.stdout.write(`${block}\n`);
    if (!updateReadme(readme, block))
      process.stderr.write(`bench: ${readme} has no bench-table markers; the table above was not written\n`);
    return 0;
  }
  if (cli.list) {
    for (const s of scenarios)
      process.stdout.write(`${s.id.padEnd(22)} ${s.group.padEnd(12)} ${s.quick ? 'quick' : '     '}  ${s.title}\n`);
    return 0;
  }
  try {
    selectScenarios(scenarios, cli.opts);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const r = await runSuite({ opts: cli.opts, scenarios, outDir: cli.out, command });
  const mark = (g: GoalResult) => {
    if (g.pass !== null) return g.pass ? '✓' : '✗';
    return g.status === 'smoke' ? ' smoke' : g.status?.startsWith('invalid') ? ' invalid' : '';
  };
  const line = r.results.goals.map((g) => `${g.id}=${g.value ?? 'n/m'}${mark(g)}`).join('  ');
  process.stdout.write(`${line}\n${r.mdPath}\n`);
  return Object.values(r.results.scenarios).some((s) => s.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
