/**
 * A worker thread (workers > 1): one uWS app on the shared port, with a replica hub that takes
 * sequence numbers from the primary's batches, so every worker sends the same seq/epoch for the
 * same tick. Started by cluster/pool.ts with a WorkerInit as workerData.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startEdge, type Edge } from '../edge.js';
import { Hub } from '../hub/hub.js';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { SharedSlots } from '../transport/slots.js';
import type { Subscriber } from '../transport/uws.js';
import { uwsIsNative } from '../transport/uws-native.js';
import { hubOptions, unitsFrom } from '../wiring.js';
import { decodeBatch } from './handoff.js';
import type { ToPrimary, ToWorker, WorkerInit } from './messages.js';
import { Requests } from './requests.js';
import { shutdownDeadlineMs } from '../shutdown.js';
import { createDirectory, stopDirectory } from '../symbols/create.js';
import type { SymbolDirectory } from '../symbols/directory.js';
import { directoryCodecs } from '../codecs.js';
import type { CandleTick } from '../../../protocol/src/ticks.js';

/** How long /metrics waits for the primary's aggregate (which itself waits up to 2 s for workers). */
const METRICS_TIMEOUT_MS = 3_000;
/** How long GET /v1/candles waits for the primary's history (a copy out of memory: fast unless the primary is stuck). */
const CANDLES_TIMEOUT_MS = 2_000;

const port = parentPort;
if (!port) throw new Error('cluster/worker.js runs only as a worker thread (workers > 1)');
const init = workerData as WorkerInit;
const cfg = { ...init.cfg, port: init.port };
const log = createLogger(cfg.logLevel, cfg.logFormat === 'pretty').child({ worker: init.index });
const post = (m: ToPrimary): void => port.postMessage(m);

let symbols: SymbolDirectory | undefined;
const codecs = directoryCodecs(() => symbols);
const hub = new Hub<Subscriber>({
  ...hubOptions(cfg, init.epoch, codecs),
  unitsOf: unitsFrom(() => symbols),
  onFlushError: (err, topic) => metrics.failures.record('flush', err, { topic }),
});
hub.importState(init.state);
let edge: Edge | undefined;
const metrics = new Metrics(
  {
    hub: hub.stats,
    history: hub,
    connections: () => edge?.transport.connectionCount ?? 0,
    sseConnections: () => edge?.transport.sseCount ?? 0,
    subscriptions: () => hub.subscriptions,
    topics: () => hub.topicCount,
    ready: () => false,
    uwsNative: uwsIsNative(),
  },
  { worker: init.index },
);
metrics.failures.logTo(log);
const failures = metrics.failures;
const aggregated = new Requests<string>();
const candleAnswers = new Requests<CandleTick[]>();

// A batch is flushed after the port has handed over every batch already queued: one batch, one
// flush when the worker keeps up; a backlog coalesces into one flush, so a worker that fell
// behind sends fewer, fuller frames instead of falling further behind (measured: flushing each
// batch on arrival quadrupled frames per tick under load, bench/src/suite/scenarios/workers.ts).
let flushQueued = false;
function scheduleFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(() => {
    flushQueued = false;
    failures.guard('flush', () => edge?.transport.flush());
  });
}

// However this thread ends (uncaught error, process.exit, end of work), its uWS app must be
// closed first: a thread torn down with uWS sockets open aborts the whole process (pool.ts).
process.on('exit', () => edge?.transport.abort());

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'batch':
      // A batch that cannot be read is lost to this worker only: the next one shows the seq gap,
      // and the topics' subscribers get a resync snap.
      failures.guard('handoff', () => {
        for (const [topic, seq, tick, src, off] of decodeBatch(m.bytes)) hub.publishSequenced(topic, seq, tick, src, off);
      });
      return scheduleFlush();
    case 'reset':
      // Ticks already here belong to the old upstream: out as upd first, then the resync snaps.
      edge?.transport.flush();
      hub.upstreamReset(m.topics);
      return void edge?.transport.flush();
    case 'collect':
      return void metrics.registry.getMetricsAsJSON().then((json) => post({ t: 'collected', id: m.id, metrics: json }));
    case 'metrics':
      return aggregated.answer(m.id, m.text);
    case 'candles':
      return candleAnswers.answer(m.id, m.candles);
    case 'shutdown':
      return void stop();
    case 'abort':
      clearInterval(flushTimer);
      edge?.abort();
      return process.exit(0);
    case 'crash':
      if (m.how === 'exit') process.exit(70);
      setImmediate(() => {
        throw new Error('worker crash requested (test hook)');
      });
  }
});

// Each worker holds its own copy of the directory (a Kafka one reads the topic itself): lookups stay on the thread.
symbols = await createDirectory(cfg, init.embeddedFeed, log);
edge = await startEdge(cfg, log, {
  hub,
  symbols,
  metrics,
  ready: () => Atomics.load(init.ready, 0) === 1,
  publish: (topic, data) => post({ t: 'publish', topic, data }),
  candles: {
    query: (topic, limit, before) => candleAnswers.ask((id) => post({ t: 'candles?', id, topic, limit, before }), CANDLES_TIMEOUT_MS),
  },
  slots: new SharedSlots(init.slots, init.index, cfg.maxConnections),
  metricsEndpoint: {
    contentType: metrics.registry.contentType,
    async metrics() {
      const text = await aggregated.ask((id) => post({ t: 'metrics?', id }), METRICS_TIMEOUT_MS);
      if (text === undefined) throw new Error('the primary thread did not answer in time');
      return text;
    },
  },
});
const e = edge;
// Batches flush as they arrive (scheduleFlush); the timer drives throttled views between them.
const flushTimer = setInterval(() => failures.guard('flush', () => e.transport.flush()), cfg.flushIntervalMs || 10);
log.debug({ port: e.port }, 'worker listening');
post({ t: 'listening' });

async function stop(): Promise<void> {
  // The primary has the same deadline and cuts the workers then; this one holds even when the
  // primary's thread is busy. Unref'd: a stop that finished must not keep the thread alive.
  setTimeout(() => {
    log.error({ deadlineMs: shutdownDeadlineMs(cfg) }, 'graceful stop did not finish in time; cutting connections');
    e.abort();
    process.exit(1);
  }, shutdownDeadlineMs(cfg)).unref();
  clearInterval(flushTimer);
  e.transport.flush();
  await e.stop();
  await stopDirectory(symbols);
  // Nothing is left to keep the thread alive: it ends, and the primary sees it exit.
  port!.close();
}
