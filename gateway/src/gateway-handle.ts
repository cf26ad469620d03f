import type { CrashKind } from './cluster/messages.js';
import type { Hub } from './hub/hub.js';
import type { Metrics } from './metrics.js';
import type { Subscriber } from './transport/uws.js';

/**
 * What a running gateway hands back, in one process or as a cluster. Its own module so that
 * gateway.ts (which starts either) and cluster/primary.ts (which starts the cluster) both depend
 * on it instead of on each other.
 */
export interface Gateway {
  readonly port: number;
  readonly epoch: string;
  readonly hub: Hub<Subscriber>;
  readonly metrics: Metrics;
  readonly uwsNative: boolean;
  /** With workers > 1: the worker threads, for tests and diagnostics. */
  readonly cluster?: ClusterControl;
  /** Graceful stop: source first (no new ticks), then a last flush, then clients get 1001. */
  stop(): Promise<void>;
  /** Cuts every connection and listener at once, so that the process may exit now (shutdown.ts). */
  abort(): Promise<void>;
}

export interface ClusterControl {
  readonly size: number;
  /** Worker restarts since start. */
  readonly restarts: number;
  /** Thread id of each worker slot; undefined while that worker is being restarted. */
  threadIds(): (number | undefined)[];
  /** Test hook: worker `index` fails from inside; resolves when its replacement listens. */
  crash(index: number, how: CrashKind): Promise<void>;
}
