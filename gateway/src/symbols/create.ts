import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { SymbolDirectory } from './directory.js';
import { embeddedDirectory } from './embedded.js';
import { fileDirectory } from './file.js';
import { KafkaDirectory } from './kafka.js';

/** How long startup waits for symbolsTopic to be read to its end. */
const CATCH_UP_MS = 10_000;

export type DirectorySettings = Pick<Config, 'symbolsFile' | 'symbolsTopic' | 'feedSymbols' | 'kafkaBrokers' | 'kafkaClientId'>;

/**
 * The configured symbol directory: symbolsFile, else symbolsTopic, else the embedded feed's
 * symbols when this gateway runs the embedded feed; undefined (every symbol accepted, as before
 * there was a directory) otherwise. A Kafka directory is started (read to its end) before it is returned.
 */
export async function createDirectory(cfg: DirectorySettings, embeddedFeed: boolean, log: Logger): Promise<SymbolDirectory | undefined> {
  if (cfg.symbolsFile) return fileDirectory(cfg.symbolsFile);
  if (cfg.symbolsTopic) {
    const brokers = cfg.kafkaBrokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    const dir = new KafkaDirectory({ brokers, clientId: cfg.kafkaClientId, topic: cfg.symbolsTopic, catchUpMs: CATCH_UP_MS }, log);
    await dir.start();
    return dir;
  }
  return embeddedFeed ? embeddedDirectory(cfg.feedSymbols) : undefined;
}

/** Stops what `createDirectory` started (the Kafka consumer). */
export async function stopDirectory(dir: SymbolDirectory | undefined): Promise<void> {
  if (dir instanceof KafkaDirectory) await dir.stop();
}
