import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { BookRecord } from '../../protocol/src/book-record.js';
import { isValidTopic } from '../../protocol/src/topics.js';
import { waitFor } from '../../gateway/test/support/wait.js';
import { usage } from '../src/cli.js';
import { parseReplay } from '../src/replay.js';
import { checkPerKeyOrder, decodeAll, kafkaClient, readTopic, uniqueTopic } from './support.js';

// parseCli's tests are in cli.test.ts (unit); these run the built CLI against the broker.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = `${ROOT}dist/feeds/src/cli.js`;
const SAMPLE_NDJSON = `${ROOT}feeds/data/sample-ticks.ndjson`;
const SAMPLE_CSV = `${ROOT}feeds/data/sample-ticks.csv`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Runs the built CLI with a clean environment (no inherited TICKWIRE_* variables). */
function runCli(
  args: string[],
  opts: { env?: Record<string, string>; onStderr?: (all: string, child: ChildProcess) => void; timeoutMs?: number } = {},
): Promise<Run> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    opts.onStderr?.(stderr, child);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tickwire-feed ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 25_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `name value` line of the summary. */
function summary(out: string, name: string): number {
  const m = new RegExp(`^\\s+${name}\\s+(\\d+)`, 'm').exec(out);
  if (!m) throw new Error(`no "${name}" in summary:\n${out}`);
  return Number(m[1]);
}

describe('tickwire-feed process', () => {
  const brokers = inject('kafkaBrokers');
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-feed-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--help prints the usage and exits 0; a bad option exits 2 naming it', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(usage());
    const bad = await runCli(['sim', '--rate', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rate must be a number.*\n.*--help/);
    const missing = await runCli(['replay', join(dir, 'nope.ndjson')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ENOENT/);
  });

  it('sim --count 2000 --rate 0: 2000 ticks and their book records, valid, keyed by topic, per-key ts non-decreasing', async () => {
    const topic = uniqueTopic('feed-cli-sim');
    const r = await runCli(['sim', '--count', '2000', '--rate', '0', '--brokers', brokers, '--topic', topic]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tickwire-feed sim: stopped \(count reached\)/);
    const sent = summary(r.stdout, 'sent');
    expect(summary(r.stdout, 'acked')).toBe(sent);
    expect(summary(r.stdout, 'failed')).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`created Kafka topic ${topic} with 8 partitions`));

    const decoded = decodeAll(await readTopic(brokers, topic));
    expect(decoded).toHaveLength(sent);
    expect(decoded.every((d) => isValidTopic(d.topic))).toBe(true);
    // --count counts ticks; each tick's book records come with it.
    const books = decoded.filter((d) => d.topic.startsWith('book.'));
    expect(decoded.length - books.length).toBe(2000);
    const counts = checkPerKeyOrder(decoded);
    expect(counts.size).toBe(21); // 7 default symbols × trade/quote/book
    // Per book: a snapshot first, then deltas whose pu is the previous record's u.
    const u = new Map<string, number>();
    for (const b of books) {
      const rec = b.tick as unknown as BookRecord;
      const prev = u.get(b.topic);
      if (prev === undefined) expect(rec.type).toBe('snapshot');
      else if (rec.type === 'delta') expect([rec.pu, rec.u]).toEqual([prev, prev + 1]);
      u.set(b.topic, rec.u as number);
    }
    expect(u.size).toBe(7);
    expect(new Set(decoded.map((d) => d.partition)).size).toBeGreaterThan(1);
    // Fresh timestamps (epoch ms of the run).
    const now = Date.now();
    expect(decoded.every((d) => d.tick.ts > now - 60_000 && d.tick.ts <= now)).toBe(true);

    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(meta.topics[0]!.partitions).toHaveLength(8);
  });

  it('replay of the NDJSON sample at --speed 0: every tick, ts rewritten to the send time', async () => {
    const topic = uniqueTopic('feed-cli-replay');
    const sample = parseReplay(readFileSync(SAMPLE_NDJSON, 'utf8'), 'ndjson');
    const t0 = Date.now();
    const r = await runCli(['replay', SAMPLE_NDJSON, '--speed', '0', '--brokers', brokers, '--topic', topic, '--partitions', '3']);
    const t1 = Date.now();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped \(end of file\)/);
    expect(summary(r.stdout, 'acked')).toBe(sample.records.length);
    expect(summary(r.stdout, 'bad lines')).toBe(0);
    expect(t1 - t0).toBeLessThan(15_000); // the sample spans 30 s of market time

    const decoded = decodeAll(await readTopic(brokers, topic));
    expect(decoded).toHaveLength(sample.records.length);
    checkPerKeyOrder(decoded);
    for (const d of decoded) {
      expect(d.tick.ts).toBeGreaterThanOrEqual(t0);
      expect(d.tick.ts).toBeLessThanOrEqual(t1);
    }
    // Same ticks per topic, in file order, apart from ts.
    const strip = ({ ts: _ts, ...rest }: { ts: number }) => rest;
    const want = new Map<string, unknown[]>();
    for (const s of sample.records) want.set(s.topic, [...(want.get(s.topic) ?? []), strip(s.tick)]);
    const got = new Map<string, unknown[]>();
    for (const d of decoded) got.set(d.topic, [...(got.get(d.topic) ?? []), strip(d.tick)]);
    expect(got).toEqual(want);
  });

  it('replay of the CSV sample with --keep-ts --format json publishes the recorded ticks exactly', async () => {
    const topic = uniqueTopic('feed-cli-replay-csv');
    const sample = parseReplay(readFileSync(SAMPLE_CSV, 'utf8'), 'csv');
    expect(sample.errors).toEqual([]);
    const r = await runCli([
      'replay',
      SAMPLE_CSV,
      '--speed',
      '0',
      '--keep-ts',
      '--format',
      'json',
      '--quiet',
      '--brokers',
      brokers,
      '--topic',
      topic,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // --quiet: nothing but errors
    const decoded = decodeAll(await readTopic(brokers, topic));
    expect(decoded.every((d) => d.value[0] === 0x7b)).toBe(true); // '{'
    const want = new Map<string, unknown[]>();
    for (const s of sample.records) want.set(s.topic, [...(want.get(s.topic) ?? []), s.tick]);
    const got = new Map<string, unknown[]>();
    for (const d of decoded) got.set(d.topic, [...(got.get(d.topic) ?? []), d.tick]);
    expect(got).toEqual(want);
  });

  it('replay reports bad lines with line numbers, skips them and still exits 0', async () => {
    const file = join(dir, 'bad.ndjson');
    const lines = readFileSync(SAMPLE_NDJSON, 'utf8').split('\n').slice(0, 10);
    lines.splice(2, 0, '{"topic":"trade.BTC-USD","ts":1,"px":"high","qty":1,"side":"b"}');
    lines.splice(6, 0, 'garbage');
    writeFileSync(file, lines.join('\n') + '\n');
    const topic = uniqueTopic('feed-cli-bad');
    const r = await runCli(['replay', file, '--speed', '0', '--brokers', brokers, '--topic', topic]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${file}:3: bad_fields: trade.BTC-USD: px must be a number, got string (skipped)`);
    expect(r.stderr).toMatch(new RegExp(`${file}:7: invalid JSON`));
    expect(summary(r.stdout, 'bad lines')).toBe(2);
    expect(summary(r.stdout, 'acked')).toBe(10);
  });

  it('replay of a file without a single valid tick exits 1', async () => {
    const file = join(dir, 'all-bad.csv');
    writeFileSync(file, 'topic,ts,px,qty,side\ntrade.X,1,1,1,buy\n');
    const r = await runCli(['replay', file, '--brokers', brokers, '--topic', uniqueTopic('feed-cli-empty')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:2: bad_fields: trade.X: side must be "b" or "s" (skipped)`);
    expect(r.stderr).toContain('has no valid ticks');
    expect(r.stdout).toMatch(/stopped \(no valid ticks\)/);
  });

  it('on SIGTERM stops, flushes everything it sent and exits 0 with a summary', async () => {
    const topic = uniqueTopic('feed-cli-sigterm');
    let child: ChildProcess | undefined;
    const args = ['sim', '--rate', '3000', '--brokers', brokers, '--topic', topic];
    const run = runCli(args, { onStderr: (_, c) => (child = c), timeoutMs: 90_000 });
    // Interrupted mid-stream once Kafka holds a good share of ticks, however slow the machine is.
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    try {
      await waitFor(async () => (await admin.fetchTopicOffsets(topic)).reduce((k, o) => k + Number(o.high), 0) > 600, {
        what: `600 records of ${topic} in Kafka`,
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    } finally {
      await admin.disconnect();
    }
    child!.kill('SIGTERM');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped \(interrupted\)/);
    const acked = summary(r.stdout, 'acked');
    expect(acked).toBe(summary(r.stdout, 'sent'));
    expect(acked).toBeGreaterThan(600);
    expect(await readTopic(brokers, topic)).toHaveLength(acked);
  });

  it('--no-create-topic fails with exit 1 when the topic is missing', async () => {
    const r = await runCli(['sim', '--count', '1', '--no-create-topic', '--brokers', brokers, '--topic', uniqueTopic('feed-cli-missing')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not exist \(drop --no-create-topic to create it\)/);
  });
});

/** A loopback port with nothing listening: connects are refused, like a broker that is gone. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('tickwire-feed without a broker (issue 17 pt 4)', () => {
  it('one SIGINT stops it at once, saying nothing was acknowledged, exit 1', async () => {
    const port = await closedPort();
    let child: ChildProcess | undefined;
    let interruptedAt = 0;
    // kafkajs alone would retry the refused connects for ~20 s; the first refusal is the cue.
    const run = runCli(['sim', '--brokers', `127.0.0.1:${port}`, '--topic', 'gone'], {
      onStderr: (all, c) => {
        if (!child && /ECONNREFUSED|Connection error/.test(all)) {
          child = c;
          interruptedAt = performance.now();
          c.kill('SIGINT');
        }
      },
      timeoutMs: 60_000,
    });
    const r = await run;
    const tookMs = performance.now() - interruptedAt;
    expect(child, r.stderr).toBeDefined();
    // Bounded by the disconnect timeout (2 s) and the exit fallback (2 s), with room for a busy machine.
    expect(tookMs, r.stderr).toBeLessThan(8000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/interrupted while connecting to Kafka at 127\.0\.0\.1:\d+: nothing was sent \(0 ticks not acknowledged\)/);
  });
});
