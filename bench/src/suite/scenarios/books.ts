/**
 * Order books (issue 15, Performance), as ratios of one run:
 *
 * 1. Fan-out of `book.BTC-USD@100ms` to N clients against the same N clients on the raw
 *    `book.BTC-USD`, at M book change sets/s ingested: change sets and bytes delivered per gateway
 *    CPU-second for each, and their ratio. One fresh gateway per side, so each CPU figure is its own.
 * 2. Micro figures in this process (book-micro.ts): engine ns per record, hub fold ns per change
 *    set, snapshot µs at depth 10 / 100 / 1 000, wire bytes per change set per codec.
 *
 * How the gateway is fed: the stock gateway's embedded feed with one symbol (BTC-USD). Its
 * simulator emits one book delta record per trade or quote event (plus a snapshot record every
 * 5 s), so `--feed-rate M` ingests ≈ M change sets/s on book.BTC-USD, paced like every other
 * scenario's feed, through the same BookEngine as Kafka's records. The alternatives cost CPU in
 * the measured process that a real deployment does not pay in the same way (the admin publish
 * endpoint parses HTTP + JSON per record) or need a broker (Kafka's client dominates the CPU at
 * this rate). The feed also writes trade and quote ticks at the same rate that nobody subscribes
 * to: both sides pay that ingest alike, the report says so, and the ingest rate is measured from
 * the raw topic's seq (a run below 80 % of the asked rate is invalid).
 */
import { barChart } from '../charts.js';
import { goalResult } from '../goals.js';
import {
  FULL_MICRO,
  QUICK_MICRO,
  measureBookMicro,
  BOOK_SYMBOL,
  BOOK_TOPIC,
  type BookMicroResult,
  type BookMicroSizes,
} from '../book-micro.js';
import { startBookVerifier, type BookVerifyResult } from '../book-verify.js';
import { measureRun, summarize, ticksIn, type RunFigures } from '../measure.js';
import { startServer, urlOf } from '../servers.js';
import { fmt, round, sleep } from '../stats.js';
import type { ChartSpec, GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';
import { checkInputOf, limitsOf, withBookVerdict, type BookRunCheckInput, type RunCheckInput } from '../validity.js';

export interface BooksSizes {
  clients: number;
  /** Book change sets per second asked of the feed (`--feed-rate`: one delta per feed event). */
  rate: number;
  durationSec: number;
  warmupMs: number;
  micro: BookMicroSizes;
}

export const FULL_BOOKS: BooksSizes = { clients: 1000, rate: 50_000, durationSec: 10, warmupMs: 3000, micro: FULL_MICRO };
export const QUICK_BOOKS: BooksSizes = { clients: 5, rate: 500, durationSec: 2, warmupMs: 1000, micro: QUICK_MICRO };

const INTERVAL_MS = 100;
const THROTTLED = `${BOOK_TOPIC}@${INTERVAL_MS}ms`;

/** One side of the fan-out: its load-generator run, the sample client's checks and the ingest rate. */
export interface BookFanoutRun {
  topic: string;
  run: RunFigures;
  verify: BookVerifyResult;
  ingestPerSec: number;
  /** Change sets delivered per gateway CPU-second (all threads), and bytes likewise. */
  changeSetsPerCpuSec: number;
  bytesPerCpuSec: number;
  /** Bytes each client received per second. */
  bytesPerClientSec: number;
}

async function fanoutRun(ctx: ScenarioContext, s: BooksSizes, topic: string): Promise<BookFanoutRun> {
  // The tick scenarios' gateway runs without book records (servers.ts); this one is about them.
  const gw = await startServer('tickwire', { rate: s.rate, symbols: [BOOK_SYMBOL] }, { extra: ['--feed-books', 'true'] });
  try {
    const url = urlOf('tickwire', gw.port);
    const verifier = startBookVerifier(url, topic);
    let verify: BookVerifyResult | undefined;
    try {
      await verifier.ready(15_000);
      const in0 = await ticksIn(gw, true);
      const t0 = performance.now();
      const measured = await measureRun({
        label: topic,
        server: gw,
        isTickwire: true,
        url,
        // Header-only: the clients count change sets and check seqs without decoding levels (the
        // sample client above checks the levels), so the load generator keeps up longer.
        kind: 'tickwire-header',
        clients: s.clients,
        topics: [topic],
        durationMs: s.durationSec * 1000,
        warmupMs: s.warmupMs,
        ctx,
      });
      const run = topic === THROTTLED ? withViewOffer(measured, INTERVAL_MS) : measured;
      const in1 = await ticksIn(gw, true);
      const ingestPerSec = ((in1[BOOK_TOPIC] ?? NaN) - (in0[BOOK_TOPIC] ?? NaN)) / ((performance.now() - t0) / 1000);
      verify = await verifier.stop();
      ctx.log(summarize(run));
      const cpu = run.server.cpuSeconds;
      return {
        topic,
        run,
        verify,
        ingestPerSec: round(ingestPerSec, 0),
        changeSetsPerCpuSec: round((run.delivered.ticksPerSec * run.windowSec) / cpu, 0),
        bytesPerCpuSec: round((run.delivered.bytesPerSec * run.windowSec) / cpu, 0),
        bytesPerClientSec: round(run.delivered.bytesPerSec / Math.max(1, run.clientsSubscribed), 1),
      };
    } finally {
      if (!verify) await verifier.stop();
    }
  } finally {
    await gw.stop();
  }
}

/**
 * The run with what a throttled view offers as its expected figure: one merged change set per
 * interval per subscribed client. measureRun derives "expected" from the topics' seqs in
 * `GET /v1/topics`, where a view has none, which left NaN in the log line and the report.
 */
export function withViewOffer(run: RunFigures, intervalMs: number): RunFigures {
  const expected = (run.clientsSubscribed * 1000) / intervalMs;
  const ratio = expected > 0 ? round(run.delivered.ticksPerSec / expected, 4) : NaN;
  return { ...run, delivered: { ...run.delivered, expectedTicksPerSec: round(expected, 0), ratio } };
}

/**
 * The run checks of one side. The throttled view has no seq of its own in `GET /v1/topics`, so its
 * offered count is what the view promises: one merged change set per interval per subscribed client.
 */
function checksOf(r: BookFanoutRun, s: BooksSizes): { run: RunCheckInput; book: BookRunCheckInput } {
  const base = checkInputOf(r.run);
  const run: RunCheckInput =
    r.topic === THROTTLED
      ? {
          label: base.label,
          delivered: withViewOffer(r.run, INTERVAL_MS).delivered,
          loadgen: base.loadgen,
          ...(base.correctness ? { correctness: base.correctness } : {}),
          machine: base.machine,
          bottleneck: base.bottleneck,
        }
      : base;
  const book: BookRunCheckInput = {
    label: r.topic,
    gaps: r.run.correctness.gaps,
    resyncs: r.run.correctness.resyncs,
    verify: r.verify,
    ingestPerSec: r.ingestPerSec,
    targetPerSec: s.rate,
  };
  return { run, book };
}

/** The B goals from the two sides and the micro figures. */
export function bookGoals(raw: BookFanoutRun, thr: BookFanoutRun, micro: BookMicroResult, s: BooksSizes, quick: boolean): GoalResult[] {
  const checks = [checksOf(raw, s), checksOf(thr, s)];
  const runs = checks.map((c) => c.run);
  const books = checks.map((c) => c.book);
  const o = { quick, limits: limitsOf({}) };
  const sides = {
    rawChangeSetsPerCpuSec: raw.changeSetsPerCpuSec,
    throttledChangeSetsPerCpuSec: thr.changeSetsPerCpuSec,
    rawBytesPerCpuSec: raw.bytesPerCpuSec,
    throttledBytesPerCpuSec: thr.bytesPerCpuSec,
    rawBytesPerClientSec: raw.bytesPerClientSec,
    throttledBytesPerClientSec: thr.bytesPerClientSec,
    rawGatewayCpuPercent: raw.run.server.cpuPercent,
    throttledGatewayCpuPercent: thr.run.server.cpuPercent,
    ingestPerSec: [raw.ingestPerSec, thr.ingestPerSec],
    clients: s.clients,
    bottlenecks: [raw.run.bottleneck, thr.run.bottleneck],
    otherPercent: [raw.run.machine.otherPercent, thr.run.machine.otherPercent],
  };
  const info = (g: GoalResult): GoalResult => ({ ...g, status: 'informational' });
  const json = micro.wire.find((w) => w.codec === 'json');
  const compact = micro.wire.find((w) => w.codec === 'msgpack-compact');
  return [
    withBookVerdict(info(goalResult('B1', thr.changeSetsPerCpuSec / raw.changeSetsPerCpuSec, sides)), runs, books, o),
    withBookVerdict(info(goalResult('B2', thr.bytesPerCpuSec / raw.bytesPerCpuSec, sides)), runs, books, o),
    withBookVerdict(goalResult('B3', thr.bytesPerClientSec / raw.bytesPerClientSec, sides), runs, books, o),
    info(
      goalResult('B4', compact && json ? compact.rawPerChangeSet / json.rawPerChangeSet : null, {
        jsonBytesPerChangeSet: json?.rawPerChangeSet,
        compactBytesPerChangeSet: compact?.rawPerChangeSet,
        changeSets: micro.changeSets,
      }),
    ),
  ];
}

/** The books scenario at the given sizes (the smoke test uses tiny ones). */
export function booksScenario(sizes?: Partial<BooksSizes>): Scenario {
  async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const q = ctx.opts.quick;
    const s: BooksSizes = {
      ...(q ? QUICK_BOOKS : FULL_BOOKS),
      ...(ctx.opts.clients !== undefined ? { clients: ctx.opts.clients } : {}),
      // --rate is the embedded feed's events/s here as in the tick scenarios: one book delta record per event.
      ...(ctx.opts.rate !== undefined ? { rate: ctx.opts.rate } : {}),
      ...(ctx.opts.durationSec !== undefined ? { durationSec: ctx.opts.durationSec } : {}),
      ...sizes,
    };
    ctx.progress('books: micro (engine, fold, snapshots, wire bytes)');
    const micro = measureBookMicro(s.micro);
    const sides: BookFanoutRun[] = [];
    const errors: string[] = [];
    for (const topic of [BOOK_TOPIC, THROTTLED]) {
      try {
        sides.push(await fanoutRun(ctx, s, topic));
      } catch (e) {
        errors.push(`${topic}: ${e instanceof Error ? e.message : String(e)}`);
      }
      await sleep(300);
    }
    const [raw, thr] = sides.length === 2 ? sides : [undefined, undefined];
    const goals = raw && thr ? bookGoals(raw, thr, micro, s, q) : [];
    return {
      goals,
      data: { sizes: s, intervalMs: INTERVAL_MS, micro, sides, errors },
      notes: [
        `${s.clients} clients on one book topic per run, embedded feed of ${BOOK_SYMBOL} alone at ${fmt(s.rate)} events/s ` +
          `(one book delta record per event; it also writes trade and quote ticks nobody subscribes to, in both runs), ` +
          `window ${s.durationSec} s, a fresh gateway per run. Clients read \`upd\` header-only (change sets counted, seq ` +
          `checked); one more client per run applies every change set and verifies every checksum.` +
          (q ? ' Quick mode: tiny load, figures are a smoke test only.' : ''),
        fanoutTable(sides),
        microTables(micro),
        ...(errors.length ? [`Failed runs: ${errors.join('; ')}`] : []),
      ],
      charts: booksCharts(sides),
    };
  }
  return {
    id: 'books',
    group: 'books',
    title: 'Order books: throttled vs raw fan-out, fold and snapshot cost, wire bytes',
    quick: true,
    run,
  };
}

function fanoutTable(sides: BookFanoutRun[]): string {
  return [
    '| topic | ingested change sets/s | delivered change sets/s | of offered | bytes/s | gateway CPU % (main) | change sets per CPU-s ' +
      '| bytes per CPU-s | checksums verified (bad) | gaps / resyncs | load-gen CPU % (ELU) | other % | limited by |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|',
    ...sides.map(
      (s) =>
        `| ${s.topic} | ${fmt(s.ingestPerSec, 2)} | ${fmt(s.run.delivered.ticksPerSec, 2)} | ` +
        `${Number.isFinite(s.run.delivered.ratio) ? (s.run.delivered.ratio * 100).toFixed(1) + ' %' : '—'} | ` +
        `${fmt(s.run.delivered.bytesPerSec, 2)} | ${s.run.server.cpuPercent} (${s.run.server.mainThreadPercent}) | ` +
        `${fmt(s.changeSetsPerCpuSec, 2)} | ${fmt(s.bytesPerCpuSec, 2)} | ${s.verify.checked} (${s.verify.mismatches}) | ` +
        `${s.run.correctness.gaps} / ${s.run.correctness.resyncs} | ` +
        `${s.run.loadgen.cpuPercent} (${s.run.loadgen.workerElu.join(', ')}) | ${s.run.machine.otherPercent} | ${s.run.bottleneck} |`,
    ),
  ].join('\n');
}

function microTables(m: BookMicroResult): string {
  return [
    `Micro (${m.records} simulated ${BOOK_SYMBOL} records → ${m.changeSets} change sets, ${m.levelsPerChangeSet} levels each): ` +
      `engine ${m.engineNsPerRecord} ns per record, hub fold ${m.foldNsPerChangeSet} ns per change set, 100 ms merge ` +
      `${m.mergeNsPerChangeSet} ns per change set.`,
    '',
    '| snapshot depth | Book.snapshot µs | snap frame encode µs (msgpack) | snap frame bytes |',
    '|---:|---:|---:|---:|',
    ...m.snapshots.map((s) => `| ${s.depth} | ${s.snapshotUs} | ${s.encodeUs} | ${s.frameBytes} |`),
    '',
    `| codec | bytes per raw change set (1 per frame) | (20 per frame) | bytes per ${INTERVAL_MS} ms merged change set | ` +
      'merged bytes per raw change set covered |',
    '|---|---:|---:|---:|---:|',
    ...m.wire.map(
      (w) =>
        `| ${w.codec} | ${w.rawPerChangeSet} | ${w.rawBatchedPerChangeSet} | ${w.throttledPerChangeSet} | ${w.throttledPerRawChangeSet} |`,
    ),
  ].join('\n');
}

/** The books chart from the sides a run recorded. */
export function booksCharts(sides: BookFanoutRun[]): ChartSpec[] {
  const rows = sides.flatMap((s) => [
    { label: `${s.topic} change sets`, value: s.changeSetsPerCpuSec },
    { label: `${s.topic} bytes`, value: s.bytesPerCpuSec },
  ]);
  return [
    barChart('books-per-cpu', 'Book fan-out: change sets and bytes per gateway CPU-second, log scale', rows, {
      xTitle: 'per CPU-second',
      log: true,
    }),
  ];
}

export const scenarios: Scenario[] = [booksScenario()];
