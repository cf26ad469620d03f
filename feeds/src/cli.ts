#!/usr/bin/env node
/**
 * `tickwire-feed`: produces ticks to Kafka in the gateway's record format (key = tickwire topic,
 * value = one tick; protocol/src/record.ts), from the market simulator (`sim`) or from a
 * recorded file (`replay`). Argument parsing and wiring only; the work is in kafka-sink.ts
 * (batching producer), run.ts (producing loops) and replay.ts (file formats, timing).
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel as kafkaLogLevel, type logCreator, type ProducerConfig } from 'kafkajs';
import { explicitPartitioner, KafkaSink, type SinkStats, type ValueFormat } from './kafka-sink.js';
import { Progress, summaryText } from './progress.js';
import { formatOf } from './replay.js';
import { runReplay, runSim, type StopReason } from './run.js';
import { ABORTED, flushWithin, TIMED_OUT, unacknowledged, unlessAborted, within } from './stop.js';
import { MarketSimulator } from './simulator.js';
import { DEFAULT_SYMBOLS, parseSymbols, type SymbolSpec } from './symbols.js';

type Mode = 'sim' | 'replay';

interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder of the value in the usage text. */
  arg?: string;
  /** Commands the option applies to. */
  modes: readonly Mode[];
  help: string;
}

const BOTH: readonly Mode[] = ['sim', 'replay'];

/** Every option `tickwire-feed` accepts (without the leading `--`). */
export const CLI_OPTIONS = {
  rate: {
    type: 'string',
    arg: 'N',
    modes: ['sim'],
    help: 'mean ticks per second across all symbols (default 5000); 0 = as fast as possible',
  },
  max: { type: 'boolean', modes: ['sim'], help: 'as fast as possible (same as --rate 0): no pacer, batches back to back' },
  seed: { type: 'string', arg: 'N', modes: ['sim'], help: 'PRNG seed; the same seed gives the same market (default 1)' },
  symbols: {
    type: 'string',
    arg: 'LIST',
    modes: ['sim'],
    help: `comma-separated symbols (default ${DEFAULT_SYMBOLS.map((s) => s.symbol).join(',')})`,
  },
  burstiness: {
    type: 'string',
    arg: 'X',
    modes: ['sim'],
    help: '0 = steady rate, up to 1 = frequent short bursts; the mean stays --rate (default 0.5)',
  },
  'no-books': {
    type: 'boolean',
    modes: ['sim'],
    help: 'trades and quotes only, no order-book records (the ticks are the same with or without them)',
  },
  speed: {
    type: 'string',
    arg: 'X',
    modes: ['replay'],
    help: 'divide the recorded gaps between ticks by X (default 1); 0 = as fast as possible',
  },
  loop: { type: 'boolean', modes: ['replay'], help: 'start over at the end of the file (until --count, --duration or a signal)' },
  'keep-ts': { type: 'boolean', modes: ['replay'], help: 'publish the recorded ts instead of rewriting it to the replay time' },
  duration: { type: 'string', arg: 'SEC', modes: BOTH, help: 'stop after SEC seconds' },
  count: { type: 'string', arg: 'N', modes: BOTH, help: 'stop after N ticks' },
  brokers: {
    type: 'string',
    arg: 'LIST',
    modes: BOTH,
    help: 'Kafka bootstrap brokers, host:port,... (env TICKWIRE_KAFKA_BROKERS, default 127.0.0.1:9092)',
  },
  topic: {
    type: 'string',
    arg: 'NAME',
    modes: BOTH,
    help: 'Kafka topic to produce to (env TICKWIRE_KAFKA_TOPICS, its first entry; default ticks)',
  },
  format: { type: 'string', arg: 'F', modes: BOTH, help: 'record value encoding: msgpack (standard msgpack map, default) or json' },
  acks: { type: 'string', arg: 'N', modes: BOTH, help: 'acks per send: all/-1 (default, idempotent: no duplicate on retry), 1 or 0' },
  'create-topic': { type: 'boolean', modes: BOTH, help: 'create the Kafka topic if it does not exist (default)' },
  'no-create-topic': { type: 'boolean', modes: BOTH, help: 'fail if the Kafka topic does not exist' },
  partitions: { type: 'string', arg: 'N', modes: BOTH, help: 'partitions of a topic created by --create-topic (default 8)' },
  'client-id': { type: 'string', arg: 'ID', modes: BOTH, help: 'Kafka client id (default tickwire-feed)' },
  batch: { type: 'string', arg: 'N', modes: BOTH, help: 'most ticks in one produce request (default 1000)' },
  linger: { type: 'string', arg: 'MS', modes: BOTH, help: 'longest a tick waits for its batch to fill, ms (default 5)' },
  'in-flight': { type: 'string', arg: 'N', modes: BOTH, help: 'most produce requests outstanding; the generator waits beyond (default 4)' },
  'flush-timeout': {
    type: 'string',
    arg: 'SEC',
    modes: BOTH,
    help: 'at the end (or on SIGINT/SIGTERM), wait at most SEC seconds for Kafka to acknowledge what was sent (default 5)',
  },
  quiet: { type: 'boolean', modes: BOTH, help: 'no progress line and no notes (errors and the summary are still printed)' },
  help: { type: 'boolean', modes: BOTH, help: 'print this help' },
} as const satisfies Record<string, OptionSpec>;

export type CliOption = keyof typeof CLI_OPTIONS;

/** The options as typed on the command line: `--rate`, `--brokers`, ... */
export const CLI_FLAGS: readonly string[] = Object.keys(CLI_OPTIONS).map((k) => `--${k}`);

/** The environment variables `tickwire-feed` reads (the gateway's own names for the same things). */
export const FEED_ENV_VARS = ['TICKWIRE_KAFKA_BROKERS', 'TICKWIRE_KAFKA_TOPICS'] as const;

export const COMMANDS: readonly Mode[] = ['sim', 'replay'];

export interface FeedConfig {
  mode: Mode;
  /** replay: the recorded file. */
  file: string | undefined;
  rate: number;
  seed: number;
  symbols: SymbolSpec[];
  burstiness: number;
  /** sim: also write the order-book records (false with --no-books). */
  books: boolean;
  speed: number;
  loop: boolean;
  keepTs: boolean;
  count: number | undefined;
  durationMs: number | undefined;
  brokers: string[];
  topic: string;
  format: ValueFormat;
  acks: number;
  createTopic: boolean;
  partitions: number;
  clientId: string;
  batch: number;
  lingerMs: number;
  inFlight: number;
  /** Longest wait for outstanding acks when stopping; the rest is reported as not acknowledged. */
  flushTimeoutMs: number;
  quiet: boolean;
}

/** A bad command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function usage(): string {
  const section = (title: string, pick: (s: OptionSpec) => boolean): string => {
    const rows = Object.entries(CLI_OPTIONS as Record<string, OptionSpec>)
      .filter(([, s]) => pick(s))
      .map(([k, s]) => [`--${k}${s.arg ? ` ${s.arg}` : ''}`, s.help] as const);
    const w = Math.max(...rows.map(([f]) => f.length));
    return `${title}:\n${rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`).join('\n')}\n`;
  };
  return [
    'tickwire-feed: produce ticks to Kafka for the tickwire gateway',
    '',
    'Usage:',
    '  tickwire-feed sim [--rate 5000 | --max] [--seed 1] [--symbols BTC-USD,...] [--burstiness 0.5] [--no-books]',
    '                    [--duration SEC] [--count N] [common options]',
    '  tickwire-feed replay FILE [--speed 1] [--loop] [--keep-ts] [--duration SEC] [--count N] [common options]',
    '',
    'Records: key = the tickwire topic (trade.BTC-USD), value = one tick as a standard msgpack map',
    '(or JSON with --format json); one topic always lands in one partition, in order.',
    '',
    "sim runs the gateway's embedded market simulator and pacer at --rate ticks/s; each tick that",
    "changed its symbol's order book comes with a book record (key book.BTC-USD: a snapshot first and",
    'every 5 s, deltas with u/pu in between; docs/ingest.md, "Order books"; --no-books leaves them out);',
    '--count counts ticks.',
    '',
    'replay FILE reads .ndjson/.jsonl (one {"topic": "trade.BTC-USD", "ts": ..., "px": ...} per line)',
    'or .csv (header line with topic, ts and the tick fields; empty cells for fields a kind lacks);',
    'book records (book.*) are NDJSON only.',
    'Bad lines are reported with their line numbers and skipped. The recorded gaps between ticks are',
    "kept, divided by --speed, and ts is rewritten to the replay time (replay start + the tick's",
    'offset into the recording / speed; the send time at --speed 0) so that latency figures',
    'downstream make sense; --keep-ts publishes the recorded ts unchanged.',
    '',
    section('sim options', (s) => s.modes.length === 1 && s.modes[0] === 'sim').trimEnd(),
    '',
    section('replay options', (s) => s.modes.length === 1 && s.modes[0] === 'replay').trimEnd(),
    '',
    section('common options', (s) => s.modes.length === 2).trimEnd(),
    '',
    'A progress line (sent, acked, rate over the last second, errors) goes to stderr; at the end',
    '(limit reached, file done, or SIGINT/SIGTERM) everything pending is flushed, for at most',
    '--flush-timeout seconds (ticks still unacknowledged then are counted as not acknowledged),',
    'and a summary is printed to stdout; a signal while connecting to Kafka stops at once, and a',
    'second signal exits at once. Exit status: 0; 1 if any tick could not be delivered or was not',
    'acknowledged, or Kafka was unreachable; 2 for a bad command line.',
    '',
  ].join('\n');
}

/** Parses the command line (`argv` without node and the script). Throws UsageError. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = {}): { help: true } | { help: false; config: FeedConfig } {
  const parsed = (() => {
    try {
      return parseArgs({
        args: [...argv],
        options: { ...CLI_OPTIONS, help: { ...CLI_OPTIONS.help, short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();
  const v = parsed.values;
  if (v.help) return { help: true };

  const [mode, ...rest] = parsed.positionals;
  if (mode === undefined) throw new UsageError('missing command: sim or replay');
  if (mode !== 'sim' && mode !== 'replay') throw new UsageError(`unknown command ${JSON.stringify(mode)}: use sim or replay`);
  const file = mode === 'replay' ? rest.shift() : undefined;
  if (mode === 'replay' && file === undefined) throw new UsageError('replay needs a FILE (.ndjson, .jsonl or .csv)');
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  for (const k of Object.keys(v) as CliOption[]) {
    const spec: OptionSpec = CLI_OPTIONS[k];
    if (!spec.modes.includes(mode)) throw new UsageError(`--${k} applies to ${spec.modes.join(' and ')} only, not ${mode}`);
  }
  if (file !== undefined) {
    try {
      formatOf(file);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (v['create-topic'] && v['no-create-topic']) throw new UsageError('--create-topic and --no-create-topic contradict each other');
  if (v.max && v.rate !== undefined && num('rate', v.rate, 0) !== 0)
    throw new UsageError('--max and --rate contradict each other (--max is --rate 0)');

  const envTopic = env.TICKWIRE_KAFKA_TOPICS?.split(',')
    .map((s) => s.trim())
    .find((s) => s !== '');
  const brokers = (v.brokers ?? env.TICKWIRE_KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (brokers.length === 0) throw new UsageError('--brokers is empty');
  for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new UsageError(`--brokers: ${JSON.stringify(b)} is not host:port`);
  const topic = v.topic ?? envTopic ?? 'ticks';
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new UsageError(`--topic: ${JSON.stringify(topic)} is not a valid Kafka topic name`);

  const format = v.format ?? 'msgpack';
  if (format !== 'msgpack' && format !== 'json') throw new UsageError(`--format must be msgpack or json, got ${JSON.stringify(format)}`);
  const acksText = (v.acks ?? 'all').toLowerCase();
  const acks = acksText === 'all' ? -1 : Number(acksText);
  if (![-1, 0, 1].includes(acks)) throw new UsageError(`--acks must be all, -1, 1 or 0, got ${JSON.stringify(v.acks)}`);

  let symbols: SymbolSpec[];
  try {
    symbols = v.symbols === undefined ? DEFAULT_SYMBOLS.map((s) => ({ ...s })) : parseSymbols(v.symbols);
  } catch (e) {
    throw new UsageError(`--symbols: ${(e as Error).message}`);
  }
  const duration = v.duration === undefined ? undefined : num('duration', v.duration, 0, Infinity, { exclusiveMin: true });

  const config: FeedConfig = {
    mode,
    file,
    rate: v.max ? 0 : num('rate', v.rate ?? '5000', 0, 10_000_000),
    seed: int('seed', v.seed ?? '1', -(2 ** 31), 2 ** 32 - 1),
    symbols,
    burstiness: num('burstiness', v.burstiness ?? '0.5', 0, 1),
    books: !(v['no-books'] ?? false),
    speed: num('speed', v.speed ?? '1', 0, 1_000_000),
    loop: v.loop ?? false,
    keepTs: v['keep-ts'] ?? false,
    count: v.count === undefined ? undefined : int('count', v.count, 1, Number.MAX_SAFE_INTEGER),
    durationMs: duration === undefined ? undefined : duration * 1000,
    brokers,
    topic,
    format,
    acks,
    createTopic: !v['no-create-topic'],
    partitions: int('partitions', v.partitions ?? '8', 1, 100_000),
    clientId: v['client-id'] ?? 'tickwire-feed',
    batch: int('batch', v.batch ?? '1000', 1, 1_000_000),
    lingerMs: num('linger', v.linger ?? '5', 0, 60_000),
    inFlight: int('in-flight', v['in-flight'] ?? '4', 1, 1000),
    flushTimeoutMs: num('flush-timeout', v['flush-timeout'] ?? '5', 0, 3600) * 1000,
    quiet: v.quiet ?? false,
  };
  return { help: false, config };
}

function num(name: string, text: string, min: number, max = Infinity, o: { exclusiveMin?: boolean } = {}): number {
  const x = text.trim() === '' ? NaN : Number(text);
  const low = o.exclusiveMin ? x > min : x >= min;
  if (!Number.isFinite(x) || !low || x > max) {
    const range = `${o.exclusiveMin ? '>' : '>='} ${min}${max === Infinity ? '' : ` and <= ${max}`}`;
    throw new UsageError(`--${name} must be a number ${range}, got ${JSON.stringify(text)}`);
  }
  return x;
}

function int(name: string, text: string, min: number, max: number): number {
  const x = num(name, text, min, max);
  if (!Number.isInteger(x)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(text)}`);
  return x;
}

const NO_STATS: SinkStats = {
  pushed: 0,
  sent: 0,
  acked: 0,
  failed: 0,
  errors: 0,
  inFlight: 0,
  pending: 0,
  batches: 0,
  lastError: undefined,
};
/** Send failures printed one by one; later ones are only counted. */
const MAX_REPORTED_FAILURES = 10;
const MAX_REPORTED_BAD_LINES = 20;

/** Longest wait for the producer to disconnect when stopping (it may be stuck reconnecting). */
const DISCONNECT_TIMEOUT_MS = 2000;

const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer';

/**
 * The producer: idempotent whenever acks are "all" (kafkajs allows it only then), so that a send
 * retried after a lost response (a timeout on a busy machine or broker) is not written twice. Its
 * retries stay bounded like the client's, so a dead broker still fails sends (counted, reported,
 * exit 1) instead of retrying forever; kafkajs warns that this weakens exactly-once, which is
 * about sends that fail for good, which are reported anyway.
 */
export function producerConfig(cfg: Pick<FeedConfig, 'acks'>): ProducerConfig {
  const idempotent = cfg.acks === -1;
  return {
    allowAutoTopicCreation: false,
    createPartitioner: explicitPartitioner,
    idempotent,
    ...(idempotent ? { retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 } } : {}),
  };
}

export interface MainIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs the command; resolves to the exit status. `signal` stops producing (then flush + summary). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, signal?: AbortSignal, io: MainIo = process): Promise<number> {
  let cfg: FeedConfig;
  try {
    const r = parseCli(argv, env);
    if (r.help) {
      io.stdout.write(usage());
      return 0;
    }
    cfg = r.config;
    if (cfg.file !== undefined) accessSync(cfg.file, constants.R_OK);
  } catch (e) {
    io.stderr.write(`tickwire-feed: ${(e as Error).message}\n${e instanceof UsageError ? 'Run tickwire-feed --help for usage.\n' : ''}`);
    return 2;
  }

  let sink: KafkaSink | undefined;
  const progress = new Progress({ stream: io.stderr, stats: () => sink?.stats() ?? NO_STATS, enabled: !cfg.quiet });
  const note = (msg: string): void => {
    if (!cfg.quiet) progress.say(`tickwire-feed: ${msg}`);
  };
  const fail = (msg: string): void => progress.say(`tickwire-feed: ${msg}`);

  const logCreator: logCreator =
    () =>
    ({ label, log }) => {
      const { message, error } = log as { message: string; error?: string };
      if (message.startsWith(BOUNDED_RETRIES_WARNING)) return; // chosen: see producerConfig
      fail(`kafkajs ${label}: ${message}${error && error !== message ? `: ${error}` : ''}`);
    };
  const kafka = new Kafka({
    clientId: cfg.clientId,
    brokers: cfg.brokers,
    logLevel: cfg.quiet ? kafkaLogLevel.ERROR : kafkaLogLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });

  const producer = kafka.producer(producerConfig(cfg));
  let partitions: number;
  try {
    // kafkajs retries an unreachable broker for tens of seconds: a signal must not wait for that.
    const r = await unlessAborted(
      ensureTopic(kafka, cfg, note).then(async (n) => (await producer.connect(), n)),
      signal,
    );
    if (r === ABORTED) {
      fail(`interrupted while connecting to Kafka at ${cfg.brokers.join(',')}: nothing was sent (0 ticks not acknowledged)`);
      await within(
        producer.disconnect().catch(() => {}),
        DISCONNECT_TIMEOUT_MS,
      );
      return 1;
    }
    partitions = r;
  } catch (e) {
    fail(`cannot use Kafka topic ${cfg.topic} at ${cfg.brokers.join(',')}: ${(e as Error).message}`);
    await within(
      producer.disconnect().catch(() => {}),
      DISCONNECT_TIMEOUT_MS,
    );
    return 1;
  }

  let failures = 0;
  sink = new KafkaSink({
    producer,
    topic: cfg.topic,
    partitions,
    format: cfg.format,
    acks: cfg.acks,
    maxBatch: cfg.batch,
    lingerMs: cfg.lingerMs,
    maxInFlight: cfg.inFlight,
    onError: (err, n) => {
      if (++failures <= MAX_REPORTED_FAILURES) fail(`send of ${n} ticks failed: ${err.message}`);
      if (failures === MAX_REPORTED_FAILURES) fail('further send failures are only counted');
    },
  });

  const what =
    cfg.mode === 'sim'
      ? `sim at ${cfg.rate === 0 ? 'max rate' : `${cfg.rate} ticks/s`}`
      : `replay of ${cfg.file} at ${cfg.speed === 0 ? 'max speed' : `speed ${cfg.speed}`}`;
  note(`${what} -> Kafka topic ${cfg.topic} at ${cfg.brokers.join(',')} (${cfg.format})`);
  progress.start();
  const t0 = performance.now();
  const why: Record<StopReason, string> = {
    count: 'count reached',
    duration: 'duration reached',
    signal: 'interrupted',
    end: 'end of file',
    empty: 'no valid ticks',
  };
  let stopped: string;
  let extra: [string, string | number][] = [];
  let broken = false; // the run itself failed: exit 1 even if every send succeeded
  try {
    if (cfg.mode === 'sim') {
      const simulator = new MarketSimulator({ seed: cfg.seed, symbols: cfg.symbols, books: cfg.books });
      const reason = await runSim({
        simulator,
        target: sink,
        rate: cfg.rate,
        burstiness: cfg.burstiness,
        seed: cfg.seed,
        count: cfg.count,
        durationMs: cfg.durationMs,
        signal,
      });
      stopped = why[reason];
    } else {
      let bad = 0;
      const r = await runReplay({
        path: cfg.file!,
        target: sink,
        speed: cfg.speed,
        loop: cfg.loop,
        keepTs: cfg.keepTs,
        count: cfg.count,
        durationMs: cfg.durationMs,
        signal,
        onBadLine: (e) => {
          if (++bad <= MAX_REPORTED_BAD_LINES) fail(`${cfg.file}:${e.line}: ${e.error} (skipped)`);
          if (bad === MAX_REPORTED_BAD_LINES) fail('further bad lines are only counted');
        },
      });
      stopped = why[r.reason];
      broken = r.reason === 'empty';
      if (broken) fail(`${cfg.file} has no valid ticks`);
      extra = [
        ['ticks read', r.ticks],
        ['bad lines', r.badLines],
        ['passes', r.passes],
      ];
    }
  } catch (e) {
    fail(`stopped by an error: ${(e as Error).message}`);
    stopped = 'error';
    broken = true;
  }
  // Bounded: with the broker gone, sends retry for long and the feed would never stop.
  const flush = await flushWithin(sink, cfg.flushTimeoutMs);
  const elapsedMs = performance.now() - t0;
  progress.stop();
  if (!flush.flushed) {
    fail(`Kafka did not acknowledge ${flush.unacked} ticks within --flush-timeout ${cfg.flushTimeoutMs / 1000} s; giving up on them`);
  }
  const closed = await within(
    sink.close().catch((e: unknown) => fail(`disconnect: ${(e as Error).message}`)),
    DISCONNECT_TIMEOUT_MS,
  );
  if (closed === TIMED_OUT) fail('disconnect from Kafka timed out');
  const stats = sink.stats();
  // Acks may still have come in while disconnecting: count from the final figures.
  const unacked = unacknowledged(stats);
  if (!flush.flushed) extra = [...extra, ['not acknowledged', unacked]];
  io.stdout.write(summaryText({ mode: cfg.mode, reason: stopped, stats, elapsedMs, extra }));
  return stats.failed > 0 || unacked > 0 || broken ? 1 : 0;
}

/** Creates the topic if it is missing (and allowed to); returns its number of partitions. */
async function ensureTopic(kafka: Kafka, cfg: FeedConfig, note: (msg: string) => void): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(cfg.topic)) {
      if (!cfg.createTopic) throw new Error(`topic ${cfg.topic} does not exist (drop --no-create-topic to create it)`);
      await admin.createTopics({ topics: [{ topic: cfg.topic, numPartitions: cfg.partitions }], waitForLeaders: true });
      note(`created Kafka topic ${cfg.topic} with ${cfg.partitions} partitions`);
    }
    const meta = await admin.fetchTopicMetadata({ topics: [cfg.topic] });
    const n = meta.topics[0]?.partitions.length ?? 0;
    if (n < 1) throw new Error(`topic ${cfg.topic} has no partitions in the broker metadata`);
    return n;
  } finally {
    await admin.disconnect();
  }
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    // The first signal stops producing and flushes; a second one means "now".
    if (++signals > 1) {
      process.stderr.write(`\ntickwire-feed: ${sig} again, exiting without flushing\n`);
      process.exit(130);
    }
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2), process.env, ac.signal).then(
    (code) => {
      process.exitCode = code;
      // Normally nothing is left running; don't let a stray handle keep the process alive. After a
      // signal kafkajs may still be retrying a gone broker: the summary is out, so exit now.
      setTimeout(() => process.exit(code), ac.signal.aborted ? 0 : 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`tickwire-feed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
