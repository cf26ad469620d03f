import type { Logger } from 'pino';
import { compilePatterns, patternList } from './auth/identity.js';
import { createVerifier } from './auth/jwt.js';
import type { Config } from './config/schema.js';
import { payloadLimits } from '../../protocol/src/payload.js';
import type { Hub } from './hub/hub.js';
import type { Metrics } from './metrics.js';
import type { Payload } from '../../protocol/src/ticks.js';
import { httpRoutes, type MetricsEndpoint } from './transport/http.js';
import type { ConnectionSlots } from './transport/slots.js';
import { builtWebDir } from './transport/static.js';
import type { AuthSetup } from './transport/gate.js';
import type { Session } from './transport/session.js';
import type { SymbolDirectory } from './symbols/directory.js';
import { createTransports, type Transports } from './transport/transports.js';
import type { CandlesDeps } from './transport/candles.js';

/** What the client-facing edge needs from the rest of the gateway (or, in a worker, from the primary). */
export interface EdgeDeps {
  hub: Hub<Session>;
  metrics: Metrics;
  /** What /readyz reports: the source is live. */
  ready: () => boolean;
  /** POST /v1/publish (admin): into the source's sink. */
  publish: (topic: string, data: Payload) => void;
  /** What /metrics serves; by default `metrics.registry`. */
  metricsEndpoint?: MetricsEndpoint;
  slots?: ConnectionSlots;
  /** The symbol directory (GET /v1/symbols, unknown_symbol); absent: none configured, every symbol accepted. */
  symbols?: SymbolDirectory | undefined;
  /** Closed candles for GET /v1/candles; absent: the route answers 404. */
  candles?: CandlesDeps['history'] | undefined;
}

/** One uWS app with its HTTP routes and heartbeat, listening. */
export interface Edge {
  readonly port: number;
  /** Its transports (WebSocket and SSE), driven together. */
  readonly transport: Transports;
  /** Graceful: `shutdown` notice, 1001 to every client, then the app is closed. */
  stop(): Promise<void>;
  /** At once: the app and every socket cut (no notice, no close frames); idempotent. */
  abort(): void;
}

export async function startEdge(cfg: Config, log: Logger, deps: EdgeDeps): Promise<Edge> {
  const auth: AuthSetup = {
    verifier: cfg.authMode === 'jwt' ? createVerifier(cfg) : undefined,
    anonymous: cfg.authMode === 'jwt' && cfg.anonymousTopics ? compilePatterns(patternList(cfg.anonymousTopics)) : undefined,
  };
  const routes = httpRoutes({
    ready: deps.ready,
    topics: () => deps.hub.topicInfo(),
    web: builtWebDir(),
    ...(deps.symbols ? { symbols: deps.symbols } : {}),
    snapshot: { hub: deps.hub, auth, symbols: deps.symbols, maxTopicsPerRequest: cfg.maxTopicsPerRequest },
    ...(deps.candles ? { candles: { history: deps.candles, auth, symbols: deps.symbols } } : {}),
    ...(cfg.exposeMetrics
      ? { metrics: deps.metricsEndpoint ?? deps.metrics.registry, metricsToken: cfg.metricsPublic ? undefined : cfg.adminToken }
      : {}),
    ...(cfg.adminToken
      ? { admin: { token: cfg.adminToken, publish: deps.publish, limits: payloadLimits(cfg), failures: deps.metrics.failures } }
      : {}),
  });
  const transport = createTransports(cfg, deps.hub, deps.metrics, log, auth, routes, deps.slots);
  for (const p of transport.peers) p.sessions.symbols = deps.symbols;
  const port = await transport.listen();
  const hbTimer = setInterval(() => transport.heartbeat(Date.now()), cfg.heartbeatIntervalMs);
  return {
    port,
    transport,
    async stop() {
      clearInterval(hbTimer);
      await transport.shutdown(cfg.shutdownGraceMs, cfg.shutdownNoticeMs);
    },
    abort() {
      clearInterval(hbTimer);
      transport.abort();
    },
  };
}
