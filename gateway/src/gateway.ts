import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { Hub } from './hub/hub.js';
import { Metrics } from './metrics.js';
import { CODECS } from './protocol/codec.js';
import { EmbeddedSource } from './sources/embedded.js';
import { defaultInstanceId, KafkaSource, type IngestStats } from './sources/kafka.js';
import type { Source, TickSink } from './sources/source.js';
import { httpRoutes } from './transport/http.js';
import { builtWebDir } from './transport/static.js';
import { UwsTransport, type AuthSetup, type Conn } from './transport/uws.js';
import { compilePatterns, patternList } from './auth/identity.js';
import { createVerifier } from './auth/jwt.js';
import type { Payload } from './protocol/ticks.js';
import { uwsIsNative } from './transport/uws-native.js';

export interface Gateway {
  readonly port: number;
  readonly epoch: string;
  readonly hub: Hub<Conn>;
  readonly metrics: Metrics;
  readonly uwsNative: boolean;
  /** Graceful stop: source first (no new ticks), then a last flush, then clients get 1001. */
  stop(): Promise<void>;
}

/** A new epoch per run: sequence numbers restart at 1, and clients can tell a restart apart. */
export function newEpoch(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function createSource(cfg: Config, ingest: IngestStats, log: Logger, epoch: string): Source {
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
        },
        ingest,
        log.child({ source: 'kafka' }),
      );
  }
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Wires source → hub → transport and starts the two loops that drive them: the flush loop
 * (hub batches → frames on sockets) and the heartbeat.
 */
export async function startGateway(cfg: Config, log: Logger, sourceOverride?: Source): Promise<Gateway> {
  const uwsNative = uwsIsNative();
  if (!uwsNative) log.error('uWebSockets.js is running its pure-JS fallback: the native binary did not load; throughput will be a fraction of normal');

  const epoch = newEpoch();
  // A client resuming another instance's position waits at most as long as this instance may go
  // without a fetch before it calls itself not ready: a live instance reaches the position by then.
  const hub = new Hub<Conn>({ epoch, codecs: CODECS, maxTicksPerFrame: cfg.maxTicksPerFrame, historySize: cfg.historySize, historyMaxAgeMs: cfg.historyMaxAgeSec * 1000, positionWaitMs: cfg.kafkaStaleMs });
  let transport: UwsTransport | undefined;
  const metrics = new Metrics({
    hub: hub.stats,
    connections: () => transport?.connectionCount ?? 0,
    subscriptions: () => hub.subscriptions,
    topics: () => hub.topicCount,
    ready: (): boolean => source.live,
    uwsNative,
  });
  const source: Source = sourceOverride ?? createSource(cfg, metrics.ingest, log, epoch);
  const auth: AuthSetup = {
    verifier: cfg.authMode === 'jwt' ? createVerifier(cfg) : undefined,
    anonymous: cfg.authMode === 'jwt' && cfg.anonymousTopics ? compilePatterns(patternList(cfg.anonymousTopics)) : undefined,
  };
  // The admin publish endpoint is a second, small source: it feeds the hub through the same sink.
  const publish = (topic: string, data: Payload) => flushLoop.sink.publish(topic, data);
  const routes = httpRoutes({
    ready: () => source.live,
    topics: () => hub.topicInfo(),
    web: builtWebDir(),
    ...(cfg.exposeMetrics ? { metrics: metrics.registry, metricsToken: cfg.metricsPublic ? undefined : cfg.adminToken } : {}),
    ...(cfg.adminToken ? { admin: { token: cfg.adminToken, publish } } : {}),
  });
  transport = new UwsTransport(cfg, hub, metrics, log, auth, routes);
  const t = transport;
  const port = await t.listen();

  const flushLoop = startFlushLoop(cfg.flushIntervalMs, hub, () => t.flush());
  const hbTimer = setInterval(() => t.heartbeat(Date.now()), cfg.heartbeatIntervalMs);
  await source.start(flushLoop.sink);
  log.info({ port, epoch, source: source.name, uwsNative }, `tickwire listening on ws://127.0.0.1:${port}/v1`);

  let stopping: Promise<void> | undefined;
  return {
    port,
    epoch,
    hub,
    metrics,
    uwsNative,
    stop() {
      stopping ??= (async () => {
        await source.stop();
        t.flush();
        flushLoop.stop();
        clearInterval(hbTimer);
        await t.shutdown(cfg.shutdownGraceMs, cfg.shutdownNoticeMs);
        log.info('tickwire stopped');
      })();
      return stopping;
    },
  };
}

/**
 * Calls `flush` every `intervalMs`. With 0, flushes once per event-loop turn in which ticks
 * arrived: the first tick of a turn schedules a setImmediate, so everything that arrived in that
 * turn (one Kafka batch, one simulator interval) still shares a frame.
 */
function startFlushLoop(intervalMs: number, hub: Hub<Conn>, flush: () => void): { sink: TickSink; stop(): void } {
  if (intervalMs > 0) {
    const timer = setInterval(flush, intervalMs);
    return { sink: hub, stop: () => clearInterval(timer) };
  }
  let scheduled = false;
  let stopped = false;
  const run = (): void => {
    scheduled = false;
    if (!stopped) flush();
  };
  const sink: TickSink = {
    publish(topic, tick, src, off) {
      hub.publish(topic, tick, src, off);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    },
  };
  return { sink, stop: () => (stopped = true) };
}
