#!/usr/bin/env node
/**
 * `npm run bench` — the benchmark suite (see bench/README.md):
 *
 *   node dist/bench/src/suite/run.js [--quick] [--clients N] [--topics N] [--rate N]
 *        [--duration 10s|30m|N] [--only id,group,...] [--out DIR] [--list]
 *
 * Builds nothing itself (the npm script builds first). Exit status 0 when the suite ran (goals
 * may fail: read the report), 1 when a scenario failed to run, 2 on bad options.
 */
import { parseCli } from './options.js';
import { runSuite, selectScenarios } from './runner.js';
import { scenarios } from './scenarios/index.js';

const USAGE = `usage: npm run bench -- [options]
  --quick            small loads, short windows: the whole suite in under 3 minutes
  --clients N        clients of the fan-out scenarios (default 1000; quick 200)
  --topics N         topics each fan-out client subscribes to (default 1)
  --rate N           ticks/s offered by the feed (default: per scenario, see the report)
  --duration D       measurement window per run: 10s, 2m or seconds (default 10 s; quick 4 s);
                     for the soak scenario, its length (e.g. 30m)
  --only LIST        comma-separated scenario ids or groups (fanout, wire, compression, idle, stalled, ...)
  --out DIR          where results go (default bench/results)
  --list             list the scenarios and exit
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
  if (cli.list) {
    for (const s of scenarios) process.stdout.write(`${s.id.padEnd(22)} ${s.group.padEnd(12)} ${s.quick ? 'quick' : '     '}  ${s.title}\n`);
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
  const line = r.results.goals.map((g) => `${g.id}=${g.value ?? 'n/m'}${g.pass === true ? '✓' : g.pass === false ? '✗' : ''}`).join('  ');
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
