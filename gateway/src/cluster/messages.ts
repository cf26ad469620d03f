/**
 * What the primary thread and the worker threads say to each other (workers > 1). Each worker's
 * MessagePort is FIFO, which the design relies on: a worker's initial state (in workerData) is
 * taken before any batch posted to it, so it sees every tick exactly once or, at the seam,
 * twice (skipped by Hub.publishSequenced).
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { HubState } from '../hub/hub.js';
import type { CandleTick, Payload } from '../../../protocol/src/ticks.js';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** workerData of a worker thread. */
export interface WorkerInit {
  index: number;
  cfg: Config;
  epoch: string;
  /** The port every worker listens on (chosen by the primary when cfg.port is 0). */
  port: number;
  /** SharedSlots counter for maxConnections, shared by all workers. */
  slots: Int32Array;
  /** Cell 0 is 1 while the primary's source is live (/readyz). */
  ready: Int32Array;
  /** The primary runs the embedded feed (not a test's source): its symbols are the default directory. */
  embeddedFeed: boolean;
  /** The primary hub's state when this worker was started. */
  state: HubState;
}

/** How a worker is made to fail, for the restart tests: as a bug would, from inside the thread. */
export type CrashKind = 'throw' | 'exit';

export type ToWorker =
  /** encodeShared bytes of one flush interval's sequenced ticks. */
  | { t: 'batch'; bytes: Uint8Array }
  /** The upstream of these topics restarted (Hub.upstreamReset), after every tick of the batches before. */
  | { t: 'reset'; topics: string[] }
  /** Send your registry's JSON (for an aggregated /metrics). */
  | { t: 'collect'; id: number }
  /** The aggregated /metrics text this worker asked for (undefined: could not be built). */
  | { t: 'metrics'; id: number; text: string | undefined }
  /** The closed candles a worker asked for (GET /v1/candles), from the primary's history. */
  | { t: 'candles'; id: number; candles: CandleTick[] }
  | { t: 'shutdown' }
  /** Cut every socket now and end the thread (second signal, shutdown deadline). */
  | { t: 'abort' }
  | { t: 'crash'; how: CrashKind };

export type ToPrimary =
  | { t: 'listening' }
  /** POST /v1/publish, forwarded to the primary's sink. */
  | { t: 'publish'; topic: string; data: Payload }
  | { t: 'metrics?'; id: number }
  /** GET /v1/candles: the primary holds the candle history. */
  | { t: 'candles?'; id: number; topic: string; limit: number; before: number | undefined }
  | { t: 'collected'; id: number; metrics: MetricsJson };
