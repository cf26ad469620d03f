import type { Identity, TopicMatcher } from '../auth/identity.js';
import { AuthError, type TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config/schema.js';
import { IpAdmission } from './limits.js';
import type { ConnectionSlots } from './slots.js';

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
 *
 * maxConnections is counted in slots (shared by every worker thread when there are several): a
 * successful `admit` reserves one; the caller either opens the connection (`opened`, and later
 * `closed` gives the slot back) or gives it back with `release` (refused after admission).
 */
export class Gate {
  private readonly admission: IpAdmission;
  private readonly origins: Set<string> | undefined;
  constructor(
    private readonly cfg: Config,
    private readonly auth: AuthSetup,
    private readonly slots: ConnectionSlots,
  ) {
    this.admission = new IpAdmission(cfg.maxConnectionsPerIp, cfg.connectRatePerIp);
    const origins = cfg.allowedOrigins
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    this.origins = origins.length ? new Set(origins) : undefined;
  }

  /**
   * The limits, cheapest first: Origin, maxConnections, per-IP connections and attempt rate.
   * `undefined` admits the attempt and reserves a connection slot for it (see the class comment).
   */
  admit(h: Hello): Refusal | undefined {
    if (h.origin && this.origins && !this.origins.has(h.origin))
      return { status: '403 Forbidden', reason: 'origin', body: `origin ${h.origin} is not allowed` };
    if (!this.slots.take())
      return {
        status: '503 Service Unavailable',
        reason: 'max_connections',
        body: 'connection limit reached; try another instance or later',
      };
    const admitted = this.admission.admit(h.remote, h.now);
    if (admitted === 'ok') return undefined;
    this.slots.give();
    if (admitted === 'too_many_connections')
      return {
        status: '429 Too Many Requests',
        reason: 'per_ip_connections',
        body: `at most ${this.cfg.maxConnectionsPerIp} connections per client address`,
      };
    return { status: '429 Too Many Requests', reason: 'connect_rate', body: 'too many connection attempts; slow down' };
  }

  /** Gives back the slot of an admitted attempt that did not become a connection. */
  release(): void {
    this.slots.give();
  }

  /**
   * Who the client of an admitted attempt is, or why it is refused. Always synchronous, so that a
   * WebSocket upgrade completes inside uWS's upgrade handler: this uWS build can close a WebSocket
   * upgraded later, from a corked callback after an awaited token check, with 1006 right after
   * its 101 (issue 13 point 9).
   */
  identify(h: Hello): Identity | Refusal {
    return identify(this.auth, h);
  }

  /** The admitted attempt is now an open connection; it keeps its slot until `closed`. */
  opened(remote: string): void {
    this.admission.opened(remote);
  }

  closed(remote: string): void {
    this.slots.give();
    this.admission.closed(remote);
  }

  prune(now: number): void {
    this.admission.prune(now);
  }
}

/** Who presents these credentials (token from `Authorization: Bearer` or `access_token`), or why they are refused. */
export function identify(auth: AuthSetup, h: Pick<Hello, 'authz' | 'queryToken' | 'now'>): Identity | Refusal {
  const verifier = auth.verifier;
  if (!verifier) return EVERYONE;
  const token = h.authz.startsWith('Bearer ') ? h.authz.slice(7).trim() : h.queryToken;
  if (!token) {
    if (auth.anonymous) return { sub: undefined, markets: auth.anonymous, expiresAt: undefined };
    const body = 'a token is required: Authorization: Bearer <jwt> or ?access_token=<jwt>';
    return { status: '401 Unauthorized', reason: 'missing', body };
  }
  try {
    return verifier.verify(token, h.now);
  } catch (e) {
    const known = e instanceof AuthError;
    return { status: '401 Unauthorized', reason: known ? e.reason : 'malformed', body: known ? e.message : 'token rejected' };
  }
}
