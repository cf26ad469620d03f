import { pino, type Logger } from 'pino';

/** JSON lines on stdout; the level comes from config (`logLevel`). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'tickwire' } });
}
