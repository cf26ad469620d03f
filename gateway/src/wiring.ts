import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { Failures } from './failures.js';
import type { HubOptions } from './hub/hub.js';
import { payloadLimits } from './protocol/payload.js';
import { CODECS } from './protocol/codec.js';
import { EmbeddedSource } from './sources/embedded.js';
import { defaultInstanceId, KafkaSource, type IngestStats } from './sources/kafka.js';
import type { Source, TickSink } from './sources/source.js';

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
      return new EmbeddedSource({ rate: cfg.feedRate, seed: cfg.feedSeed, symbols: cfg.feedSymbols, burstiness: cfg.feedBurstiness });
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
          instanceId: defaultInstanceId(epoch),
          payloadLimits: payloadLimits(cfg),
        },
        ingest,
        log.child({ source: 'kafka' }),
        failures,
      );
  }
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function hubOptions(cfg: Config, epoch: string): HubOptions {
  // A client resuming another instance's position waits at most as long as this instance may go
  // without a fetch before it calls itself not ready: a live instance reaches the position by then.
  return { epoch, codecs: CODECS, maxTicksPerFrame: cfg.maxTicksPerFrame, historySize: cfg.historySize, historyMaxAgeMs: cfg.historyMaxAgeSec * 1000, positionWaitMs: cfg.kafkaStaleMs };
}

/**
 * Calls `flush` every `intervalMs`. With 0, flushes once per event-loop turn in which ticks
 * arrived: the first tick of a turn schedules a setImmediate, so everything that arrived in that
 * turn (one Kafka batch, one simulator interval) still shares a frame.
 */
export function startFlushLoop(intervalMs: number, target: TickSink, flush: () => void): { sink: TickSink; stop(): void } {
  if (intervalMs > 0) {
    const timer = setInterval(flush, intervalMs);
    return { sink: target, stop: () => clearInterval(timer) };
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
  };
  return { sink, stop: () => (stopped = true) };
}
