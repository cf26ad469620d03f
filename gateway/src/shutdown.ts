import type { Logger } from 'pino';
import type { Config } from './config/schema.js';

/** Past notice + grace, what stopping the source and the last flush may take before we give up. */
export const SHUTDOWN_SLACK_MS = 5_000;
/** How long an abort (no notice, no grace) may take to close the listeners before the exit. */
const ABORT_WAIT_MS = 1_000;

/** The hard bound on a graceful stop: no signal may leave the process running longer. */
export function shutdownDeadlineMs(cfg: Pick<Config, 'shutdownNoticeMs' | 'shutdownGraceMs'>): number {
  return cfg.shutdownNoticeMs + cfg.shutdownGraceMs + SHUTDOWN_SLACK_MS;
}

export interface Stoppable {
  /** Graceful: notice, 1001, grace. */
  stop(): Promise<void>;
  /** At once: every socket and listener cut, so that the process can exit without aborting. */
  abort(): Promise<void>;
}

export interface ShutdownOptions {
  log: Logger;
  deadlineMs: number;
  /** process.exit, replaceable for tests. */
  exit?: (code: number) => void;
  signals?: readonly NodeJS.Signals[];
}

/**
 * SIGTERM/SIGINT: a graceful stop, then exit 0. It has a hard deadline: past it, or on a second
 * signal, everything is cut and the process exits 1. Whatever hangs (a client that never
 * answers, a stuck source, a log reader that went away), the process ends in bounded time.
 */
export function handleShutdownSignals(target: Stoppable, opts: ShutdownOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let started = false;
  let exiting = false;
  let deadline: NodeJS.Timeout | undefined;
  const exitNow = (code: number, why: string): void => {
    if (exiting) return;
    exiting = true;
    clearTimeout(deadline);
    opts.log.warn({ why }, 'exiting now');
    // With worker threads, process.exit while their uWS apps are open aborts the process
    // (SIGABRT): their apps are cut first, within a bound, and then the process exits anyway.
    const bound = setTimeout(() => exit(code), ABORT_WAIT_MS);
    target.abort().then(
      () => {
        clearTimeout(bound);
        exit(code);
      },
      () => undefined,
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) return exitNow(1, `second signal (${signal}) while shutting down`);
    started = true;
    opts.log.info({ signal, deadlineMs: opts.deadlineMs }, 'shutting down: closing clients with 1001');
    // Not unref'd: if the stop hangs on nothing at all, the deadline still ends the process.
    deadline = setTimeout(() => exitNow(1, `graceful shutdown did not finish within ${opts.deadlineMs} ms`), opts.deadlineMs);
    target.stop().then(
      () => {
        clearTimeout(deadline);
        if (!exiting) exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        opts.log.error({ err }, 'error during shutdown');
        exitNow(1, 'error during shutdown');
      },
    );
  };
  for (const s of opts.signals ?? (['SIGTERM', 'SIGINT'] as const)) process.on(s, onSignal);
}
