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

  kafkaBrokers: z.string().min(1).default('127.0.0.1:9092').describe('Kafka source: comma-separated bootstrap brokers (host:port).'),
  kafkaTopics: z.string().min(1).default('ticks').describe('Kafka source: comma-separated Kafka topics to consume (record key = tickwire topic, value = one tick; see docs/ingest.md).'),
  kafkaClientId: z.string().min(1).default('tickwire').describe('Kafka source: client id reported to the brokers.'),
  kafkaGroupPrefix: z.string().min(1).default('tickwire').describe('Kafka source: prefix of the consumer group id; each instance adds a unique suffix so that every instance reads every partition.'),
  kafkaWarmStartSec: int().min(0).max(7 * 24 * 3600).default(300).describe('Kafka source: on startup, read back this many seconds of each partition before going live, so snapshots exist before the first live tick...'),
  kafkaWarmStartMaxRecords: int().min(0).max(100_000_000).default(100_000).describe('...but at most this many records per partition, to bound startup time.'),
  kafkaMaxRecordBytes: int().min(64).max(16 * 1024 * 1024).default(64 * 1024).describe('Kafka source: records with a larger value are rejected as oversize (counted, logged, skipped).'),
  kafkaStaleMs: int().min(500).max(600_000).default(3000).describe('Kafka source: with no successful fetch for this long the source is not live: /readyz answers 503 until it recovers.'),
  kafkaRetryMaxMs: int().min(100).max(600_000).default(5000).describe('Kafka source: cap of the exponential backoff between reconnection attempts.'),

  flushIntervalMs: z.coerce.number().min(0).max(1000).default(2).describe('How often pending ticks are flushed to subscribers, in ms; ticks of one topic within a flush share one frame. 0 flushes on every event-loop turn.'),
  maxTicksPerFrame: int().min(1).max(65_536).default(256).describe('Upper bound on ticks in one upd frame; a busier topic is split into several consecutive frames.'),
  historySize: int().min(1).max(1_000_000).default(1024).describe('Ticks kept per topic for resume (sub with since); memory is historySize x topics.'),
  historyMaxAgeSec: int().min(1).max(86_400).default(120).describe('Ticks older than this are not replayed on resume; an older resume point gets a snap with resync: true.'),
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
  slowSoftBytes: int().min(1024).max(1024 * 1024 * 1024).default(256 * 1024).describe('Slow consumers: past this many bytes buffered for a connection, its upd frames stop and its topics are marked stale; once drained it gets a snap with resync: true per topic.'),
  slowTimeoutMs: int().min(100).max(3_600_000).default(30_000).describe('Slow consumers: a connection stale for longer than this is closed with 4008 slow_consumer.'),
  maxBackpressureBytes: int().min(16 * 1024).max(1024 * 1024 * 1024).default(4 * 1024 * 1024).describe('Slow consumers: bytes buffered for one connection before it is closed with 4008 slow_consumer (a hard bound on per-connection memory).'),
  compression: z.enum(['off', 'shared', 'dedicated']).default('off').describe('permessage-deflate for clients that offer it: off, shared (one compressor, no context kept) or dedicated (a 4 KiB sliding window per connection). The tickwire.v1.msgpack+deflate subprotocol is always available and compresses once per frame for all clients instead.'),
  maxTopicsPerRequest: int().min(1).max(100_000).default(256).describe('Most topics one sub/unsub request may name.'),
  shutdownGraceMs: int().min(0).max(120_000).default(3000).describe('On SIGTERM/SIGINT: how long to wait for connections to close after sending them 1001 before exiting anyway.'),
  exposeMetrics: bool().default(true).describe('Serve Prometheus metrics at GET /metrics.'),
});

export type Config = z.infer<typeof configSchema>;

/** Rules that involve several fields; each names the field to fix. */
export const configRules: { path: keyof Config; check: (c: Config) => boolean; message: string }[] = [
  { path: 'slowSoftBytes', check: (c) => c.slowSoftBytes < c.maxBackpressureBytes, message: 'must be smaller than maxBackpressureBytes (TICKWIRE_MAX_BACKPRESSURE_BYTES)' },
];
export type ConfigKey = keyof Config;
