#!/usr/bin/env node
/**
 * The gateway (dist/gateway/src/gateway.js, unchanged) with the embedded market simulator driven
 * by a finer pacer: `--pacer-interval-ms N` (default 1). Every other argument is the gateway's own.
 *
 * Why: the stock embedded feed's pacer fires every 10 ms, so every tick arrives in 10 ms clumps
 * and flush intervals of 0–10 ms all produce the same frames. Real feeds (Kafka fetches, exchange
 * sockets) arrive close to continuously; a 1 ms pacer approximates that, which is what a flush
 * interval trades against.
 *
 *   node dist/bench/src/suite/gateway-fine.js --host 127.0.0.1 --port 0 --feed-rate 2000 --feed-books false --pacer-interval-ms 1
 */
import { loadConfig } from '../../../gateway/src/config/load.js';
import { startGateway } from '../../../gateway/src/gateway.js';
import { createLogger } from '../../../gateway/src/log.js';
import { EmbeddedSource } from '../../../gateway/src/sources/embedded.js';

const argv = process.argv.slice(2);
let intervalMs = 1;
const i = argv.indexOf('--pacer-interval-ms');
if (i >= 0) {
  intervalMs = Number(argv[i + 1]);
  argv.splice(i, 2);
}
if (!(intervalMs > 0)) {
  process.stderr.write('gateway-fine: --pacer-interval-ms must be > 0\n');
  process.exit(2);
}

const cfg = loadConfig({ env: process.env, argv });
const log = createLogger(cfg.logLevel);

const source = new EmbeddedSource({
  rate: cfg.feedRate,
  seed: cfg.feedSeed,
  symbols: cfg.feedSymbols,
  burstiness: cfg.feedBurstiness,
  // As the stock gateway: `--feed-books false` leaves the order-book records out (the tick scenarios do).
  books: cfg.feedBooks,
  intervalMs,
});
const gateway = await startGateway(cfg, log, source);
let signals = 0;
const onSignal = (): void => {
  if (++signals > 1) process.exit(1);
  gateway.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
