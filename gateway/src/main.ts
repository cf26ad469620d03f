#!/usr/bin/env node
/**
 * tickwire gateway entry point: read config, start source → hub → transport, stop gracefully.
 * Everything is wired in gateway.ts; this file is only the process edge.
 */
import { ConfigError, helpText, loadConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { createLogger } from './log.js';
import { handleShutdownSignals, shutdownDeadlineMs } from './shutdown.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  const cfg = loadConfig({ env: process.env, argv });
  const log = createLogger(cfg.logLevel);
  const gateway = startGateway(cfg, log);
  // Installed before the gateway is up: the "listening" line is logged inside startGateway, and
  // a SIGTERM right after it must still stop gracefully (during startup it waits for the start).
  handleShutdownSignals(
    { stop: async () => (await gateway).stop(), abort: async () => (await gateway).abort() },
    { log, deadlineMs: shutdownDeadlineMs(cfg) },
  );
  await gateway;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`tickwire: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tickwire: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
