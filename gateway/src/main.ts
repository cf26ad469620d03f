#!/usr/bin/env node
/**
 * tickwire gateway entry point: read config, start source → hub → transport, stop gracefully.
 * Everything is wired in gateway.ts; this file is only the process edge.
 */
import { readFileSync } from 'node:fs';
import { banner } from './banner.js';
import { ConfigError, helpText, loadConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { createLogger, prettyLogs } from './log.js';
import { stdoutSink } from './log-sink.js';
import { handleShutdownSignals, shutdownDeadlineMs } from './shutdown.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  const loaded = loadConfig({ env: process.env, argv });
  // Decided here, where stdout is known: worker threads (whose stdout is a pipe) follow it.
  const pretty = prettyLogs(loaded.logFormat);
  const cfg = { ...loaded, logFormat: pretty ? ('pretty' as const) : ('json' as const) };
  const log = createLogger(cfg.logLevel, pretty);
  const gateway = startGateway(cfg, log);
  // Installed before the gateway is up: the "listening" line is logged inside startGateway, and
  // a SIGTERM right after it must still stop gracefully (during startup it waits for the start).
  handleShutdownSignals(
    { stop: async () => (await gateway).stop(), abort: async () => (await gateway).abort() },
    { log, deadlineMs: shutdownDeadlineMs(cfg) },
  );
  const { port } = await gateway;
  if (pretty) stdoutSink().write(banner(cfg, port, packageVersion()));
}

/** The version in package.json, from dist/gateway/src (built) or gateway/src (tsx). */
function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tickwire' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this one
    }
  }
  return '';
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`tickwire: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tickwire: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
