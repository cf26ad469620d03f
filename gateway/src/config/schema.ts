import { z } from 'zod';

/**
 * Every setting of the gateway, in one validated schema. Each field's `.describe()` is its
 * documentation: `--help` prints it, and docs/configuration.md is generated from it
 * (`npm run docs:config`; a test fails when the file is stale).
 *
 * Each field `fooBar` is set by the env var `TICKWIRE_FOO_BAR` or the CLI flag `--foo-bar`
 * (the flag wins). Values from the environment are strings; numbers and booleans are coerced
 * and then checked, so a bad value stops startup with a message naming the setting.
 */

const int = () => z.coerce.number().int();
const bool = () =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    return v;
  }, z.boolean());

export const configSchema = z.object({
  host: z.string().min(1).default('0.0.0.0').describe('Address the HTTP/WebSocket listener binds to.'),
  port: int().min(0).max(65535).default(9001).describe('TCP port of the HTTP/WebSocket listener (0 picks a free port).'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Minimum level of the JSON log lines written to stdout.'),

  source: z.enum(['embedded', 'kafka']).default('embedded').describe('Where ticks come from: the in-process market simulator, or Kafka.'),
  feedRate: z.coerce.number().min(0).max(10_000_000).default(1000).describe('Embedded feed: mean total ticks per second across all symbols (0 pauses the feed).'),
  feedSeed: int().default(1).describe('Embedded feed: PRNG seed; the same seed gives the same market.'),
  feedSymbols: z.string().default('BTC-USD,ETH-USD,SOL-USD,AAPL,MSFT,NVDA,EUR-USD').describe('Embedded feed: comma-separated symbols; each gets a trade.<SYMBOL> and a quote.<SYMBOL> topic.'),
  feedBurstiness: z.coerce.number().min(0).max(1).default(0.5).describe('Embedded feed: 0 for a steady rate, up to 1 for frequent short bursts (the mean rate stays feedRate).'),

  flushIntervalMs: z.coerce.number().min(0).max(1000).default(2).describe('How often pending ticks are flushed to subscribers, in ms; ticks of one topic within a flush share one frame. 0 flushes on every event-loop turn.'),
  maxTicksPerFrame: int().min(1).max(65_536).default(256).describe('Upper bound on ticks in one upd frame; a busier topic is split into several consecutive frames.'),
  heartbeatIntervalMs: int().min(100).max(60_000).default(2000).describe('Interval of the {op:"hb"} frame every connection receives, in ms.'),

  idleTimeoutSec: int()
    .min(0)
    .max(960)
    .default(120)
    .refine((v) => v === 0 || v >= 8, {
      message: 'uWebSockets.js aborts the process for idle timeouts of 1–7 s; use 0 (off) or at least 8',
    })
    .describe('Close a WebSocket that sent nothing (not even a pong to the transport ping) for this many seconds; 0 disables. uWS pings automatically before it expires.'),
  maxPayloadLength: int().min(256).max(16 * 1024 * 1024).default(16 * 1024).describe('Largest inbound WebSocket message in bytes; a larger one closes the connection with 1009.'),
  maxBackpressureBytes: int().min(16 * 1024).max(1024 * 1024 * 1024).default(4 * 1024 * 1024).describe('Bytes buffered for one connection before tickwire closes it as a slow consumer (close code 4008) rather than drop frames silently.'),
  maxTopicsPerRequest: int().min(1).max(100_000).default(256).describe('Most topics one sub/unsub request may name.'),
  shutdownGraceMs: int().min(0).max(120_000).default(3000).describe('On SIGTERM/SIGINT: how long to wait for connections to close after sending them 1001 before exiting anyway.'),
  exposeMetrics: bool().default(true).describe('Serve Prometheus metrics at GET /metrics.'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigKey = keyof Config;
