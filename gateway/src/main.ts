#!/usr/bin/env node
/**
 * tickwire gateway entry point: read config, start source → hub → transport, stop gracefully.
 * Everything is wired in gateway.ts; this file is only the process edge.
 */
import { ConfigError, helpText, loadConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  const cfg = loadConfig({ env: process.env, argv });
  const log = createLogger(cfg.logLevel);
  const gateway = await startGateway(cfg, log);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal while draining means "now".
    if (++signals > 1) process.exit(1);
    log.info({ signal }, 'shutting down: closing clients with 1001');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`tickwire: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tickwire: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
