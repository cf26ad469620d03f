import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import type { Hub } from '../hub/hub.js';
import type { CloseName, ErrorCode } from '../../../protocol/src/errors.js';
import type { SymbolCheck } from '../symbols/directory.js';
import { Deadlines } from './limits.js';
import { Session, type SessionConfig, type SessionContext } from './session.js';
import { newTransportStats, type TransportStats } from './stats.js';

/** What the registry tells admission about open connections (Gate.opened / Gate.closed). */
export interface OpenCount {
  opened(remote: string): void;
  closed(remote: string): void;
}

/**
 * The sessions of one transport and its counters: who is open, who is stale, whose token or
 * lifetime runs out when, and what the current hub flush handed to whom.
 */
export class Sessions implements SessionContext {
  readonly stats: TransportStats = newTransportStats();
  readonly all = new Set<Session>();
  flushing = false;
  /** The symbol directory sessions check subscriptions against (set by the edge; absent: none configured). */
  symbols: SymbolCheck | undefined;
  private readonly staleSet = new Set<Session>();
  private readonly deadlines = new Deadlines<Session>();
  private touchedList: Session[] = [];
  private doomed: Session[] = [];
  private nextId = 1;

  constructor(
    readonly cfg: SessionConfig,
    readonly hub: Hub<Session>,
    private readonly admission: OpenCount,
    readonly log: Logger,
    private readonly errors: (code: ErrorCode) => void,
  ) {}

  get count(): number {
    return this.all.size;
  }

  get staleCount(): number {
    return this.staleSet.size;
  }

  create(codec: number, remote: string, identity: Identity, viaTopic: boolean, now: number): Session {
    return new Session(this, this.nextId++, codec, remote, identity, viaTopic, now);
  }

  /** The session's socket is open: counted, given its deadline, subscribed to the broadcast topic. */
  open(s: Session, now: number): void {
    this.all.add(s);
    this.admission.opened(s.remote);
    this.stats.connectionsOpened++;
    s.open();
    const expiry = s.identity.expiresAt;
    const lifetime = this.cfg.maxConnectionLifetimeSec ? now + this.cfg.maxConnectionLifetimeSec * 1000 : undefined;
    const deadline = Math.min(expiry ?? Infinity, lifetime ?? Infinity);
    if (deadline !== Infinity) this.deadlines.add(s, deadline);
  }

  countError(code: ErrorCode): void {
    this.errors(code);
  }

  touched(s: Session): void {
    this.touchedList.push(s);
  }

  staleChanged(s: Session): void {
    if (s.stale && !s.closed) this.staleSet.add(s);
    else this.staleSet.delete(s);
  }

  closeAfterFlush(s: Session): void {
    this.doomed.push(s);
  }

  gone(s: Session): void {
    this.all.delete(s);
    this.staleSet.delete(s);
    this.deadlines.remove(s);
    this.admission.closed(s.remote);
  }

  /** After a hub flush: the closes it decided, then what it handed over, per session. */
  afterFlush(): void {
    if (this.doomed.length > 0) {
      const doomed = this.doomed;
      this.doomed = [];
      for (const s of doomed) s.slowConsumer('buffer over maxBackpressureBytes');
    }
    const touched = this.touchedList;
    if (touched.length === 0) return;
    this.touchedList = [];
    for (const s of touched) s.writeOut();
  }

  /**
   * The watchdog: stale sessions that drained (where the transport can measure it) or stayed
   * stale too long, and token expiry and lifetime deadlines.
   */
  tick(now: number, measured: boolean): void {
    for (const s of this.staleSet) {
      if (measured) s.drained();
      if (s.stale && now - s.staleSince > this.cfg.slowTimeoutMs) s.slowConsumer(`stale for over ${this.cfg.slowTimeoutMs} ms`);
    }
    this.stats.slowConsumers = this.staleSet.size;
    for (const s of this.deadlines.due(now)) {
      const expired = s.identity.expiresAt !== undefined && s.identity.expiresAt <= now;
      s.end(expired ? 'token_expired' : 'max_lifetime', expired ? 'token expired' : 'maximum connection lifetime reached');
    }
  }

  endAll(name: CloseName, reason: string): void {
    for (const s of [...this.all]) s.end(name, reason);
  }
}
