import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { prettyLine } from './log-format.js';
import { stdoutSink } from './log-sink.js';

/** Whether logs (and the start-up banner) are for a person: `logFormat`, and for auto, a terminal on stdout. */
export function prettyLogs(format: Config['logFormat'], isTTY: boolean = process.stdout.isTTY === true): boolean {
  return format === 'pretty' || (format === 'auto' && isTTY);
}

/**
 * Log lines on stdout: JSON, or one readable line each when `pretty` (log-format.ts); the level
 * comes from config (`logLevel`). The destination never blocks and never retries a broken stdout
 * (log-sink.ts): logging must not hold up serving or shutdown.
 */
export function createLogger(level: string, pretty = false): Logger {
  const sink = stdoutSink();
  const color = pretty && process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const dest = pretty ? { write: (line: string) => sink.write(prettyLine(line, { color })) } : sink;
  return pino({ level, base: { svc: 'tickwire' } }, dest);
}
