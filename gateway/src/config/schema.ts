import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES } from '../../../protocol/src/record.js';
import { parseRetention } from '../candles/history.js';

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
  workers: z
    .union([z.literal('auto'), int().min(1).max(256)], { error: 'expected auto or a whole number from 1 to 256' })
    .default('auto')
    .describe(
      'Worker threads, each running its own uWS app on the same port (the kernel spreads connections over them); auto is one per ' +
        'core (os.availableParallelism()). 1 runs everything on the main thread. With more than one, the source and sequencing stay ' +
        'on the main thread, maxConnections holds over all workers, and maxConnectionsPerIp and connectRatePerIp apply per worker. ' +
        'See docs/workers.md.',
    ),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Minimum level of the log lines written to stdout.'),
  logFormat: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .describe(
      'How log lines are written to stdout: json (one JSON object per line, for log collectors), pretty (one readable line each, ' +
        'after a start-up banner with the URLs), or auto: pretty when stdout is a terminal, json otherwise.',
    ),

  tlsCertFile: z
    .string()
    .default('')
    .describe('TLS: PEM certificate file; with tlsKeyFile set, the gateway serves wss:// and https:// only.'),
  tlsKeyFile: z.string().default('').describe('TLS: PEM private key file.'),

  authMode: z
    .enum(['none', 'jwt'])
    .default('none')
    .describe(
      'none: anyone may connect and read every market topic. jwt: a JWT is checked at the upgrade (Authorization: Bearer, or ' +
        '?access_token= for browsers). A JWT key setting with authMode=none stops startup (exit 2), so a forgotten mode cannot leave ' +
        'the gateway open.',
    ),
  jwtSecret: z
    .string()
    .default('')
    .describe(
      'JWT: HMAC shared secret for HS256/HS384/HS512 (at least 32 bytes). Exactly one of jwtSecret, jwtPublicKeyFile, jwtJwksFile is ' +
        'required with authMode=jwt.',
    ),
  jwtPublicKeyFile: z
    .string()
    .default('')
    .describe('JWT: PEM public key file; RS256 for an RSA key (at least 2048 bits), ES256 for a P-256 EC key, EdDSA for an Ed25519 key.'),
  jwtJwksFile: z
    .string()
    .default('')
    .describe("JWT: JSON Web Key Set file (public RSA/P-256/Ed25519 keys, chosen by the token's kid), read once at start."),
  jwtIssuer: z.string().default('').describe('JWT: required iss claim (not checked when empty).'),
  jwtAudience: z.string().default('').describe('JWT: required aud claim (not checked when empty).'),
  jwtClockToleranceSec: int().min(0).max(300).default(5).describe('JWT: leeway for exp and nbf, in seconds.'),
  anonymousTopics: z
    .string()
    .default('')
    .describe(
      'With authMode=jwt: comma-separated topic patterns (trade.*, quote.AAPL) that connections without a token may read; empty ' +
        'refuses them (HTTP 401).',
    ),
  adminToken: z
    .string()
    .default('')
    .describe('Bearer token for the admin endpoints (POST /v1/publish); they answer 404 when empty. At least 16 characters.'),
  metricsPublic: bool()
    .default(true)
    .describe('Serve /metrics without the admin token; when false it requires Authorization: Bearer <adminToken>.'),

  maxConnections: int()
    .min(1)
    .max(10_000_000)
    .default(200_000)
    .describe(
      'Limits: open connections in total (WebSocket connections and SSE streams); beyond it upgrades and SSE requests get HTTP 503.',
    ),
  maxConnectionsPerIp: int()
    .min(1)
    .max(10_000_000)
    .default(2_000)
    .describe('Limits: open connections (WebSocket and SSE) per client IP; beyond it upgrades and SSE requests get HTTP 429.'),
  connectRatePerIp: z.coerce
    .number()
    .min(0.1)
    .max(1_000_000)
    .default(200)
    .describe('Limits: connection attempts per second per client IP (token bucket, burst 2x); beyond it HTTP 429.'),
  maxMessagesPerSec: z.coerce
    .number()
    .min(0.1)
    .max(1_000_000)
    .default(50)
    .describe(
      'Limits: client messages per second per connection (token bucket, burst 2x); an excess message gets err rate_limited, ' +
        'persistent abuse closes with 4029.',
    ),
  maxSubscriptionsPerConnection: int()
    .min(1)
    .max(1_000_000)
    .default(1_000)
    .describe('Limits: topics one connection may be subscribed to; more get err too_many_subscriptions.'),
  allowedOrigins: z
    .string()
    .default('')
    .describe('Limits: comma-separated Origin values allowed to upgrade (browsers send Origin); empty allows any. Others get HTTP 403.'),
  maxConnectionLifetimeSec: int()
    .min(0)
    .max(30 * 86_400)
    .default(0)
    .describe('Limits: close connections older than this with 4002 (reconnect), spreading long-lived clients over instances; 0 disables.'),
  shutdownNoticeMs: int()
    .min(0)
    .max(60_000)
    .default(500)
    .describe(
      'On SIGTERM/SIGINT: time between the {op:"shutdown"} notice and closing connections with 1001, so clients can reconnect ' +
        'elsewhere first.',
    ),

  source: z.enum(['embedded', 'kafka']).default('embedded').describe('Where ticks come from: the in-process market simulator, or Kafka.'),
  feedRate: z.coerce
    .number()
    .min(0)
    .max(10_000_000)
    .default(1000)
    .describe('Embedded feed: mean total ticks per second across all symbols (0 pauses the feed).'),
  feedSeed: int().default(1).describe('Embedded feed: PRNG seed; the same seed gives the same market.'),
  feedSymbols: z
    .string()
    .default('BTC-USD,ETH-USD,SOL-USD,AAPL,MSFT,NVDA,EUR-USD')
    .describe('Embedded feed: comma-separated symbols; each gets a trade.<SYMBOL> and a quote.<SYMBOL> topic.'),
  feedBooks: bool()
    .default(true)
    .describe(
      'Embedded feed: every symbol has an order book (book.<SYMBOL> and its depth views); false for trades and quotes only ' +
        '(quotes still come from the simulated book).',
    ),
  feedBurstiness: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Embedded feed: 0 for a steady rate, up to 1 for frequent short bursts (the mean rate stays feedRate).'),

  symbolsFile: z
    .string()
    .default('')
    .describe(
      'Symbol directory (GET /v1/symbols, unknown_symbol on sub): a JSON file listing the instruments ' +
        "(see docs/ingest.md#symbol-directory), read once at start. Empty: the embedded feed's symbols in embedded mode, " +
        'symbolsTopic or no directory in Kafka mode.',
    ),
  symbolsTopic: z
    .string()
    .default('')
    .describe(
      'Symbol directory: a compacted Kafka topic (key = symbol, value = JSON or msgpack map, tombstone deletes; ' +
        'see docs/ingest.md#symbol-directory), read from its beginning at start and kept live, on kafkaBrokers. Empty: no topic.',
    ),

  candleGraceMs: int()
    .min(0)
    .max(60_000)
    .default(2000)
    .describe(
      'Candles: how long after a bucket ends (by the clock) its candle is closed when no trade of a later bucket came; a trade ' +
        'for a closed bucket is late (counted in tickwire_candle_late_trades_total, never folded into another bucket).',
    ),
  candleRetention: z
    .string()
    .default('1s:3600,1m:10080,5m:8640,15m:2880,1h:8760,1d:3650')
    .describe(
      'Candles: closed candles kept per topic for GET /v1/candles, as <interval>:<count>,... (unnamed intervals keep these ' +
        'defaults; 0 keeps none). 64 bytes per candle: the defaults take 2.4 MB per symbol when full.',
    ),
  candleTopic: z
    .string()
    .default('tickwire.candles')
    .describe(
      'Candles, Kafka mode: the compacted Kafka topic (created if missing) that complete closed candles are written to and read ' +
        'back from at start, so that history survives restarts and is the same on every instance (docs/ingest.md#candle-topic). ' +
        'Empty: history in memory only.',
    ),

  kafkaBrokers: z.string().min(1).default('127.0.0.1:9092').describe('Kafka source: comma-separated bootstrap brokers (host:port).'),
  kafkaTopics: z
    .string()
    .min(1)
    .default('ticks')
    .describe('Kafka source: comma-separated Kafka topics to consume (record key = tickwire topic, value = one tick; see docs/ingest.md).'),
  kafkaClientId: z.string().min(1).default('tickwire').describe('Kafka source: client id reported to the brokers.'),
  kafkaGroupPrefix: z
    .string()
    .min(1)
    .default('tickwire')
    .describe(
      'Kafka source: prefix of the consumer group id; each instance adds a unique suffix so that every instance reads every ' +
        'partition.',
    ),
  kafkaWarmStartSec: int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(300)
    .describe(
      'Kafka source: on startup, read back this many seconds of each partition before going live, so snapshots exist before the ' +
        'first live tick...',
    ),
  kafkaWarmStartMaxRecords: int()
    .min(0)
    .max(100_000_000)
    .default(100_000)
    .describe('...but at most this many records per partition, to bound startup time.'),
  kafkaMaxRecordBytes: int()
    .min(64)
    .max(16 * 1024 * 1024)
    .default(DEFAULT_MAX_RECORD_BYTES)
    .describe('Kafka source: records with a larger value are rejected as oversize (counted, logged, skipped).'),
  payloadMaxDepth: int()
    .min(1)
    .max(1000)
    .default(32)
    .describe(
      'Free-form payloads (user.<sub>.<stream>, sys.announce; from Kafka or POST /v1/publish): maps and arrays nested deeper ' +
        'than this are rejected at ingest (Kafka: counted as too_deep and skipped; publish: 400).',
    ),
  payloadMaxBytes: int()
    .min(256)
    .max(16 * 1024 * 1024)
    .default(64 * 1024)
    .describe(
      'Free-form payloads: estimated encoded size above which they are rejected at ingest ' +
        '(Kafka: counted as too_large and skipped; publish: 400).',
    ),
  kafkaStaleMs: int()
    .min(500)
    .max(600_000)
    .default(3000)
    .describe('Kafka source: with no successful fetch for this long the source is not live: /readyz answers 503 until it recovers.'),
  kafkaRetryMaxMs: int()
    .min(100)
    .max(600_000)
    .default(5000)
    .describe('Kafka source: cap of the exponential backoff between reconnection attempts.'),
  kafkaMetadataRefreshMs: int()
    .min(100)
    .max(300_000)
    .default(2000)
    .describe(
      'Kafka source: how often the configured topics are surveyed. Topics created and partitions added are picked up ' +
        '(read from their earliest offset), and offsets that went back (a topic deleted and recreated) are detected, within this long.',
    ),

  flushIntervalMs: z.coerce
    .number()
    .min(0)
    .max(1000)
    .default(2)
    .describe(
      'How often pending ticks are flushed to subscribers, in ms; ticks of one topic within a flush share one frame. 0 flushes on ' +
        'every event-loop turn.',
    ),
  bookMaxDepth: int()
    .min(100)
    .max(100_000)
    .default(1000)
    .describe(
      'Order books: price levels kept per side of each book (book.<SYMBOL> carries them all); worse levels are dropped, ' +
        'and a level pushed out is sent as a removal. At least 100, the deepest view.',
    ),
  maxTicksPerFrame: int()
    .min(1)
    .max(65_536)
    .default(256)
    .describe('Upper bound on ticks in one upd frame; a busier topic is split into several consecutive frames.'),
  historyMinWindowSec: int()
    .min(1)
    .max(86_400)
    .default(30)
    .describe(
      'Resume history: every topic keeps at least the ticks of its last this many seconds, so a client away that long resumes (sub ' +
        'with since) without resync, while historyBudgetBytes allows.',
    ),
  historyBudgetBytes: int()
    .min(0)
    .max(2 ** 50)
    .default(2 * 1024 ** 3)
    .describe(
      'Resume history: bytes for all topics together (about 40-56 B per market tick), split evenly over the copies (the main thread ' +
        'and each worker). When it binds, the topic holding the longest window gives way first; see docs/operations.md#resume-history.',
    ),
  historyMaxAgeSec: int()
    .min(1)
    .max(86_400)
    .default(120)
    .describe('Ticks older than this are not replayed on resume; an older resume point gets a snap with resync: true.'),
  heartbeatIntervalMs: int()
    .min(100)
    .max(60_000)
    .default(2000)
    .describe('Interval of the {op:"hb"} frame every connection receives, in ms.'),

  idleTimeoutSec: int()
    .min(0)
    .max(960)
    .default(120)
    .refine((v) => v === 0 || v >= 8, {
      message: 'uWebSockets.js aborts the process for idle timeouts of 1–7 s; use 0 (off) or at least 8',
    })
    .describe(
      'Close a WebSocket that sent nothing (not even a pong to the transport ping) for this many seconds; 0 disables. uWS pings ' +
        'automatically before it expires.',
    ),
  maxPayloadLength: int()
    .min(256)
    .max(16 * 1024 * 1024)
    .default(16 * 1024)
    .describe('Largest inbound WebSocket message in bytes; a larger one closes the connection with 1009.'),
  slowSoftBytes: int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(256 * 1024)
    .describe(
      'Slow consumers: past this many bytes buffered for a connection, its upd frames stop and its topics are marked stale; once ' +
        'drained it gets a snap with resync: true per topic.',
    ),
  slowTimeoutMs: int()
    .min(100)
    .max(3_600_000)
    .default(30_000)
    .describe('Slow consumers: a connection stale for longer than this is closed with 4008 slow_consumer.'),
  slowCloseGraceMs: int()
    .min(0)
    .max(600_000)
    .default(30_000)
    .describe(
      'Slow consumers: once a connection is to be closed with 4008, nothing more is sent to it and the close frame waits until ' +
        'its buffered data is written (so the client sees 4008, not 1006); after this many ms it is sent anyway.',
    ),
  maxBackpressureBytes: int()
    .min(16 * 1024)
    .max(1024 * 1024 * 1024)
    .default(4 * 1024 * 1024)
    .describe(
      'Slow consumers: bytes buffered for one connection before it is closed with 4008 slow_consumer (a hard bound on per-connection ' +
        'memory).',
    ),
  compression: z
    .enum(['off', 'shared', 'dedicated'])
    .default('off')
    .describe(
      'permessage-deflate for clients that offer it: off, shared (one compressor, no context kept) or dedicated (a 4 KiB sliding ' +
        'window per connection). The tickwire.v1.msgpack+deflate subprotocol is always available and compresses once per frame for all ' +
        'clients instead.',
    ),
  maxTopicsPerRequest: int().min(1).max(100_000).default(256).describe('Most topics one sub/unsub request may name.'),
  topicsPerMessage: int()
    .min(1)
    .max(100_000)
    .default(32)
    .describe(
      'Limits: a sub/unsub naming more topics than this counts as one message per started group of this many against ' +
        'maxMessagesPerSec, so churn through many topics per message costs proportionally.',
    ),
  maxWaitingPerConnection: int()
    .min(0)
    .max(10_000_000)
    .default(500)
    .describe(
      'Limits: subscriptions of one connection to topics that have no data yet (a topic takes memory only once it has a tick); more ' +
        'get err too_many_waiting.',
    ),
  maxWaitingPerIp: int()
    .min(0)
    .max(100_000_000)
    .default(10_000)
    .describe(
      'Limits: subscriptions to topics with no data yet from one client IP, over its connections (per worker thread); more get err ' +
        'too_many_waiting.',
    ),
  maxWaitingTotal: int()
    .min(0)
    .max(100_000_000)
    .default(100_000)
    .describe('Limits: subscriptions to topics with no data yet over all connections (per worker thread); more get err too_many_waiting.'),
  shutdownGraceMs: int()
    .min(0)
    .max(120_000)
    .default(3000)
    .describe('On SIGTERM/SIGINT: how long to wait for connections to close after sending them 1001 before exiting anyway.'),
  exposeMetrics: bool().default(true).describe('Serve Prometheus metrics at GET /metrics.'),
});

export type Config = z.infer<typeof configSchema>;

/** Rules that involve several fields; each names the field to fix. */
export const configRules: { path: keyof Config; check: (c: Config) => boolean; message: string }[] = [
  {
    path: 'slowSoftBytes',
    check: (c) => c.slowSoftBytes < c.maxBackpressureBytes,
    message: 'must be smaller than maxBackpressureBytes (TICKWIRE_MAX_BACKPRESSURE_BYTES)',
  },
  { path: 'tlsKeyFile', check: (c) => !c.tlsCertFile === !c.tlsKeyFile, message: 'tlsCertFile and tlsKeyFile go together' },
  {
    path: 'authMode',
    check: (c) => c.authMode === 'none' || [c.jwtSecret, c.jwtPublicKeyFile, c.jwtJwksFile].filter(Boolean).length === 1,
    message: 'jwt needs exactly one key source: jwtSecret, jwtPublicKeyFile or jwtJwksFile',
  },
  {
    path: 'jwtSecret',
    check: (c) => !c.jwtSecret || Buffer.byteLength(c.jwtSecret) >= 32,
    message: 'an HS256 secret must be at least 32 bytes',
  },
  // A key without jwt mode would run a fully open gateway while its operator believes it checks tokens.
  ...(['jwtSecret', 'jwtPublicKeyFile', 'jwtJwksFile'] as const).map((path) => ({
    path,
    check: (c: Config) => c.authMode === 'jwt' || !c[path],
    message:
      'is set but TICKWIRE_AUTH_MODE (--auth-mode) is none, so no token would be checked: set TICKWIRE_AUTH_MODE=jwt, or remove ' +
      'the key',
  })),
  {
    path: 'candleRetention',
    check: (c) => typeof parseRetention(c.candleRetention) !== 'string',
    message: 'expected <interval>:<count>,... with intervals 1s, 1m, 5m, 15m, 1h, 1d',
  },
  {
    path: 'symbolsTopic',
    check: (c) => !c.symbolsTopic || !c.symbolsFile,
    message: 'symbolsFile and symbolsTopic are two directories: set one',
  },
  ...(['tlsCertFile', 'tlsKeyFile', 'jwtPublicKeyFile', 'jwtJwksFile', 'symbolsFile'] as const).map((path) => ({
    path,
    check: (c: Config) => !c[path] || readable(c[path]),
    message: 'file not found or not readable',
  })),
  {
    path: 'historyMinWindowSec',
    check: (c) => c.historyMinWindowSec <= c.historyMaxAgeSec,
    message: 'must not exceed historyMaxAgeSec (TICKWIRE_HISTORY_MAX_AGE_SEC): older ticks are never replayed',
  },
  { path: 'adminToken', check: (c) => !c.adminToken || c.adminToken.length >= 16, message: 'must be at least 16 characters' },
  {
    path: 'metricsPublic',
    check: (c) => c.metricsPublic || c.adminToken !== '',
    message: 'protecting /metrics needs adminToken (TICKWIRE_ADMIN_TOKEN)',
  },
];
export type ConfigKey = keyof Config;

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** The number of worker threads `workers` stands for on this machine. */
export function workerCount(cfg: Pick<Config, 'workers'>): number {
  return cfg.workers === 'auto' ? Math.min(256, availableParallelism()) : cfg.workers;
}
