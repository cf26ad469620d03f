#!/usr/bin/env node
/**
 * Development driver for the scenarios in kafka.ts, micro.ts, http.ts, tuning.ts and soak.ts,
 * until the suite runner (run.ts) wires them in. Prints progress to stderr and the results JSON
 * to stdout (and to --out FILE).
 *
 *   npm run build && node dist/bench/src/suite/dev-run-b.js [--quick] [--only id|group,...] [--duration-sec S] [--soak-sec S] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Scenario, ScenarioContext } from './types.js';
import { machineLoad } from './lib-b/common.js';
import { scenarios as kafka } from './scenarios/kafka.js';
import { scenarios as micro } from './scenarios/micro.js';
import { scenarios as http } from './scenarios/http.js';
import { scenarios as tuning } from './scenarios/tuning.js';
import { scenarios as soak } from './scenarios/soak.js';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'duration-sec': { type: 'string' },
    'soak-sec': { type: 'string' },
    out: { type: 'string' },
  },
});
const only = a.only ? a.only.split(',').map((s) => s.trim()).filter(Boolean) : [];
const all: Scenario[] = [...micro, ...http, ...kafka, ...tuning, ...soak];
const picked = all.filter((s) => (only.length ? only.includes(s.id) || only.includes(s.group) : a.quick ? s.quick : true));
const root = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../../' : '../../../', import.meta.url));

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  let failed = false;
  for (const s of picked) {
    const t0 = Date.now();
    const ctx: ScenarioContext = {
      opts: {
        quick: a.quick ?? false,
        only,
        ...(a['duration-sec'] ? { durationSec: Number(a['duration-sec']) } : {}),
        ...(a['soak-sec'] ? { soakSec: Number(a['soak-sec']) } : {}),
      },
      root,
      progress: (line) => process.stderr.write(`[${s.id} ${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`),
      log: (line) => process.stderr.write(`  ${line}\n`),
    };
    process.stderr.write(`=== ${s.id}: ${s.title} (load ${machineLoad().loadavg1})\n`);
    try {
      const r = await s.run(ctx);
      results[s.id] = { ...r, elapsedSec: Math.round((Date.now() - t0) / 1000), machineAtEnd: machineLoad() };
      for (const g of r.goals) process.stderr.write(`  GOAL ${g.id} ${g.title}: ${g.value} (${g.direction === 'min' ? '≥' : '≤'} ${g.goal}) → ${g.pass === null ? 'not measured' : g.pass ? 'PASS' : 'FAIL'}\n`);
    } catch (e) {
      failed = true;
      results[s.id] = { error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      process.stderr.write(`  ERROR ${s.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
  }
  const json = JSON.stringify({ at: new Date().toISOString(), quick: a.quick ?? false, node: process.version, results }, null, 2);
  if (a.out) writeFileSync(a.out, json);
  process.stdout.write(`${json}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().then(
  () => setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref(),
  (e: unknown) => {
    process.stderr.write(`dev-run-b: ${String(e)}\n`);
    process.exit(1);
  },
);
