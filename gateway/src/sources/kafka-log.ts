import { logLevel as KafkaLogLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/** The gateway's level for a kafkajs entry: its errors and warnings stay visible, the rest is debug. */
export function gatewayLevel(level: KafkaLogLevel): 'error' | 'warn' | 'debug' {
  return level <= KafkaLogLevel.ERROR ? 'error' : level === KafkaLogLevel.WARN ? 'warn' : 'debug';
}

/** Sends kafkajs's log to the gateway's, one structured line per entry, its namespace under `kafka`. */
export function kafkaLogCreator(log: Logger): logCreator {
  return () => (entry: LogEntry) => {
    const { message, ...rest } = entry.log;
    log[gatewayLevel(entry.level)]({ kafka: entry.namespace, ...rest }, message);
  };
}
