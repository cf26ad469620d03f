import { createServer } from 'node:net';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { claimPort, listenDescription } from '../bind.js';
import { workerCount, type Config } from '../config/schema.js';
import type { Gateway } from '../gateway-handle.js';
import { Hub } from '../hub/hub.js';
import { Metrics } from '../metrics.js';
import type { Source, TickSink } from '../sources/source.js';
import type { Subscriber } from '../transport/uws.js';
import { SharedSlots } from '../transport/slots.js';
import { uwsIsNative } from '../transport/uws-native.js';
import { bookEngine, createCandles, createSource, hubOptions, newEpoch, startFlushLoop } from '../wiring.js';
import { createDirectory, stopDirectory } from '../symbols/create.js';
import { encodeShared, type SequencedTick } from './handoff.js';
import type { MetricsJson, ToPrimary, ToWorker } from './messages.js';
import { aggregateMetrics } from './metrics.js';
import { WorkerPool } from './pool.js';
import { Requests } from './requests.js';
import { SHUTDOWN_SLACK_MS } from '../shutdown.js';

/** What a test or an operator tool can do with the worker threads of a running gateway. */
/** How long a worker's /metrics waits for the other workers' registries. */
const COLLECT_TIMEOUT_MS = 2_000;
/** How often the source's liveness is copied to the workers' /readyz. */
const READY_POLL_MS = 50;
/** How long an abort waits for the workers to cut their sockets and end. */
const ABORT_WAIT_MS = 900;

/**
 * workers > 1. This thread runs the source and the sequencing hub (no subscribers: it gives each
 * tick its seq, keeps last values and history) and hands each flush interval's ticks, encoded
 * once, to every worker thread; each worker runs a uWS app on the shared port with a replica
 * hub that takes the seqs as given (cluster/worker.ts).
 */
export async function startCluster(cfg: Config, log: Logger, sourceOverride?: Source): Promise<Gateway> {
  const size = workerCount(cfg);
  const uwsNative = uwsIsNative();
  const epoch = newEpoch();
  // No unitsOf: this hub serves no snap; the books it folds reach the workers as levels, and each
  // worker computes checksums in its own directory's units.
  const hub = new Hub<Subscriber>({
    ...hubOptions(cfg, epoch),
    onFlushError: (err, topic) => metrics.failures.record('flush', err, { topic }),
  });
  const metrics = new Metrics(
    {
      hub: hub.stats,
      history: hub,
      connections: () => 0,
      sseConnections: () => 0,
      subscriptions: () => 0,
      topics: () => hub.topicCount,
      ready: () => source.live,
      uwsNative,
      pool: { running: () => pool.running.length, restarts: () => pool.restarts },
    },
    'primary',
  );
  metrics.failures.logTo(log);
  const failures = metrics.failures;
  const source: Source = sourceOverride ?? createSource(cfg, metrics.ingest, log, epoch, failures);
  const embeddedFeed = !sourceOverride && cfg.source === 'embedded';
  // uSockets sets SO_REUSEPORT only for an explicit port: every worker must be given the same one.
  // Workers share the port among themselves only: another process holding it stops startup.
  await claimPort(cfg.host, cfg.port);
  const port = cfg.port || (await freePort(cfg.host));
  const connectionSlots = SharedSlots.cells(size);
  const ready = new Int32Array(new SharedArrayBuffer(4));

  let batch: SequencedTick[] = [];
  const sequencer: TickSink = {
    publish(topic, tick, src, off) {
      const seq = hub.publish(topic, tick, src, off);
      batch.push(src !== undefined && off !== undefined ? [topic, seq, tick, src, off] : [topic, seq, tick]);
    },
    // The flush loop flushed just before (startFlushLoop): workers get the reset after every batch it follows.
    upstreamReset(topics) {
      hub.upstreamReset(topics);
      pool.broadcast({ t: 'reset', topics: [...topics] });
    },
  };
  const flush = (): void => {
    // The hub's clock ages history for resume; it has no subscribers, so nothing is delivered.
    failures.guard('flush', () => hub.flush(() => undefined, Date.now()));
    if (batch.length === 0) return;
    const ticks = batch;
    batch = [];
    // A batch that cannot be encoded is dropped: the workers see the seq gap and resync those topics.
    const bytes = failures.guard('handoff', () => encodeShared(ticks), { ticks: ticks.length });
    if (bytes) pool.broadcast({ t: 'batch', bytes });
  };
  // Candles are computed here, on the one sequenced stream, and reach the workers as ticks; the
  // workers answer GET /v1/candles by asking this thread's history ('candles?').
  const candles = createCandles(cfg, metrics.candles, log, (sourceOverride?.name ?? cfg.source) === 'kafka');
  const drainCandles = candles.beforeFlush(sequencer);
  const flushLoop = startFlushLoop(cfg.flushIntervalMs, sequencer, flush, () => failures.guard('flush', drainCandles));
  // The book engine runs here, once, before sequencing; the directory gives it the checksum units.
  const symbols = await createDirectory(cfg, embeddedFeed, log);
  const books = bookEngine(cfg, candles.sink(flushLoop.sink), metrics.ingest, log, symbols);

  const collects = new Requests<MetricsJson>();
  const onMessage = (from: Worker, m: ToPrimary): void => {
    switch (m.t) {
      case 'publish':
        return void failures.guard('publish', () => books.publish(m.topic, m.data), { topic: m.topic });
      case 'collected':
        return collects.answer(m.id, m.metrics);
      case 'candles?':
        return from.postMessage({ t: 'candles', id: m.id, candles: candles.history.query(m.topic, m.limit, m.before) } satisfies ToWorker);
      case 'metrics?':
        void metricsText().then(
          (text) => from.postMessage({ t: 'metrics', id: m.id, text } satisfies ToWorker),
          (err: unknown) => {
            log.error({ err }, 'cannot aggregate metrics');
            from.postMessage({ t: 'metrics', id: m.id, text: undefined } satisfies ToWorker);
          },
        );
    }
  };
  const metricsText = async (): Promise<string> => {
    const answers = await Promise.all(
      pool.running.map((w) => collects.ask((id) => w.postMessage({ t: 'collect', id } satisfies ToWorker), COLLECT_TIMEOUT_MS)),
    );
    return aggregateMetrics([await metrics.registry.getMetricsAsJSON(), ...answers.filter((a) => a !== undefined)]);
  };

  const pool = new WorkerPool({
    size,
    log,
    onMessage,
    onExit: (index) => SharedSlots.reset(connectionSlots, index),
    // Taken at each (re)start: a worker starts from the state of this moment, and batches
    // posted after it follow on its port.
    init: (index) => ({ index, cfg, epoch, port, slots: connectionSlots, ready, embeddedFeed, state: hub.exportState() }),
  });
  const readyTimer = setInterval(() => Atomics.store(ready, 0, source.live ? 1 : 0), READY_POLL_MS);
  try {
    await candles.start();
    candles.runClock(flushLoop);
    await pool.start();
    await source.start(books);
  } catch (e) {
    clearInterval(readyTimer);
    flushLoop.stop();
    await candles.stop();
    await stopDirectory(symbols);
    await pool.stop(cfg.shutdownGraceMs + 1000);
    throw e;
  }
  Atomics.store(ready, 0, source.live ? 1 : 0);
  log.info(
    { port, epoch, host: cfg.host, source: source.name, uwsNative, workers: size },
    `tickwire ${listenDescription(cfg.host, port, cfg.tlsCertFile !== '')}; ${size} workers`,
  );

  let stopping: Promise<void> | undefined;
  return {
    port,
    epoch,
    hub,
    metrics,
    uwsNative,
    cluster: {
      size,
      get restarts() {
        return pool.restarts;
      },
      threadIds: () => pool.threadIds(),
      crash: (index, how) => pool.crash(index, how),
    },
    stop() {
      stopping ??= (async () => {
        await source.stop();
        flush();
        flushLoop.stop();
        await candles.stop();
        clearInterval(readyTimer);
        Atomics.store(ready, 0, 0);
        // Within the process's deadline (shutdown.ts), so that a stuck worker is cut before it.
        await pool.stop(cfg.shutdownNoticeMs + cfg.shutdownGraceMs + SHUTDOWN_SLACK_MS / 2);
        await stopDirectory(symbols);
        log.info('tickwire stopped');
      })();
      return stopping;
    },
    async abort() {
      flushLoop.stop();
      void candles.stop();
      clearInterval(readyTimer);
      void stopDirectory(symbols);
      await pool.abort(ABORT_WAIT_MS);
    },
  };
}

/** A port free on `host` now; every worker then binds it with SO_REUSEPORT. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
