import client from 'prom-client';
import { historyMetrics, type HistorySource } from './history-metrics.js';
import type { HubStats } from './hub/hub.js';
import { WAIT_LIMITS, type WaitingStats } from './hub/waiting.js';
import { REJECT_REASONS } from '../../protocol/src/record.js';
import { CANDLE_INTERVAL_NAMES } from '../../protocol/src/candle.js';
import type { IngestStats } from './sources/kafka.js';
import { FAILURE_SITES, Failures } from './failures.js';
import { sumStats, type TransportStats } from './transport/stats.js';

/**
 * Prometheus metrics. Hot-path counts live in plain number fields (HubStats, each transport's
 * TransportStats) that their owners bump; they are read here only when Prometheus scrapes, so a
 * tick or a delivery never touches prom-client.
 */
export type { TransportStats } from './transport/stats.js';

/** What Metrics reads of a transport: its own counters. */
export interface StatsSource {
  readonly stats: TransportStats;
}

export interface MetricsSources {
  hub: HubStats;
  /** Open connections of every transport (WebSocket and SSE). */
  connections: () => number;
  /** Open SSE streams (included in `connections`). */
  sseConnections: () => number;
  subscriptions: () => number;
  topics: () => number;
  ready: () => boolean;
  uwsNative: boolean;
  /** The hub whose resume history /metrics reports (every role holds one). */
  history?: HistorySource;
  /** The worker threads (primary role only). */
  pool?: { running: () => number; restarts: () => number };
}

/**
 * Which metrics a registry carries. `single` (workers = 1) has all of them. With workers > 1 the
 * primary thread has the ingest side (source, sequencing, process-wide metrics such as CPU,
 * which every thread would otherwise report once more) and each worker the delivery side
 * (connections, frames, limits); /metrics sums the registries (see cluster/metrics.ts), so no
 * figure is counted twice.
 */
export type MetricsRole = 'single' | 'primary' | { worker: number };

/** A counter whose value is read from a running total at scrape time. */
function totalCounter(registry: client.Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) this.inc(now - reported);
      reported = now;
    },
  });
}

function gauge(registry: client.Registry, name: string, help: string, read: () => number): void {
  new client.Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** Subscriptions to topics with no data yet (hub/waiting.ts): how many wait, and how many each limit refused. */
function waitingMetrics(registry: client.Registry, w: WaitingStats): void {
  gauge(
    registry,
    'tickwire_waiting_subscriptions',
    'Subscriptions waiting for the first tick of their topic (included in tickwire_subscriptions).',
    () => w.current,
  );
  const reported = { ...w.refused };
  const refused = new client.Counter({
    name: 'tickwire_waiting_refused_total',
    help: 'Subscriptions to topics with no data yet refused with too_many_waiting, by the limit reached (connection, ip, total).',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      for (const limit of WAIT_LIMITS) {
        const d = w.refused[limit] - reported[limit];
        if (d > 0) this.inc({ limit }, d);
        reported[limit] = w.refused[limit];
      }
    },
  });
  for (const limit of WAIT_LIMITS) refused.inc({ limit }, 0);
}

/** What the candle engine and the candle log count (candles/). */
export interface CandleStats {
  /** Trades for a bucket already closed, per interval (CANDLE_INTERVAL_NAMES order): counted, not folded anywhere. */
  late: number[];
  /** Closed candles written to the candle topic (Kafka mode). */
  persisted: number;
  /** Closed candles the candle topic did not take (logged). */
  persistFailures: number;
}

function candleMetrics(registry: client.Registry, s: CandleStats): void {
  const reported = [...s.late];
  const late = new client.Counter({
    name: 'tickwire_candle_late_trades_total',
    help: 'Trades for a candle bucket already closed (past candleGraceMs or after a later bucket opened), by interval: not folded.',
    labelNames: ['interval'],
    registers: [registry],
    collect() {
      CANDLE_INTERVAL_NAMES.forEach((interval, k) => {
        const d = (s.late[k] as number) - (reported[k] as number);
        if (d > 0) this.inc({ interval }, d);
        reported[k] = s.late[k] as number;
      });
    },
  });
  for (const interval of CANDLE_INTERVAL_NAMES) late.inc({ interval }, 0);
  totalCounter(registry, 'tickwire_candles_persisted_total', 'Closed candles written to candleTopic (Kafka mode).', () => s.persisted);
  totalCounter(
    registry,
    'tickwire_candle_persist_failures_total',
    'Closed candles that could not be written to candleTopic (logged; that candle is then only in the memory of this instance).',
    () => s.persistFailures,
  );
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly errors: client.Counter<'code'>;
  readonly refused: client.Counter<'reason'>;
  /** The transports whose counters /metrics sums (addTransport). */
  private readonly transports: StatsSource[] = [];
  /** Written by the source (Kafka). */
  /** Exceptions contained on the ingest, publish, flush and handoff paths (failures.ts). */
  readonly failures = new Failures();
  readonly ingest: IngestStats = {
    accepted: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as IngestStats['rejected'],
    lagRecords: 0,
    outages: 0,
  };

  /** Written by the candle engine (candles/engine.ts): late trades per interval, in CANDLE_INTERVAL_NAMES order. */
  readonly candles: CandleStats = { late: CANDLE_INTERVAL_NAMES.map(() => 0), persisted: 0, persistFailures: 0 };

  constructor(src: MetricsSources, role: MetricsRole = 'single') {
    this.refused = new client.Counter({
      name: 'tickwire_upgrades_refused_total',
      help: 'WebSocket upgrades and SSE streams refused, by reason (auth failures, limits, origin, subprotocol).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.errors = new client.Counter({
      name: 'tickwire_errors_total',
      help: 'Protocol errors answered to clients, by code.',
      labelNames: ['code'],
      registers: [this.registry],
    });
    if (role !== 'primary') this.deliverySide(src, role);
    if (typeof role === 'string') this.ingestSide(src);
    if (src.history) historyMetrics(this.registry, src.history);
    this.failureCounter();
  }

  /** Counts `t`'s connections, frames and limits in the transport metrics, from now on. */
  addTransport(t: StatsSource): void {
    this.transports.push(t);
  }

  /** Every transport's counters summed, as of now (what the transport metrics report). */
  get transport(): TransportStats {
    return sumStats(this.transports.map((t) => t.stats));
  }

  /** Every role: each thread contains its own failures, and /metrics sums them. */
  private failureCounter(): void {
    const counts = this.failures.counts;
    const reported = { ...counts };
    const c = new client.Counter({
      name: 'tickwire_internal_errors_total',
      help: 'Exceptions contained instead of ending the process, by site (ingest, publish, flush, handoff); each is a bug, logged.',
      labelNames: ['site'],
      registers: [this.registry],
      collect() {
        for (const site of FAILURE_SITES) {
          if (counts[site] > reported[site]) this.inc({ site }, counts[site] - reported[site]);
          reported[site] = counts[site];
        }
      },
    });
    for (const site of FAILURE_SITES) c.inc({ site }, 0);
  }

  private ingestSide(src: MetricsSources): void {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r, prefix: 'tickwire_' });
    gauge(r, 'tickwire_uws_native', '1 when uWebSockets.js runs its native binding, 0 on the slow JS fallback.', () =>
      src.uwsNative ? 1 : 0,
    );
    gauge(r, 'tickwire_ready', '1 while the source is live (what /readyz reports).', () => (src.ready() ? 1 : 0));
    gauge(r, 'tickwire_topics', 'Topics known to the hub.', src.topics);
    totalCounter(
      r,
      'tickwire_ticks_in_total',
      "Ticks published into the hub: the source's, plus those the gateway derives (candles, stats, book views).",
      () => src.hub.ticksIn,
    );
    const pool = src.pool;
    if (pool) {
      gauge(r, 'tickwire_workers', 'Worker threads running (workers > 1).', pool.running);
      totalCounter(r, 'tickwire_worker_restarts_total', 'Worker threads restarted after they died (workers > 1).', pool.restarts);
    }
    const ingest = this.ingest;
    const reported = { ...ingest.rejected };
    const rejected = new client.Counter({
      name: 'tickwire_ingest_rejected_total',
      help: 'Source records rejected (counted, logged at a bounded rate, skipped), by reason.',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        for (const reason of REJECT_REASONS) {
          const d = ingest.rejected[reason] - reported[reason];
          if (d > 0) this.inc({ reason }, d);
          reported[reason] = ingest.rejected[reason];
        }
      },
    });
    for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);
    totalCounter(
      r,
      'tickwire_ingest_records_total',
      'Source records (Kafka) decoded and handed on; with tickwire_ingest_rejected_total, every record read.',
      () => ingest.accepted,
    );
    candleMetrics(r, this.candles);
    gauge(
      r,
      'tickwire_ingest_lag_records',
      "Records between the source position and the partitions' high watermarks (Kafka), at the last batch.",
      () => ingest.lagRecords,
    );
    totalCounter(
      r,
      'tickwire_source_outages_total',
      'Times the source stopped being live (for Kafka: no successful fetch for kafkaStaleMs).',
      () => ingest.outages,
    );
  }

  private deliverySide(src: MetricsSources, role: MetricsRole): void {
    const r = this.registry;
    const sum = (k: keyof TransportStats) => (): number => {
      let n = 0;
      for (const t of this.transports) n += t.stats[k];
      return n;
    };
    gauge(r, 'tickwire_connections', 'Open client connections: WebSocket connections and SSE streams.', src.connections);
    gauge(r, 'tickwire_sse_connections', 'Open SSE streams (GET /v1/sse; included in tickwire_connections).', src.sseConnections);
    if (typeof role === 'object') {
      new client.Gauge({
        name: 'tickwire_worker_connections',
        help: 'Open client connections (WebSocket and SSE) per worker thread (workers > 1): how the kernel spread them.',
        labelNames: ['worker'],
        registers: [r],
        collect() {
          this.set({ worker: String(role.worker) }, src.connections());
        },
      });
    }
    gauge(r, 'tickwire_subscriptions', 'Topic subscriptions over all connections.', src.subscriptions);
    waitingMetrics(r, src.hub.waiting);
    gauge(
      r,
      'tickwire_backpressure_bytes',
      'Bytes buffered in sockets for slow readers, summed over connections at the last flush.',
      sum('bufferedBytes'),
    );
    totalCounter(r, 'tickwire_connections_opened_total', 'Client connections accepted (WebSocket and SSE).', sum('connectionsOpened'));
    totalCounter(
      r,
      'tickwire_ticks_flushed_total',
      "Ticks flushed by the hub (whether or not anyone subscribed); with workers > 1, summed over the workers' hubs.",
      () => src.hub.ticksFlushed,
    );
    totalCounter(
      r,
      'tickwire_frames_encoded_total',
      'Frames encoded by the hub (once per topic per flush per codec).',
      () => src.hub.framesEncoded,
    );
    totalCounter(
      r,
      'tickwire_deliveries_total',
      'Frames handed to connections by the hub (frames encoded x subscribers).',
      () => src.hub.deliveries,
    );
    totalCounter(r, 'tickwire_frames_out_total', 'Frames sent to clients (WebSocket frames and SSE snap/upd events).', sum('framesOut'));
    totalCounter(r, 'tickwire_bytes_out_total', 'Payload bytes sent to clients (before WebSocket framing).', sum('bytesOut'));
    totalCounter(
      r,
      'tickwire_backpressure_events_total',
      'Sends that left data buffered because the client reads slower than we write.',
      sum('backpressureEvents'),
    );
    gauge(r, 'tickwire_slow_consumers', 'Connections currently conflated because they read too slowly.', sum('slowConsumers'));
    totalCounter(
      r,
      'tickwire_slow_consumer_events_total',
      'Times a connection passed slowSoftBytes and was switched to conflation.',
      sum('slowConsumerEvents'),
    );
    totalCounter(
      r,
      'tickwire_conflated_frames_total',
      'upd frames skipped for conflated connections (replaced by resync snaps).',
      sum('conflatedFrames'),
    );
    totalCounter(
      r,
      'tickwire_resyncs_total',
      'Snapshots sent with resync: true (failed resumes, slow-consumer recovery).',
      () => src.hub.resyncs,
    );
    totalCounter(r, 'tickwire_resumes_total', 'Subscriptions resumed from history with no snapshot.', () => src.hub.resumes);
    totalCounter(
      r,
      'tickwire_cross_resumes_total',
      'Of those, resumes of a position from another instance or epoch, found by upstream (Kafka) position.',
      () => src.hub.crossResumes,
    );
    totalCounter(
      r,
      'tickwire_slow_consumer_closes_total',
      'Connections closed with 4008: buffer past maxBackpressureBytes, or conflated for longer than slowTimeoutMs.',
      sum('slowConsumerCloses'),
    );
    totalCounter(r, 'tickwire_rate_limited_messages_total', 'Client messages dropped for exceeding maxMessagesPerSec.', sum('rateLimited'));
  }
}
