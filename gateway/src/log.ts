import { pino, type Logger } from 'pino';
import { stdoutSink } from './log-sink.js';

/**
 * JSON lines on stdout; the level comes from config (`logLevel`). The destination never blocks
 * and never retries a broken stdout (log-sink.ts): logging must not hold up serving or shutdown.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'tickwire' } }, stdoutSink());
}
