import type { Identity, TopicMatcher } from '../auth/identity.js';
import { AuthError, type TokenVerifier } from '../auth/jwt.js';
import { TokenCache } from '../auth/token-cache.js';
import type { Config } from '../config/schema.js';
import { IpAdmission } from './limits.js';

/** How the transport authenticates clients (authMode). */
export interface AuthSetup {
  /** undefined for authMode=none: everyone reads every market topic. */
  verifier: TokenVerifier | undefined;
  /** Market topics a connection without a token may read; undefined refuses it (authMode=jwt). */
  anonymous: TopicMatcher | undefined;
}

/** A refused connection attempt: HTTP status, the metric label, and the plain-text reason. */
export interface Refusal {
  status: string;
  reason: string;
  body: string;
}

/** What the gate needs from a connection attempt, read from the request before any await. */
export interface Hello {
  remote: string;
  origin: string;
  /** The `Authorization` header ('' when absent). */
  authz: string;
  /** The `access_token` query parameter ('' when absent). */
  queryToken: string;
  now: number;
}

const EVERYONE: Identity = { sub: undefined, markets: () => true, expiresAt: undefined };

export function isRefusal(v: Identity | Refusal): v is Refusal {
  return 'status' in v;
}

/**
 * Admission shared by every client transport (WebSocket upgrades and SSE streams), so that both
 * obey one set of rules and one count: Origin, maxConnections, per-IP connections and connect
 * rate, and the token. Connections of every transport count against the same limits.
 */
export class Gate {
  private readonly admission: IpAdmission;
  private readonly tokenCache = new TokenCache(10_000);
  private readonly origins: Set<string> | undefined;
  /** Open connections of every transport. */
  private open = 0;
  /** Attempts waiting for an asynchronous token check; they count against maxConnections. */
  private pending = 0;

  constructor(
    private readonly cfg: Config,
    private readonly auth: AuthSetup,
  ) {
    this.admission = new IpAdmission(cfg.maxConnectionsPerIp, cfg.connectRatePerIp);
    const origins = cfg.allowedOrigins.split(',').map((s) => s.trim()).filter(Boolean);
    this.origins = origins.length ? new Set(origins) : undefined;
  }

  /** The limits, cheapest first: Origin, maxConnections, per-IP connections and attempt rate. */
  admit(h: Hello): Refusal | undefined {
    if (h.origin && this.origins && !this.origins.has(h.origin)) return { status: '403 Forbidden', reason: 'origin', body: `origin ${h.origin} is not allowed` };
    if (this.open + this.pending >= this.cfg.maxConnections) return { status: '503 Service Unavailable', reason: 'max_connections', body: 'connection limit reached; try another instance or later' };
    const admitted = this.admission.admit(h.remote, h.now);
    if (admitted === 'too_many_connections') return { status: '429 Too Many Requests', reason: 'per_ip_connections', body: `at most ${this.cfg.maxConnectionsPerIp} connections per client address` };
    if (admitted === 'rate_limited') return { status: '429 Too Many Requests', reason: 'connect_rate', body: 'too many connection attempts; slow down' };
    return undefined;
  }

  /**
   * Who the client is: at once when there is no auth, no token (anonymous) or a cached token;
   * otherwise a promise of the verified token. The caller must not touch a response whose client
   * aborted meanwhile.
   */
  identify(h: Hello): Identity | Refusal | Promise<Identity | Refusal> {
    const verifier = this.auth.verifier;
    if (!verifier) return EVERYONE;
    const token = h.authz.startsWith('Bearer ') ? h.authz.slice(7).trim() : h.queryToken;
    if (!token) {
      if (this.auth.anonymous) return { sub: undefined, markets: this.auth.anonymous, expiresAt: undefined };
      return { status: '401 Unauthorized', reason: 'missing', body: 'a token is required: Authorization: Bearer <jwt> or ?access_token=<jwt>' };
    }
    const cached = this.tokenCache.get(token, h.now);
    if (cached) return cached;
    this.pending++;
    return verifier.verify(token).then(
      (identity) => {
        this.pending--;
        this.tokenCache.set(token, identity);
        return identity;
      },
      (e: unknown) => {
        this.pending--;
        return { status: '401 Unauthorized', reason: e instanceof AuthError ? e.reason : 'malformed', body: e instanceof AuthError ? e.message : 'token rejected' };
      },
    );
  }

  opened(remote: string): void {
    this.open++;
    this.admission.opened(remote);
  }

  closed(remote: string): void {
    this.open--;
    this.admission.closed(remote);
  }

  prune(now: number): void {
    this.admission.prune(now);
  }
}
