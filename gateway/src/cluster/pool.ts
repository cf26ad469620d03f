import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CrashKind, ToPrimary, ToWorker, WorkerInit } from './messages.js';

/**
 * The worker entry is always the built JavaScript (dist/): a worker thread cannot load
 * TypeScript, and tests run the primary from the sources.
 */
const ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../../dist/gateway/src/cluster/worker.js' : './worker.js', import.meta.url),
);

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** A worker that ran this long before dying starts its replacement's backoff from the minimum. */
const STABLE_MS = 10_000;
/** How long cut workers get to end after a graceful stop timed out. */
const ABORT_WAIT_MS = 1_000;

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  /** Resolves when the current worker (or its replacement) listens. */
  listening: Promise<void>;
  startedAt: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

export interface PoolOptions {
  size: number;
  log: Logger;
  /** The init of worker `index`, taken at each (re)start: it carries the primary's current state. */
  init: (index: number) => WorkerInit;
  onMessage: (from: Worker, m: ToPrimary) => void;
  /** Called when worker `index` has ended, before any replacement starts. */
  onExit: (index: number) => void;
}

/**
 * The worker threads: started, restarted with backoff when one dies, stopped gracefully.
 *
 * A worker thread that runs uWS must end by itself: closing its app first. This uWS build
 * leaves libuv handles in the thread's loop otherwise, and Node aborts the whole process when
 * such a thread is torn down (Worker#terminate, or process.exit with workers running:
 * "uv_loop_close() while having open handles", measured here). So the pool never terminates a
 * worker; the worker closes its app on its way out, even after an uncaught error or
 * process.exit (cluster/worker.ts).
 */
export class WorkerPool {
  private readonly slots: Slot[];
  private stopping = false;
  restarts = 0;

  constructor(private readonly opts: PoolOptions) {
    if (!existsSync(ENTRY)) throw new Error(`the worker entry ${ENTRY} is missing: run "npm run build"`);
    this.slots = Array.from({ length: opts.size }, (_, index) => ({
      index,
      worker: undefined,
      listening: Promise.resolve(),
      startedAt: 0,
      failures: 0,
      timer: undefined,
    }));
  }

  /** Starts every worker; resolves once all listen, rejects if one dies first. */
  start(): Promise<void> {
    for (const s of this.slots) this.spawn(s);
    return this.allListening();
  }

  allListening(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.listening)).then(() => undefined);
  }

  /** Posts to every running worker (a worker being restarted gets the state instead). */
  broadcast(m: ToWorker): void {
    for (const s of this.slots) s.worker?.postMessage(m);
  }

  get running(): Worker[] {
    return this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  threadIds(): (number | undefined)[] {
    return this.slots.map((s) => s.worker?.threadId);
  }

  /** Test hook: worker `index` fails from inside; resolves when its replacement listens. */
  async crash(index: number, how: CrashKind): Promise<void> {
    const s = this.slots[index];
    if (!s?.worker) throw new Error(`no running worker ${index}`);
    const old = s.worker;
    s.worker.postMessage({ t: 'crash', how } satisfies ToWorker);
    while (s.worker === old || s.worker === undefined) await new Promise((r) => setTimeout(r, 10));
    await s.listening;
  }

  /** Sends every running worker `t` (no more restarts from now on); each promise settles when that worker ended. */
  private tellAll(t: 'shutdown' | 'abort'): Promise<void>[] {
    this.stopping = true;
    return this.slots.map((s) => {
      clearTimeout(s.timer);
      const w = s.worker;
      if (!w) return Promise.resolve();
      return new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.postMessage({ t } satisfies ToWorker);
      });
    });
  }

  /** Asks every worker to shut down (notice, 1001, close) and waits for them to end. */
  async stop(timeoutMs: number): Promise<void> {
    const ends = this.tellAll('shutdown');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(ends).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    this.opts.log.error({ timeoutMs }, 'workers did not stop in time; cutting them');
    await this.abort(ABORT_WAIT_MS);
  }

  /**
   * Every worker cuts its sockets and ends at once; resolves when all ended, or after `waitMs`.
   * Only then may the process exit without aborting (see the class comment).
   */
  async abort(waitMs: number): Promise<void> {
    const ends = this.tellAll('abort');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ends), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private spawn(s: Slot): void {
    const { log } = this.opts;
    const worker = new Worker(ENTRY, { workerData: this.opts.init(s.index) });
    s.worker = worker;
    s.startedAt = Date.now();
    let listened = false;
    s.listening = new Promise((resolve, reject) => {
      worker.on('message', (m: ToPrimary) => {
        if (m.t === 'listening') {
          listened = true;
          resolve();
        } else this.opts.onMessage(worker, m);
      });
      worker.on('error', (err) => log.error({ err, worker: s.index }, 'worker failed'));
      worker.on('exit', (code) => {
        if (s.worker === worker) s.worker = undefined;
        this.opts.onExit(s.index);
        if (this.stopping) return resolve();
        if (!listened) reject(new Error(`worker ${s.index} exited with ${code} before listening`));
        this.scheduleRestart(s, code);
      });
    });
    // Startup failures surface through start(); later ones only through the log.
    s.listening.catch(() => undefined);
  }

  private scheduleRestart(s: Slot, code: number): void {
    s.failures = Date.now() - s.startedAt > STABLE_MS ? 1 : s.failures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (s.failures - 1));
    this.opts.log.error({ worker: s.index, code, restartInMs: delay }, 'worker died; restarting it');
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.spawn(s);
    }, delay);
  }
}
