import uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Hub, TopicDelivery } from '../hub/hub.js';
import type { Metrics } from '../metrics.js';
import { Gate, type AuthSetup } from './gate.js';
import type { Session } from './session.js';
import { SharedSlots, type ConnectionSlots } from './slots.js';
import { SseTransport } from './sse.js';
import type { Transport } from './transport.js';
import { createApp, UwsTransport } from './uws.js';

export type HttpRoutes = (app: uWS.TemplatedApp) => void;

/** The hub's deliver callback, whatever the transport: frames wait in the session for the end of the flush. */
const deliver = (s: Session, frame: Uint8Array): void => s.enqueue(frame);

/**
 * The client transports of one uWS app, as peers: one listener, one watchdog, one hub flush for
 * every session of every transport, one shutdown. Admission (the Gate) counts them together.
 */
export class Transports {
  private listenSocket: uWS.us_listen_socket | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private aborted = false;
  private readonly topicDelivery: TopicDelivery<Session> | undefined;

  constructor(
    private readonly cfg: Config,
    private readonly app: uWS.TemplatedApp,
    private readonly hub: Hub<Session>,
    private readonly gate: Gate,
    readonly peers: readonly Transport[],
  ) {
    this.topicDelivery = peers.find((p) => p.topicDelivery)?.topicDelivery;
  }

  /** Open connections of every transport. */
  get connectionCount(): number {
    let n = 0;
    for (const p of this.peers) n += p.connectionCount;
    return n;
  }

  /** Open SSE streams. */
  get sseCount(): number {
    return this.peers.find((p) => p.name === 'sse')?.connectionCount ?? 0;
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.cfg.host, this.cfg.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.cfg.host}:${this.cfg.port} (port in use or address unavailable)`));
        this.listenSocket = socket;
        this.watchdog = setInterval(() => this.tick(Date.now()), 250);
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /**
   * One hub flush, run by the gateway's flush loop. Sessions get the frames handed over and write
   * them right after it, corked; a `viaTopic` transport's live sessions get upd frames from its
   * fan-out during it.
   */
  flush(): void {
    for (const p of this.peers) p.beforeFlush();
    for (const p of this.peers) p.sessions.flushing = true;
    try {
      this.hub.flush(deliver, Date.now(), this.topicDelivery);
    } finally {
      for (const p of this.peers) p.sessions.flushing = false;
    }
    for (const p of this.peers) p.sessions.afterFlush();
  }

  heartbeat(ts: number): void {
    for (const p of this.peers) p.heartbeat(ts);
  }

  /** Every 250 ms: slow consumers, token expiry and lifetime deadlines, admission pruning. */
  private tick(now: number): void {
    for (const p of this.peers) p.tick(now);
    this.gate.prune(now);
  }

  /**
   * Stops accepting, sends every connection `{op:"shutdown"}` and waits `noticeMs`, closes them
   * with 1001, and waits up to `graceMs` for them to go; then nothing is open and nothing listens.
   */
  async shutdown(graceMs: number, noticeMs = 0): Promise<void> {
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
    if (noticeMs > 0 && this.connectionCount > 0) {
      // A notice first, so clients can reconnect to another instance before this one goes.
      const notice = { op: 'shutdown', ts: Date.now(), msg: 'server shutting down; reconnect (to another instance)' } as const;
      for (const p of this.peers) p.broadcast(notice);
      await new Promise((r) => setTimeout(r, noticeMs));
    }
    clearInterval(this.watchdog);
    const deadline = Date.now() + graceMs;
    await Promise.all(this.peers.map((p) => p.close(deadline)));
    // Whatever is left (clients that never answered the close) is cut, with the HTTP sockets.
    this.abort();
  }

  /** Cuts every socket and the listener at once (no notice, no close frames); idempotent. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    clearInterval(this.watchdog);
    // app.close() exists in v20.30's binary but not in its bundled typings.
    (this.app as uWS.TemplatedApp & { close(): void }).close();
  }
}

/**
 * The gateway's client edge: one uWS app with the WebSocket and SSE transports, then the other
 * HTTP routes. Each transport's counters are handed to `metrics` (read at scrape time).
 */
export function createTransports(
  cfg: Config,
  hub: Hub<Session>,
  metrics: Metrics,
  log: Logger,
  auth: AuthSetup,
  routes: HttpRoutes,
  /** maxConnections; shared between workers when there are several. */
  slots: ConnectionSlots = new SharedSlots(SharedSlots.cells(), 0, cfg.maxConnections),
): Transports {
  const app = createApp(cfg);
  const gate = new Gate(cfg, auth, slots);
  const peers = [new UwsTransport(app, cfg, hub, gate, metrics, log), new SseTransport(app, cfg, hub, gate, metrics, log)];
  for (const p of peers) metrics.addTransport(p);
  routes(app);
  return new Transports(cfg, app, hub, gate, peers);
}
