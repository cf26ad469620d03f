import type { Logger } from 'pino';
import { claimPort, listenDescription } from './bind.js';
import { workerCount, type Config } from './config/schema.js';
import { startCluster } from './cluster/primary.js';
import { startEdge, type Edge } from './edge.js';
import { Hub } from './hub/hub.js';
import { Metrics } from './metrics.js';
import type { Source } from './sources/source.js';
import { bookEngine, createCandles, createSource, hubOptions, newEpoch, startFlushLoop, unitsFrom } from './wiring.js';
import type { Subscriber } from './transport/uws.js';
import type { Payload } from '../../protocol/src/ticks.js';
import { uwsIsNative } from './transport/uws-native.js';
import { createDirectory, stopDirectory } from './symbols/create.js';
import type { SymbolDirectory } from './symbols/directory.js';
import { directoryCodecs } from './codecs.js';
import type { Gateway } from './gateway-handle.js';

export type { ClusterControl, Gateway } from './gateway-handle.js';

/**
 * Wires source → hub → transport and starts the two loops that drive them: the flush loop
 * (hub batches → frames on sockets) and the heartbeat. With `workers` above 1 the transport
 * runs in worker threads instead (cluster/primary.ts).
 */
export async function startGateway(cfg: Config, log: Logger, sourceOverride?: Source): Promise<Gateway> {
  if (workerCount(cfg) > 1) return startCluster(cfg, log, sourceOverride);
  const uwsNative = uwsIsNative();
  if (!uwsNative)
    log.error('uWebSockets.js is running its pure-JS fallback: the native binary did not load; throughput will be a fraction of normal');

  const epoch = newEpoch();
  let symbols: SymbolDirectory | undefined;
  const codecs = directoryCodecs(() => symbols);
  const hub = new Hub<Subscriber>({
    ...hubOptions(cfg, epoch, codecs),
    unitsOf: unitsFrom(() => symbols),
    onFlushError: (err, topic) => metrics.failures.record('flush', err, { topic }),
  });
  let edge: Edge | undefined;
  const metrics = new Metrics({
    hub: hub.stats,
    history: hub,
    connections: () => edge?.transport.connectionCount ?? 0,
    sseConnections: () => edge?.transport.sseCount ?? 0,
    subscriptions: () => hub.subscriptions,
    topics: () => hub.topicCount,
    ready: (): boolean => source.live,
    uwsNative,
  });
  metrics.failures.logTo(log);
  const source: Source = sourceOverride ?? createSource(cfg, metrics.ingest, log, epoch, metrics.failures);
  // The admin publish endpoint is a second, small source: it feeds the hub through the same sink.
  const publish = (topic: string, data: Payload) => books.publish(topic, data);
  const candles = createCandles(cfg, metrics.candles, log, (sourceOverride?.name ?? cfg.source) === 'kafka');
  await claimPort(cfg.host, cfg.port);
  // The feed's own symbols are the directory only when this gateway runs that feed (not a test's source).
  symbols = await createDirectory(cfg, !sourceOverride && cfg.source === 'embedded', log);
  // History is read back (Kafka mode) before /v1/candles serves it.
  await candles.start();
  edge = await startEdge(cfg, log, { hub, metrics, ready: () => source.live, publish, symbols, candles: candles.history });
  const t = edge.transport;
  const drainCandles = candles.beforeFlush(hub);
  const flushLoop = startFlushLoop(
    cfg.flushIntervalMs,
    hub,
    () => metrics.failures.guard('flush', () => t.flush()),
    () => metrics.failures.guard('flush', drainCandles),
  );
  candles.runClock(flushLoop);
  // The ingest chain: source → book engine (records → change sets) → candle engine (taps trades) → hub.
  const books = bookEngine(cfg, candles.sink(flushLoop.sink), metrics.ingest, log, symbols);
  await source.start(books);
  const port = edge.port;
  log.info(
    { port, epoch, host: cfg.host, source: source.name, uwsNative },
    `tickwire ${listenDescription(cfg.host, port, cfg.tlsCertFile !== '')}`,
  );

  let stopping: Promise<void> | undefined;
  const e = edge;
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
        await candles.stop();
        await e.stop();
        await stopDirectory(symbols);
        log.info('tickwire stopped');
      })();
      return stopping;
    },
    async abort() {
      flushLoop.stop();
      void candles.stop();
      e.abort();
      void stopDirectory(symbols);
    },
  };
}
