import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { workerCount, type Config } from './config/schema.js';
import type { Failures } from './failures.js';
import type { HubOptions } from './hub/hub.js';
import { payloadLimits } from '../../protocol/src/payload.js';
import { CODECS, type WireCodec } from './codecs.js';
import { EmbeddedSource } from './sources/embedded.js';
import { defaultInstanceId, KafkaSource, type IngestStats } from './sources/kafka.js';
import type { Source, TickSink } from './sources/source.js';
import { BookEngine } from './books/engine.js';
import { semanticsOf, type KindSemantics } from '../../protocol/src/kinds.js';
import { DEFAULT_BOOK_UNITS, type BookUnits } from '../../protocol/src/book.js';
import type { SymbolDirectory } from './symbols/directory.js';
import { parseTopic } from '../../protocol/src/topics.js';
import { CandleEngine } from './candles/engine.js';
import { CandleHistory, parseRetention } from './candles/history.js';
import { KafkaCandleLog } from './candles/kafka.js';
import { candleSink } from './candles/sink.js';
import type { CandleStats } from './metrics.js';

/*
 * The parts that both the single-thread gateway (gateway.ts) and the primary thread of a
 * multi-worker one (cluster/primary.ts) assemble.
 */

/** A new epoch per run: sequence numbers restart at 1, and clients can tell a restart apart. */
export function newEpoch(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function createSource(cfg: Config, ingest: IngestStats, log: Logger, epoch: string, failures?: Failures): Source {
  switch (cfg.source) {
    case 'embedded':
      return new EmbeddedSource({
        rate: cfg.feedRate,
        seed: cfg.feedSeed,
        symbols: cfg.feedSymbols,
        burstiness: cfg.feedBurstiness,
        books: cfg.feedBooks,
      });
    case 'kafka':
      return new KafkaSource(
        {
          brokers: list(cfg.kafkaBrokers),
          topics: list(cfg.kafkaTopics),
          clientId: cfg.kafkaClientId,
          groupPrefix: cfg.kafkaGroupPrefix,
          warmStartSec: cfg.kafkaWarmStartSec,
          warmStartMaxRecords: cfg.kafkaWarmStartMaxRecords,
          maxRecordBytes: cfg.kafkaMaxRecordBytes,
          staleMs: cfg.kafkaStaleMs,
          retryMaxMs: cfg.kafkaRetryMaxMs,
          metadataRefreshMs: cfg.kafkaMetadataRefreshMs,
          instanceId: defaultInstanceId(epoch),
          payloadLimits: payloadLimits(cfg),
        },
        ingest,
        log.child({ source: 'kafka' }),
        failures,
      );
  }
}

/**
 * The order-book engine in front of `target` (books/engine.ts): the sink the source and the admin
 * publish endpoint feed, once per process, on the thread that owns the source. Checksums are in
 * the units of the symbol directory, when there is one and it knows the symbol.
 */
export function bookEngine(cfg: Config, target: TickSink, ingest: IngestStats, log: Logger, symbols?: SymbolDirectory): BookEngine {
  return new BookEngine(target, {
    maxDepth: cfg.bookMaxDepth,
    units: (symbol) => {
      const info = symbols?.get(symbol);
      return info && { tick: info.tickSize, lot: info.lotSize };
    },
    stats: ingest,
    log: log.child({ component: 'books' }),
  });
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** `codecs`: the hub's codec list (directoryCodecs() where a symbol directory gives the compact codec its units). */
export function hubOptions(cfg: Config, epoch: string, codecs: readonly WireCodec[] = CODECS): HubOptions {
  const waiting = { perConnection: cfg.maxWaitingPerConnection, perIp: cfg.maxWaitingPerIp, total: cfg.maxWaitingTotal };
  // A client resuming another instance's position waits at most as long as this instance may go
  // without a fetch before it calls itself not ready: a live instance reaches the position by then.
  // With workers every worker's replica hub holds the history, and so does the main thread's hub (it
  // seeds restarted workers): the budget is per gateway, so each copy gets its share.
  const workers = workerCount(cfg);
  const copies = workers > 1 ? workers + 1 : 1;
  return {
    epoch,
    codecs,
    maxTicksPerFrame: cfg.maxTicksPerFrame,
    historyMinWindowMs: cfg.historyMinWindowSec * 1000,
    historyBudgetBytes: Math.floor(cfg.historyBudgetBytes / copies),
    historyMaxAgeMs: cfg.historyMaxAgeSec * 1000,
    positionWaitMs: cfg.kafkaStaleMs,
    waiting,
    semantics: kindSemantics,
  };
}

/** The hub's per-topic semantics, from the topic-kind registry (a topic's kind decides them). */
export function kindSemantics(topic: string): KindSemantics {
  const parsed = parseTopic(topic);
  // The hub only ever sees valid topics (sources validate); a name that is none is kept as a plain value.
  return parsed ? semanticsOf(parsed.kind) : { snapshot: 'last', throttle: 'latest' };
}

/**
 * The hub's order-book units (HubOptions.unitsOf) from the symbol directory's tick and lot sizes,
 * DEFAULT_BOOK_UNITS for a symbol it does not know (or without a directory). The directory is read
 * at each call: it is created after the hub, and learns symbols as its source delivers them.
 */
export function unitsFrom(directory: () => SymbolDirectory | undefined): (symbol: string) => BookUnits {
  return (symbol) => {
    const info = directory()?.get(symbol);
    return info !== undefined && info.tickSize > 0 && info.lotSize > 0 ? { tick: info.tickSize, lot: info.lotSize } : DEFAULT_BOOK_UNITS;
  };
}

/**
 * Calls `flush` every `intervalMs`. With 0, flushes once per event-loop turn in which ticks
 * arrived: the first tick of a turn schedules a setImmediate, so everything that arrived in that
 * turn (one Kafka batch, one simulator interval) still shares a frame. `beforeFlush` runs just
 * before each flush (the candle engine publishes the candles that changed); `wake` asks for a
 * flush when something other than a tick has to go out (a candle closed by the clock).
 *
 * An upstream reset is passed on between two flushes: ticks of the old upstream go out as upd
 * before it, and the resync snaps it causes go out before any tick of the new upstream.
 */
export function startFlushLoop(
  intervalMs: number,
  target: TickSink,
  flush: () => void,
  beforeFlush?: () => void,
): { sink: TickSink; stop(): void; wake(): void } {
  const flushAll = beforeFlush ? () => (beforeFlush(), flush()) : flush;
  const reset = target.upstreamReset?.bind(target);
  const upstreamReset = reset && ((topics: readonly string[]) => (flushAll(), reset(topics), flushAll()));
  if (intervalMs > 0) {
    const timer = setInterval(flushAll, intervalMs);
    const publish: TickSink['publish'] = (topic, tick, src, off) => target.publish(topic, tick, src, off);
    const sink: TickSink = upstreamReset ? { publish, upstreamReset } : target;
    return { sink, stop: () => clearInterval(timer), wake: () => undefined };
  }
  let scheduled = false;
  let stopped = false;
  const run = (): void => {
    scheduled = false;
    if (!stopped) flushAll();
  };
  const wake = (): void => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(run);
    }
  };
  const sink: TickSink = {
    publish(topic, tick, src, off) {
      target.publish(topic, tick, src, off);
      wake();
    },
    upstreamReset,
  };
  return { sink, stop: () => (stopped = true), wake };
}

/** How often the clock checks whether a candle bucket passed its grace or stats are due. */
const CANDLE_CLOCK_MS = 250;
/** How long startup waits for the candle topic to be read to its end. */
const CANDLE_CATCH_UP_MS = 10_000;

/** The candle engine, its history and (Kafka mode) its topic, as one gateway part. */
export interface Candles {
  readonly engine: CandleEngine;
  readonly history: CandleHistory;
  /** The source's sink with the engine in front of it. */
  sink(target: TickSink): TickSink;
  /** Reads back the candle topic (Kafka mode; at most a few seconds, then serves what it has). */
  start(): Promise<void>;
  /** Runs the clock that wakes `flushLoop` when a bucket passed its grace or stats are due. */
  runClock(flushLoop: { wake(): void }): void;
  /** The flush loop's `beforeFlush`: publishes the changed candles and due stats into `target` (the hub or the sequencer). */
  beforeFlush(target: TickSink): () => void;
  stop(): Promise<void>;
}

/**
 * Candles and stats (candles/): fed by every trade the source delivers, published into the hub
 * just before each flush. History is in memory; with the Kafka source and a candleTopic it is
 * also written to and read back from that topic.
 */
export function createCandles(cfg: Config, stats: CandleStats, log: Logger, kafka: boolean): Candles {
  const retention = parseRetention(cfg.candleRetention);
  // The schema refused a bad value already.
  if (typeof retention === 'string') throw new Error(`candleRetention: ${retention}`);
  const history = new CandleHistory(retention);
  const topicLog =
    kafka && cfg.candleTopic
      ? new KafkaCandleLog(
          { brokers: list(cfg.kafkaBrokers), clientId: cfg.kafkaClientId, topic: cfg.candleTopic, catchUpMs: CANDLE_CATCH_UP_MS },
          history,
          stats,
          log.child({ part: 'candles' }),
        )
      : undefined;
  const engine = new CandleEngine({
    graceMs: cfg.candleGraceMs,
    // The embedded feed starts with the gateway; a Kafka source may join the stream midway through a bucket.
    firstBucketComplete: !kafka,
    late: stats.late,
    onClosed(c) {
      if (!c.complete) return;
      history.put(c.topic, c.interval, c.candle);
      topicLog?.write(c);
    },
  });
  let clock: NodeJS.Timeout | undefined;
  return {
    engine,
    history,
    sink: (target) => candleSink(target, engine),
    async start() {
      await topicLog?.start();
    },
    runClock(flushLoop) {
      clock = setInterval(() => {
        if (engine.due(Date.now())) flushLoop.wake();
      }, CANDLE_CLOCK_MS);
    },
    beforeFlush: (target) => () => engine.drain(Date.now(), (topic, tick) => target.publish(topic, tick)),
    async stop() {
      clearInterval(clock);
      await topicLog?.stop();
    },
  };
}
