import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readUpdHeader } from '../src/loadgen/msgpack-header.js';
import { GOALS } from '../src/suite/goals.js';
import { parseCli, parseDuration } from '../src/suite/options.js';
import { renderReport, type SuiteResults } from '../src/suite/report.js';
import { runSuite, selectScenarios } from '../src/suite/runner.js';
import { fanoutScenario } from '../src/suite/scenarios/fanout.js';
import { scenarios as wire } from '../src/suite/scenarios/wire.js';
import { scenarios as stalled } from '../src/suite/scenarios/stalled.js';
import { scenarios as workers } from '../src/suite/scenarios/workers.js';
import { httpScenario } from '../src/suite/scenarios/http.js';
import { kafkaScenarios } from '../src/suite/scenarios/kafka.js';
import { microScenario } from '../src/suite/scenarios/micro.js';
import { soakScenario } from '../src/suite/scenarios/soak.js';
import { tuningScenario } from '../src/suite/scenarios/tuning.js';
import { scenarios as registry } from '../src/suite/scenarios/index.js';
import { readmeTable, README_END, README_START } from '../src/suite/readme-table.js';
import type { Scenario } from '../src/suite/types.js';

// The suite's servers, idle clients and load-generator workers run COMPILED files from dist/:
// `npm test` builds first; when running vitest alone, run `npm run build` before.
// No timing assertions: this only proves the harness runs end to end and writes its outputs.

const ALL_IDS = GOALS.map((g) => g.id);

describe('benchmark suite (smoke)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs fan-out against one baseline, wire, stalled and 1 vs N workers on a tiny load; writes JSON, Markdown, SVG charts', async () => {
    // A tiny fan-out: tickwire and the plain ws baseline only, few clients, ~1 s windows.
    const tinyFanout: Scenario = fanoutScenario(['tickwire', 'ws-json']);
    const lines: string[] = [];
    const out = await runSuite({
      opts: { quick: true, clients: 4, rate: 200, durationSec: 1, only: [] },
      scenarios: [tinyFanout, ...wire, ...stalled, ...workers],
      outDir: dir,
      command: 'vitest bench smoke',
      stderr: { write: (s: string) => lines.push(s), isTTY: false },
    });
    const json = JSON.parse(readFileSync(out.jsonPath, 'utf8')) as SuiteResults;
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(json.machine.hostname).toBeTruthy();
    expect(Object.keys(json.scenarios)).toEqual(['fanout', 'wire', 'stalled', 'workers']);
    for (const s of Object.values(json.scenarios)) expect(s.status, s.error).toBe('ok');

    // Every goal is listed, in order: measured, or pass null with a note.
    expect(json.goals.map((g) => g.id)).toEqual(ALL_IDS);
    for (const g of json.goals) {
      if (g.value === null) {
        expect(g.pass).toBeNull();
        expect(g.note).toBeTruthy();
      } else {
        expect(typeof g.value).toBe('number');
        // A quick run is a smoke test (issue 18): a value, never a pass or fail.
        expect(g.pass, g.id).toBeNull();
        expect(g.status === 'smoke' || g.status?.startsWith('invalid:'), `${g.id}: ${g.status}`).toBe(true);
      }
    }
    const byId = new Map(json.goals.map((g) => [g.id, g]));
    expect(byId.get('P1')!.value).not.toBeNull();
    expect(byId.get('P7')!.value).not.toBeNull();
    expect(byId.get('P10')!.value).not.toBeNull();
    expect(byId.get('P2')!.pass).toBeNull(); // Socket.IO not run here
    expect(byId.get('P9')!.note).toMatch(/not measured/);

    // The fan-out runs checked sequences and delivered something.
    const runs = (json.scenarios.fanout!.data.runs ?? {}) as Record<
      string,
      { delivered: { ticksPerSec: number }; correctness: { gaps: number } }
    >;
    expect(Object.keys(runs).sort()).toEqual(['tickwire', 'tickwire-high', 'ws-json']);
    for (const r of Object.values(runs)) {
      expect(r.delivered.ticksPerSec).toBeGreaterThan(0);
      expect(r.correctness.gaps).toBe(0);
    }

    // Markdown links SVG files that exist and are SVG.
    const md = readFileSync(out.mdPath, 'utf8');
    expect(md).toContain('## Goals');
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(3);
    for (const l of links) {
      const f = join(dir, l);
      expect(existsSync(f)).toBe(true);
      expect(readFileSync(f, 'utf8').startsWith('<svg')).toBe(true);
    }
    expect(lines.join('')).toContain('wrote');
    // Fixed measurement windows: ~1 min quiet, past 2 min on a busy machine.
  }, 300_000);

  it('runs the Kafka, micro, HTTP, tuning and soak scenarios on a tiny load', async () => {
    // Tiny versions of the registered scenarios: the test run's Kafka broker, a few thousand
    // records, 1 s windows, one tuning cell, a 3 s soak.
    const tiny: Scenario[] = [
      ...kafkaScenarios({ brokers: inject('kafkaBrokers'), records: 3000, rounds: 1, windowSec: 1, tenClients: false }),
      microScenario({ maxTime: 0.005, minSamples: 2, sizes: [16], hub: [{ ticks: 14, topics: 14, subscribers: 10, codec: 2 }] }),
      httpScenario({ durationSec: 1 }),
      tuningScenario({ clients: 4, windowSec: 1, matrix: [{ compression: 'off', flushMs: 2 }], passes: 1, backpressure: false }),
      soakScenario({ soakSec: 3, steadyClients: 4 }),
    ];
    expect(tiny.map((s) => s.id)).toEqual(['kafka-ingest', 'kafka-latency', 'micro', 'http', 'tuning', 'soak']);
    const out = await runSuite({
      opts: { quick: true, only: [] },
      scenarios: tiny,
      outDir: dir,
      command: 'vitest bench smoke 2',
      stderr: { write: () => true, isTTY: false },
    });
    const json = JSON.parse(readFileSync(out.jsonPath, 'utf8')) as SuiteResults;
    for (const s of Object.values(json.scenarios)) expect(s.status, `${s.id}: ${s.error}`).toBe('ok');
    const byId = new Map(json.goals.map((g) => [g.id, g]));
    // P5 and P6 measured against the bare kafkajs consumer, with their raw figures.
    for (const id of ['P5', 'P6']) {
      const g = byId.get(id)!;
      expect(g.value, g.note).not.toBeNull();
      expect(g.goal).toBe(id === 'P5' ? 1.5 : 0.9);
      expect(g.pass === null || typeof g.pass === 'boolean').toBe(true);
    }
    expect(byId.get('P6')!.raw).toMatchObject({ records: 3000, rounds: 1 });
    expect((byId.get('P6')!.raw.bareRecordsPerSec as number) > 0 && (byId.get('P6')!.raw.tickwireRecordsPerSec as number) > 0).toBe(true);
    expect((byId.get('P5')!.raw.bareP99PerRun as number[]).length).toBe(1);
    expect(byId.get('P1')!.pass).toBeNull(); // no fan-out here

    const sc = json.scenarios;
    expect((sc.micro!.data.rows as unknown[]).length).toBeGreaterThan(0);
    const http = sc.http!.data.rows as { path: string; requests: number; non2xx: number }[];
    expect(http.map((r) => r.path)).toEqual(['/healthz', '/v1/topics', '/metrics']);
    for (const r of http) expect(r.requests > 0 && r.non2xx === 0).toBe(true);
    const tuning = sc.tuning!.data as { matrix: { ticksPerSec: number; gaps: number }[]; recommendation: unknown };
    expect(tuning.matrix).toHaveLength(1);
    expect(tuning.matrix[0]!.ticksPerSec).toBeGreaterThan(0);
    expect(tuning.matrix[0]!.gaps).toBe(0);
    expect(tuning.recommendation).toBeTruthy();
    const soak = sc.soak!.data as { samples: { rssMB: number }[]; rss: { verdict: string; why: string }; thresholdMBPerHour: number };
    expect(soak.samples.length).toBeGreaterThanOrEqual(2);
    expect(soak.samples.every((x) => x.rssMB > 0)).toBe(true);
    // Three seconds cannot show a trend: the verdict says so rather than guessing.
    expect(soak.rss.verdict).toBe('inconclusive');
    expect(soak.thresholdMBPerHour).toBeGreaterThan(0);
    for (const name of ['kafka-ingest', 'kafka-latency', 'micro-encode', 'http-endpoints', 'tuning-matrix', 'soak-rss'])
      expect(
        out.svgPaths.some((p) => p.endsWith(`-${name}.svg`)),
        name,
      ).toBe(true);

    // The README table is generated from these results.
    const block = readmeTable(json, out.jsonPath, join(dir, 'README.md'));
    expect(block.startsWith(README_START) && block.endsWith(README_END)).toBe(true);
    expect(block).toMatch(/\| \*\*P6\*\* Kafka ingest rate/);
    // Fixed windows plus Kafka round trips: ~40 s quiet, past 90 s on a busy machine.
  }, 300_000);

  it('registers every scenario module, each runnable in --quick', () => {
    expect([...new Set(registry.map((s) => s.group))]).toEqual([
      'fanout',
      'wire',
      'compression',
      'idle',
      'stalled',
      'books',
      'kafka',
      'micro',
      'http',
      'tuning',
      'workers',
      'soak',
    ]);
    expect(selectScenarios(registry, { quick: true, only: [] })).toHaveLength(registry.length);
    expect(selectScenarios(registry, { quick: true, only: [], skip: ['kafka', 'soak'] }).map((s) => s.group)).not.toContain('kafka');
  });

  it('parses the command line', () => {
    expect(parseDuration('10s')).toBe(10);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('15')).toBe(15);
    expect(() => parseDuration('ten')).toThrow();
    const c = parseCli(['--quick', '--clients', '50', '--only', 'fanout,wire', '--skip', 'wire', '--duration', '2m', '--out', dir]);
    expect(c.opts).toMatchObject({ quick: true, clients: 50, only: ['fanout', 'wire'], skip: ['wire'], durationSec: 120, soakSec: 120 });
    expect(c.out).toBe(dir);
    expect(() => parseCli(['--clients', '0'])).toThrow();
  });

  it('selects scenarios by id and group, quick ones only in quick mode unless named', () => {
    const mk = (id: string, group: string, quick: boolean): Scenario => ({ id, group, title: id, quick, run: async () => ({ goals: [] }) });
    const all = [mk('a', 'g1', true), mk('b', 'g1', false), mk('c', 'g2', true)];
    expect(selectScenarios(all, { quick: false, only: [] }).map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(selectScenarios(all, { quick: true, only: [] }).map((s) => s.id)).toEqual(['a', 'c']);
    expect(selectScenarios(all, { quick: true, only: ['g1'] }).map((s) => s.id)).toEqual(['a']);
    expect(selectScenarios(all, { quick: true, only: ['b'] }).map((s) => s.id)).toEqual(['b']);
    expect(() => selectScenarios(all, { quick: true, only: ['nope'] })).toThrow(/nope/);
    expect(selectScenarios(all, { quick: false, only: [], skip: ['g1'] }).map((s) => s.id)).toEqual(['c']);
    expect(selectScenarios(all, { quick: false, only: ['g1'], skip: ['b'] }).map((s) => s.id)).toEqual(['a']);
    expect(() => selectScenarios(all, { quick: true, only: [], skip: ['nope'] })).toThrow(/--skip/);
  });

  it('renders a report from results alone', () => {
    const md = renderReport({
      suite: 'tickwire-bench',
      version: 1,
      command: 'npm run bench',
      machine: {
        hostname: 'h',
        os: 'linux',
        cpuModel: 'x',
        cpus: 2,
        totalMemGB: 1,
        node: 'v20',
        uwsNative: true,
        fdLimitSoft: 1,
        fdLimitHard: 1,
        git: { commit: 'abc', dirty: false, distBuiltAt: 't' },
        loadavgBefore: [0, 0, 0],
      },
      options: { quick: true, only: [] },
      startedAt: '2026-01-01T00:00:00.000Z',
      durationSec: 1,
      goals: [{ id: 'P1', title: 'T', value: 2, goal: 15, direction: 'min', pass: false, raw: {} }],
      scenarios: {
        s: {
          id: 's',
          group: 'g',
          title: 'S',
          status: 'ok',
          durationSec: 1,
          notes: ['hello'],
          charts: [{ name: 'c', title: 'C', file: 'x-c.svg' }],
          data: { goalIds: ['P1'] },
        },
      },
    });
    expect(md).toContain('| P1 | T | 2 | ≥ 15 | ❌ fail |');
    expect(md).toContain('![C](x-c.svg)');
    expect(md).toContain('hello');
  });

  it('reads upd headers without decoding the ticks', async () => {
    const { pack } = await import('msgpackr');
    const h = readUpdHeader(
      pack({
        op: 'upd',
        topic: 'quote.X',
        seq: 42,
        data: [
          { ts: 1.5e12 + 0.5, bid: 1 },
          { ts: 2, bid: 2 },
        ],
      }),
    );
    expect(h).toEqual({ topic: 'quote.X', seq: 42, n: 2, ts: 1.5e12 + 0.5 });
    expect(readUpdHeader(pack({ op: 'snap', topic: 'quote.X', seq: 1, data: {} }))).toBeNull();
    expect(readUpdHeader(pack({ data: [{ ts: 7 }], seq: 3, topic: 't', op: 'upd' }))).toEqual({ topic: 't', seq: 3, n: 1, ts: 7 });
    expect(readUpdHeader(new Uint8Array([0x84, 0xa2]))).toBeNull();
  });
});
