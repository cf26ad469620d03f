import uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Hub, TopicDelivery } from '../hub/hub.js';
import type { Metrics } from '../metrics.js';
import { CODECS, negotiate, type WireCodec } from '../codecs.js';
import { closeCode } from '../../../protocol/src/errors.js';
import { NO_OFFER_CODEC, subprotocolList } from '../../../protocol/src/subprotocols.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import { isRefusal, type Gate, type Refusal } from './gate.js';
import { refuse } from './refusal.js';
import type { Session } from './session.js';
import { Sessions } from './sessions.js';
import { SlowCloses } from './slow-close.js';
import type { TransportStats } from './stats.js';
import type { Transport } from './transport.js';
import { upgradeRequiredRoute } from './upgrade-required.js';
import { HB_TOPIC, WsConn, type WsData, type WsShared } from './uws-conn.js';
import { UWS_HEADROOM, UwsFanout } from './uws-fanout.js';
import { intern } from './intern.js';

export type { AuthSetup } from './gate.js';
/** A hub subscriber: the session of a WebSocket connection or an SSE stream. */
export type Subscriber = Session;

const decoder = new TextDecoder();

/**
 * WebSocket (`/v1`): the uWS glue. Admission is the Gate's, the protocol rules the Session's,
 * publish membership and the backpressure scan the fan-out's (uws-fanout.ts).
 */
export class UwsTransport implements Transport {
  readonly name = 'websocket';
  readonly sessions: Sessions;
  private readonly fanout: UwsFanout;
  private readonly shared: WsShared;

  constructor(
    app: uWS.TemplatedApp,
    private readonly cfg: Config,
    hub: Hub<Session>,
    private readonly gate: Gate,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.sessions = new Sessions(cfg, hub, gate, log, (code) => metrics.errors.inc({ code }));
    const perMessageDeflate = cfg.compression !== 'off';
    this.fanout = new UwsFanout(app, cfg.maxBackpressureBytes, perMessageDeflate, this.sessions.stats);
    const slowCloses = new SlowCloses<WsConn>(cfg.slowCloseGraceMs, closeCode('slow_consumer'), 'slow consumer', (c) => c.ws);
    this.shared = { fanout: this.fanout, slowCloses, stats: this.sessions.stats, perMessageDeflate };
    app.ws<WsData>('/v1', {
      compression: { off: uWS.DISABLED, shared: uWS.SHARED_COMPRESSOR, dedicated: uWS.DEDICATED_COMPRESSOR_4KB }[cfg.compression],
      // uWS cuts a frame over its limit with no close frame (the client sees 1006). It gets
      // twice the configured limit, and tickwire enforces the real one with a proper 1009.
      maxPayloadLength: cfg.maxPayloadLength * 2,
      idleTimeout: cfg.idleTimeoutSec,
      // uWS drops (rather than queues) any send past its limit, the close frame included, so a
      // connection closed at that limit would see 1006 instead of 4008. tickwire enforces
      // maxBackpressureBytes itself (Session) and gives uWS headroom above it, so the 4008
      // close frame always fits.
      maxBackpressure: cfg.maxBackpressureBytes * 2 + UWS_HEADROOM,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      drain: (ws) => this.drained(ws.getUserData().conn),
      close: (ws, code) => this.closed(ws, code),
    });
    upgradeRequiredRoute(app, Boolean(cfg.tlsCertFile));
  }

  get stats(): TransportStats {
    return this.sessions.stats;
  }

  get connectionCount(): number {
    return this.sessions.count;
  }

  get topicDelivery(): TopicDelivery<Session> {
    return this.fanout.delivery;
  }

  /**
   * The upgrade, cheapest checks first, all synchronous: the token too (node:crypto key objects
   * loaded at start), so the upgrade never takes uWS's asynchronous path (issue 13 point 9).
   */
  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const offered = req.getHeader('sec-websocket-protocol');
    const key = req.getHeader('sec-websocket-key');
    const extensions = req.getHeader('sec-websocket-extensions');
    const connection = req.getHeader('connection').toLowerCase();
    const hello = {
      remote: intern(decoder.decode(res.getRemoteAddressAsText())),
      origin: req.getHeader('origin'),
      authz: req.getHeader('authorization'),
      queryToken: req.getQuery('access_token') ?? '',
      now: Date.now(),
    };

    // RFC 6455 §4.1: the Connection header carries the `upgrade` token; uWS does not check it. A
    // handshake with `Connection: close` was closed right after its 101 (or crashed the process)
    // on the former asynchronous upgrade path (uWebSockets PR #1929): refused up front.
    if (!connection.split(',').some((t) => t.trim() === 'upgrade') || connection.includes('close')) {
      const body = 'a WebSocket handshake needs Connection: Upgrade (and not close)';
      return this.refuse(res, { status: '400 Bad Request', reason: 'handshake', body });
    }
    const refusal = this.gate.admit(hello);
    if (refusal) return this.refuse(res, refusal);
    const codec = negotiate(offered);
    if (!codec) {
      const body =
        `unsupported WebSocket subprotocol "${offered}"; ` + `offer ${subprotocolList()} (or none for ${NO_OFFER_CODEC.toUpperCase()})`;
      return this.refuseAdmitted(res, { status: '400 Bad Request', reason: 'subprotocol', body });
    }

    // Completed here, inside the upgrade handler: the token check is synchronous (see Gate.identify).
    const who = this.gate.identify(hello);
    if (isRefusal(who)) return this.refuseAdmitted(res, who);
    const conn = new WsConn(this.shared, this.sessions.create(codec.id, hello.remote, who, true, hello.now));
    // Echo the chosen subprotocol only when the client offered some (RFC 6455 §4.2.2).
    res.upgrade<WsData>({ conn }, key, offered ? codec.subprotocol : '', extensions, context);
  }

  /** A refusal after `gate.admit` let the attempt in: its reserved connection slot goes back. */
  private refuseAdmitted(res: uWS.HttpResponse, r: Refusal): void {
    this.gate.release();
    this.refuse(res, r);
  }

  private refuse(res: uWS.HttpResponse, r: Refusal): void {
    refuse(res, r, this.metrics, false);
  }

  /** Nothing is sent from open: the first frames go out with the first flush or reply. */
  private open(ws: uWS.WebSocket<WsData>): void {
    const conn = ws.getUserData().conn;
    conn.ws = ws;
    ws.subscribe(HB_TOPIC(CODECS[conn.session.codec] as WireCodec));
    this.sessions.open(conn.session, Date.now());
  }

  private closed(ws: uWS.WebSocket<WsData>, code: number): void {
    const conn = ws.getUserData().conn;
    conn.ws = undefined;
    this.fanout.closed(conn);
    this.shared.slowCloses.forget(conn);
    conn.session.gone();
    this.log.debug({ conn: conn.session.id, code }, 'connection closed');
  }

  private message(ws: uWS.WebSocket<WsData>, data: ArrayBuffer, isBinary: boolean): void {
    const s = ws.getUserData().conn.session;
    if (s.closed) return;
    const codec = CODECS[s.codec] as WireCodec;
    if (data.byteLength > this.cfg.maxPayloadLength) {
      this.metrics.errors.inc({ code: 'message_too_big' });
      return s.end('message_too_big', `frame of ${data.byteLength} bytes exceeds ${this.cfg.maxPayloadLength}`);
    }
    const now = Date.now();
    if (!s.admitMessage(now)) return;
    if (isBinary !== codec.binary) {
      const msg = `expected ${codec.binary ? 'binary msgpack' : 'text JSON'} frames on ${codec.subprotocol}`;
      return s.reply({ op: 'err', code: 'bad_frame', msg });
    }
    let value: unknown;
    try {
      value = codec.decode(new Uint8Array(data));
    } catch (e) {
      return s.reply({ op: 'err', code: 'bad_frame', msg: `undecodable ${codec.name} frame: ${(e as Error).message}`.slice(0, 200) });
    }
    s.request(value, now);
  }

  /** uWS drain callback, and the watchdog: a pending slow close, or a stale connection that caught up. */
  private drained(conn: WsConn): void {
    if (conn.session.closed) return this.shared.slowCloses.check(conn, Date.now());
    conn.session.drained();
  }

  beforeFlush(): void {
    this.fanout.beforeFlush();
  }

  tick(now: number): void {
    this.sessions.tick(now, true);
    this.shared.slowCloses.tick(now);
  }

  heartbeat(ts: number): void {
    this.broadcast({ op: 'hb', ts });
    // Heartbeats reach every connection outside the publish budget: check them all (uws-fanout.ts, scan).
    for (const s of this.sessions.all) s.checkBuffer();
  }

  /** Native publish: one call per codec fans the shared frame out in C++ to every connection. */
  broadcast(msg: ServerMessage): void {
    for (const codec of CODECS) this.fanout.app.publish(HB_TOPIC(codec), codec.encode(msg), codec.binary);
  }

  async close(deadline: number): Promise<void> {
    this.sessions.endAll('going_away', 'server shutting down');
    this.shared.slowCloses.endAll();
    while (this.sessions.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
}

/** uWS reports a bad certificate or key only as "App construction failed": name the settings. */
export function createApp(cfg: Config): uWS.TemplatedApp {
  if (!cfg.tlsCertFile) return uWS.App();
  try {
    return uWS.SSLApp({ cert_file_name: cfg.tlsCertFile, key_file_name: cfg.tlsKeyFile });
  } catch {
    throw new ConfigError(
      'Invalid configuration:\n  TICKWIRE_TLS_CERT_FILE / TICKWIRE_TLS_KEY_FILE (--tls-cert-file / --tls-key-file): ' +
        `cannot create the TLS listener from ${cfg.tlsCertFile} and ${cfg.tlsKeyFile} (not PEM, or a key that does not match ` +
        `the certificate)`,
    );
  }
}
