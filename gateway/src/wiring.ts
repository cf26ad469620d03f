import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { workerCount, type Config } from './config/schema.js';
import type { Failures } from './failures.js';
import type { HubOptions } from './hub/hub.js';
import { payloadLimits } from '../../protocol/src/payload.js';
import { CODECS } from './codecs.js';
import { EmbeddedSource } from './sources/embedded.js';
import { defaultInstanceId, KafkaSource, type IngestStats } from './sources/kafka.js';
import type { Source, TickSink } from './sources/source.js';
import { BookEngine } from './books/engine.js';
import type { SymbolDirectory } from './symbols/directory.js';
import { semanticsOf, type KindSemantics } from '../../protocol/src/kinds.js';
import { parseTopic } from '../../protocol/src/topics.js';

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

export function hubOptions(cfg: Config, epoch: string): HubOptions {
  const waiting = { perConnection: cfg.maxWaitingPerConnection, perIp: cfg.maxWaitingPerIp, total: cfg.maxWaitingTotal };
  // A client resuming another instance's position waits at most as long as this instance may go
  // without a fetch before it calls itself not ready: a live instance reaches the position by then.
  // With workers every worker's replica hub holds the history, and so does the main thread's hub (it
  // seeds restarted workers): the budget is per gateway, so each copy gets its share.
  const workers = workerCount(cfg);
  const copies = workers > 1 ? workers + 1 : 1;
  return {
    epoch,
    codecs: CODECS,
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
 * Calls `flush` every `intervalMs`. With 0, flushes once per event-loop turn in which ticks
 * arrived: the first tick of a turn schedules a setImmediate, so everything that arrived in that
 * turn (one Kafka batch, one simulator interval) still shares a frame.
 *
 * An upstream reset is passed on between two flushes: ticks of the old upstream go out as upd
 * before it, and the resync snaps it causes go out before any tick of the new upstream.
 */
export function startFlushLoop(intervalMs: number, target: TickSink, flush: () => void): { sink: TickSink; stop(): void } {
  const reset = target.upstreamReset?.bind(target);
  const upstreamReset = reset && ((topics: readonly string[]) => (flush(), reset(topics), flush()));
  if (intervalMs > 0) {
    const timer = setInterval(flush, intervalMs);
    const publish: TickSink['publish'] = (topic, tick, src, off) => target.publish(topic, tick, src, off);
    const sink: TickSink = upstreamReset ? { publish, upstreamReset } : target;
    return { sink, stop: () => clearInterval(timer) };
  }
  let scheduled = false;
  let stopped = false;
  const run = (): void => {
    scheduled = false;
    if (!stopped) flush();
  };
  const sink: TickSink = {
    publish(topic, tick, src, off) {
      target.publish(topic, tick, src, off);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    },
    upstreamReset,
  };
  return { sink, stop: () => (stopped = true) };
}
