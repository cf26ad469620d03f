import uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { canRead, type Identity } from '../auth/identity.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Hub, HubSubscriber, TopicDelivery } from '../hub/hub.js';
import type { Metrics, TransportStats } from '../metrics.js';
import { CODECS, negotiate, type WireCodec } from '../codecs.js';
import { subprotocolList } from '../../../protocol/src/subprotocols.js';
import { closeCode, type CloseName } from '../../../protocol/src/errors.js';
import { isProtocolError, validateClientMessage, type ClientMessage, type ServerMessage } from '../../../protocol/src/messages.js';
import { ANNOUNCE_TOPIC } from '../../../protocol/src/topics.js';
import { Gate, isRefusal, type AuthSetup, type Refusal } from './gate.js';
import { Deadlines, TokenBucket } from './limits.js';
import { SseEndpoint, type SseStream } from './sse.js';
import { upgradeRequiredRoute } from './upgrade-required.js';
import { SlowCloses } from './slow-close.js';
import { SharedSlots, type ConnectionSlots } from './slots.js';
import { splitTopics, topicError } from './topic-errors.js';
import type { Transport } from './transport.js';

export type { AuthSetup } from './gate.js';

/** One WebSocket connection (uWS user data). */
export interface Conn extends HubSubscriber {
  readonly id: number;
  readonly codec: number;
  /** Live frames come from the hub per topic, through uWS publish (see UwsTransport.flush). */
  readonly viaTopic: true;
  readonly remote: string;
  readonly identity: Identity;
  ws: uWS.WebSocket<Conn> | undefined;
  readonly topics: Set<string>;
  /**
   * Topics (and throttled views) this connection is live on: its snap or replay has been sent, so
   * it takes their upd frames from the uWS topic `dataTopic(codec, name)`. Subscribed to those uWS
   * topics exactly while not stale.
   */
  readonly live: Set<string>;
  /** Frames handed over by the hub during the current flush, sent corked right after it. */
  outbox: Uint8Array[];
  /** Topics that became live during the current flush: joined right after the outbox is sent. */
  joins: string[];
  closed: boolean;
  /**
   * Slow consumer: set when the socket buffer passed slowSoftBytes. While stale the connection
   * is in no uWS data topic and gets no upd frames; once drained, each topic gets a snap with
   * resync: true and the connection joins its uWS topics again.
   */
  stale: boolean;
  staleSince: number;
  /** Inbound message rate (maxMessagesPerSec) and how many messages in a row it refused. */
  readonly inbound: TokenBucket;
  refusedInRow: number;
  /** The backpressure scan that last looked at this connection (one look per scan). */
  scanned: number;
}

/** A hub subscriber: a WebSocket connection or an SSE stream (`sse` in it). */
export type Subscriber = Conn | SseStream;

export type HttpRoutes = (app: uWS.TemplatedApp) => void;

const HB_TOPIC = (codec: WireCodec) => `#hb.${codec.name}`;
/** The uWS topic of a hub topic or throttled view for one codec (hub names never contain '|' or start with '#'). */
const dataTopic = (codec: WireCodec, name: string) => `${codec.name}|${name}`;
/**
 * Bytes uWS may buffer for a connection before it sends nothing more to it, above tickwire's own
 * maxBackpressureBytes (see the maxBackpressure option below).
 */
const UWS_HEADROOM = 64 * 1024;
/**
 * Bytes outside the publish budget that can reach a connection in a uWS topic between two checks:
 * heartbeats (a small frame each; every connection is checked at each heartbeat) and the pings
 * uWS sends by itself (a few bytes per idleTimeout).
 */
const UNCOUNTED_SLACK = 16 * 1024;
const decoder = new TextDecoder();
/** Messages refused in a row (over maxMessagesPerSec) before the connection is closed. */
const MAX_REFUSED_IN_ROW = 20;

export class UwsTransport implements Transport {
  private readonly stats: TransportStats;
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  private touched: Conn[] = [];
  private readonly staleConns = new Set<Conn>();
  private watchdog: NodeJS.Timeout | undefined;
  /** permessage-deflate is applied by uWS only to sends that ask for it. */
  private readonly perMessageDeflate: boolean;
  private readonly deadlines = new Deadlines<Conn>();
  /** Admission (origin, limits, tokens) shared with the SSE endpoint: one count for both. */
  private readonly gate: Gate;
  private readonly sse: SseEndpoint;
  private aborted = false;
  /** Connections of each uWS data topic: whom a publish reached, hence whom the scan checks. */
  private readonly members = new Map<string, Set<Conn>>();
  /** Member sets of the uWS topics published to since the last scan (see `scan`). */
  private published: Set<Conn>[] = [];
  /** Bytes published in the current flush; past `publishBudget` the flush sends per connection. */
  private publishedBytes = 0;
  private readonly publishBudget: number;
  private scanId = 0;
  /**
   * True inside hub.flush. Closing a socket runs its close handler at once, which unsubscribes it
   * from the hub; the hub is not re-entrant, so a close decided there waits for the flush to end.
   */
  private flushing = false;
  private closeAfterFlush: Conn[] = [];
  /** Slow consumers whose 4008 waits for their buffer to drain (see SlowCloses). */
  private readonly slowCloses: SlowCloses<Conn>;
  private readonly enqueue = (sub: Subscriber, frame: Uint8Array): void => {
    if ('sse' in sub) return this.sse.enqueue(sub, frame);
    const conn = sub;
    if (conn.stale) {
      this.stats.conflatedFrames++;
      return;
    }
    this.touch(conn);
    conn.outbox.push(frame);
  };
  private readonly topicDelivery: TopicDelivery<Subscriber> = {
    publish: (name, codecId, frame, subscribers) => this.publish(name, codecId, frame, subscribers),
    // SSE streams are not `viaTopic`: the hub never makes them live on a uWS topic.
    live: (conn, name) => {
      if ('sse' in conn) return;
      this.touch(conn);
      conn.joins.push(name);
    },
  };

  constructor(
    private readonly cfg: Config,
    private readonly hub: Hub<Subscriber>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    auth: AuthSetup,
    routes: HttpRoutes,
    /** maxConnections; shared between workers when there are several. */
    slots: ConnectionSlots = new SharedSlots(SharedSlots.cells(), 0, cfg.maxConnections),
  ) {
    this.stats = metrics.transport;
    this.app = cfg.tlsCertFile ? sslApp(cfg) : uWS.App();
    this.perMessageDeflate = cfg.compression !== 'off';
    this.publishBudget = (cfg.maxBackpressureBytes + UWS_HEADROOM - UNCOUNTED_SLACK) / 2;
    this.gate = new Gate(cfg, auth, slots);
    this.slowCloses = new SlowCloses(cfg.slowCloseGraceMs, closeCode('slow_consumer'), 'slow consumer', (c) => c.ws);
    this.sse = new SseEndpoint(cfg, hub, this.gate, metrics, log);
    this.app.ws<Conn>('/v1', {
      compression: { off: uWS.DISABLED, shared: uWS.SHARED_COMPRESSOR, dedicated: uWS.DEDICATED_COMPRESSOR_4KB }[cfg.compression],
      // uWS cuts a frame over its limit with no close frame (the client sees 1006). It gets
      // twice the configured limit, and tickwire enforces the real one with a proper 1009.
      maxPayloadLength: cfg.maxPayloadLength * 2,
      idleTimeout: cfg.idleTimeoutSec,
      // uWS drops (rather than queues) any send past its limit, the close frame included, so a
      // connection closed at that limit would see 1006 instead of 4008. tickwire enforces
      // maxBackpressureBytes itself (see send) and gives uWS headroom above it, so the 4008
      // close frame always fits.
      maxBackpressure: cfg.maxBackpressureBytes * 2 + UWS_HEADROOM,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      drain: (ws) => this.drained(ws.getUserData()),
      close: (ws, code) => this.close(ws, code),
    });
    upgradeRequiredRoute(this.app, Boolean(cfg.tlsCertFile));
    this.sse.route(this.app);
    routes(this.app);
  }

  /** Open connections of both transports (WebSocket and SSE). */
  get connectionCount(): number {
    return this.conns.size + this.sse.count;
  }

  get sseCount(): number {
    return this.sse.count;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.cfg.host, this.cfg.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.cfg.host}:${this.cfg.port} (port in use or address unavailable)`));
        this.listenSocket = socket;
        this.watchdog = setInterval(() => this.tick(Date.now()), 250);
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
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
    const hello = { remote: decoder.decode(res.getRemoteAddressAsText()), origin: req.getHeader('origin'), authz: req.getHeader('authorization'), queryToken: req.getQuery('access_token') ?? '', now: Date.now() };

    // RFC 6455 §4.1: the Connection header carries the `upgrade` token; uWS does not check it. A
    // handshake with `Connection: close` was closed right after its 101 (or crashed the process)
    // on the former asynchronous upgrade path (uWebSockets PR #1929): refused up front.
    if (!connection.split(',').some((t) => t.trim() === 'upgrade') || connection.includes('close')) {
      return this.refuse(res, { status: '400 Bad Request', reason: 'handshake', body: 'a WebSocket handshake needs Connection: Upgrade (and not close)' });
    }
    const refusal = this.gate.admit(hello);
    if (refusal) return this.refuse(res, refusal);
    const codec = negotiate(offered);
    if (!codec) return this.refuseAdmitted(res, { status: '400 Bad Request', reason: 'subprotocol', body: `unsupported WebSocket subprotocol "${offered}"; offer ${subprotocolList()} (or none for msgpack)` });

    // Completed here, inside the upgrade handler: the token check is synchronous (see Gate.identify).
    const who = this.gate.identify(hello);
    if (isRefusal(who)) return this.refuseAdmitted(res, who);
    // Echo the chosen subprotocol only when the client offered some (RFC 6455 §4.2.2).
    res.upgrade<Conn>(this.newConn(codec, hello.remote, who, hello.now), key, offered ? codec.subprotocol : '', extensions, context);
  }

  /** A refusal after `gate.admit` let the attempt in: its reserved connection slot goes back. */
  private refuseAdmitted(res: uWS.HttpResponse, r: Refusal): void {
    this.gate.release();
    this.refuse(res, r);
  }

  private refuse(res: uWS.HttpResponse, r: Refusal): void {
    this.metrics.refused.inc({ reason: r.reason });
    res.writeStatus(r.status).writeHeader('content-type', 'text/plain; charset=utf-8').end(`${r.body}\n`);
  }

  private newConn(codec: WireCodec, remote: string, identity: Identity, now: number): Conn {
    return {
      id: this.nextId++,
      codec: codec.id,
      viaTopic: true,
      remote,
      identity,
      ws: undefined,
      topics: new Set(),
      live: new Set(),
      outbox: [],
      joins: [],
      closed: false,
      stale: false,
      staleSince: 0,
      inbound: new TokenBucket(this.cfg.maxMessagesPerSec, this.cfg.maxMessagesPerSec * 2, now),
      refusedInRow: 0,
      scanned: 0,
    };
  }

  /** Nothing is sent from open: the first frames go out with the first flush or reply. */
  private open(ws: uWS.WebSocket<Conn>): void {
    const conn = ws.getUserData();
    conn.ws = ws;
    this.conns.add(conn);
    this.gate.opened(conn.remote);
    this.stats.connectionsOpened++;
    ws.subscribe(HB_TOPIC(CODECS[conn.codec] as WireCodec));
    // The broadcast topic, from "now": only announcements made while connected.
    const r = this.hub.subscribe(conn, ANNOUNCE_TOPIC, this.hub.position(ANNOUNCE_TOPIC));
    if (r.kind !== 'invalid' && r.kind !== 'duplicate') conn.topics.add(ANNOUNCE_TOPIC);
    // Subscribed "from now": no frame to send, so live at once.
    if (r.kind === 'frames') this.makeLive(conn, ANNOUNCE_TOPIC);
    const expiry = conn.identity.expiresAt;
    const lifetime = this.cfg.maxConnectionLifetimeSec ? Date.now() + this.cfg.maxConnectionLifetimeSec * 1000 : undefined;
    const deadline = Math.min(expiry ?? Infinity, lifetime ?? Infinity);
    if (deadline !== Infinity) this.deadlines.add(conn, deadline);
  }

  private close(ws: uWS.WebSocket<Conn>, code: number): void {
    const conn = ws.getUserData();
    conn.closed = true;
    conn.ws = undefined;
    conn.outbox = [];
    conn.joins = [];
    // uWS has already dropped the socket from its topics; only tickwire's member sets remain.
    for (const name of conn.live) this.forget(conn, name);
    conn.live.clear();
    this.staleConns.delete(conn);
    this.slowCloses.forget(conn);
    this.deadlines.remove(conn);
    this.gate.closed(conn.remote);
    for (const topic of conn.topics) this.hub.unsubscribe(conn, topic);
    conn.topics.clear();
    this.conns.delete(conn);
    this.log.debug({ conn: conn.id, code }, 'connection closed');
  }

  private message(ws: uWS.WebSocket<Conn>, data: ArrayBuffer, isBinary: boolean): void {
    const conn = ws.getUserData();
    if (conn.closed) return;
    const codec = CODECS[conn.codec] as WireCodec;
    if (data.byteLength > this.cfg.maxPayloadLength) {
      this.metrics.errors.inc({ code: 'message_too_big' });
      return this.end(conn, 'message_too_big', `frame of ${data.byteLength} bytes exceeds ${this.cfg.maxPayloadLength}`);
    }
    if (!conn.inbound.take(Date.now())) {
      this.stats.rateLimited++;
      if (++conn.refusedInRow > MAX_REFUSED_IN_ROW) return this.end(conn, 'rate_limited', 'too many messages');
      return this.reply(conn, { op: 'err', code: 'rate_limited', msg: `at most ${this.cfg.maxMessagesPerSec} messages per second; this one was dropped` });
    }
    conn.refusedInRow = 0;
    if (isBinary !== codec.binary) {
      return this.reply(conn, { op: 'err', code: 'bad_frame', msg: `expected ${codec.binary ? 'binary msgpack' : 'text JSON'} frames on ${codec.subprotocol}` });
    }
    let value: unknown;
    try {
      value = codec.decode(new Uint8Array(data));
    } catch (e) {
      return this.reply(conn, { op: 'err', code: 'bad_frame', msg: `undecodable ${codec.name} frame: ${(e as Error).message}`.slice(0, 200) });
    }
    const m = validateClientMessage(value, this.cfg.maxTopicsPerRequest);
    if (isProtocolError(m)) return this.reply(conn, { op: 'err', ...m });
    // A sub/unsub costs one message per started group of topicsPerMessage topics (the first was
    // taken above): churn through many topics per message must not be cheaper than many messages.
    const extra = m.op === 'ping' ? 0 : Math.ceil(m.topics.length / this.cfg.topicsPerMessage) - 1;
    if (extra > 0 && !conn.inbound.take(Date.now(), extra)) {
      this.stats.rateLimited++;
      if (++conn.refusedInRow > MAX_REFUSED_IN_ROW) return this.end(conn, 'rate_limited', 'too many messages');
      const msg = `at most ${this.cfg.maxMessagesPerSec} messages per second, one per ${this.cfg.topicsPerMessage} topics; this one was dropped`;
      return this.reply(conn, { op: 'err', id: m.id, code: 'rate_limited', msg });
    }
    this.handle(conn, m);
  }

  private handle(conn: Conn, m: ClientMessage): void {
    switch (m.op) {
      case 'ping':
        return this.reply(conn, { op: 'pong', id: m.id });
      case 'sub': {
        const { good, bad } = splitTopics(m.topics);
        if (bad.length) this.reply(conn, topicError(m.id, 'bad_topic', bad));
        const forbidden = good.filter((t) => !canRead(conn.identity, t));
        if (forbidden.length) this.reply(conn, topicError(m.id, 'forbidden', forbidden));
        const allowed = forbidden.length ? good.filter((t) => !forbidden.includes(t)) : good;
        // The broadcast subscription every connection has is not the client's and does not count.
        const room = this.cfg.maxSubscriptionsPerConnection - conn.topics.size + (conn.topics.has(ANNOUNCE_TOPIC) ? 1 : 0);
        const fresh = allowed.filter((t) => !conn.topics.has(t));
        const over = fresh.slice(Math.max(0, room));
        if (over.length) this.reply(conn, topicError(m.id, 'too_many_subscriptions', over));
        const accepted = over.length ? allowed.filter((t) => !over.includes(t)) : allowed;
        if (!accepted.length) return;
        const frames: Uint8Array[] = [];
        const live: string[] = [];
        const refused: string[] = [];
        for (const topic of accepted) {
          const r = this.hub.subscribe(conn, topic, m.since?.[topic]);
          if (r.kind === 'refused') refused.push(topic);
          if (r.kind === 'duplicate' || r.kind === 'invalid' || r.kind === 'refused') continue;
          conn.topics.add(topic);
          if (r.kind === 'frames') {
            frames.push(...r.frames);
            live.push(topic);
          }
        }
        if (refused.length) this.reply(conn, topicError(m.id, 'too_many_waiting', refused));
        const no = new Set(refused);
        const acked = refused.length ? accepted.filter((t) => !no.has(t)) : accepted;
        if (acked.length) this.reply(conn, { op: 'ack', id: m.id, topics: acked });
        for (const f of frames) this.send(conn, f);
        // Joined only after its snap or replay went out: publish cannot overtake it.
        for (const topic of live) this.makeLive(conn, topic);
        return;
      }
      case 'unsub': {
        const { good, bad } = splitTopics(m.topics);
        if (bad.length) this.reply(conn, topicError(m.id, 'bad_topic', bad));
        if (!good.length) return;
        for (const topic of good) {
          this.hub.unsubscribe(conn, topic);
          conn.topics.delete(topic);
          if (conn.live.delete(topic) && !conn.stale) this.leave(conn, topic);
        }
        return this.reply(conn, { op: 'ack', id: m.id, topics: good });
      }
    }
  }

  private reply(conn: Conn, msg: ServerMessage): void {
    if (msg.op === 'err') this.metrics.errors.inc({ code: msg.code });
    this.send(conn, (CODECS[conn.codec] as WireCodec).encode(msg));
  }

  /** Every write to a client goes through here, so the slow-consumer rule has one home. */
  private send(conn: Conn, frame: Uint8Array): void {
    const ws = conn.ws;
    if (!ws || conn.closed) return;
    const codec = CODECS[conn.codec] as WireCodec;
    const r = ws.send(frame, codec.binary, this.perMessageDeflate && codec.derive === undefined);
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    if (r === 1) return;
    if (r === 0) {
      this.stats.backpressureEvents++;
      const buffered = ws.getBufferedAmount();
      if (buffered > this.cfg.maxBackpressureBytes) this.slowConsumer(conn, 'buffer over maxBackpressureBytes');
      else if (!conn.stale && buffered > this.cfg.slowSoftBytes) this.markStale(conn, ws);
      return;
    }
    // 2: uWS dropped the frame (past even its headroom: one frame larger than
    // maxBackpressureBytes). A silent gap is never acceptable: close.
    this.slowConsumer(conn, 'frame dropped by the transport');
  }

  private markStale(conn: Conn, ws: uWS.WebSocket<Conn>): void {
    conn.stale = true;
    conn.staleSince = Date.now();
    this.staleConns.add(conn);
    // Out of every uWS data topic at once: publish must not write to it (nor skip it) meanwhile.
    for (const name of conn.live) this.leave(conn, name);
    this.stats.slowConsumerEvents++;
    this.log.info({ conn: conn.id, remote: conn.remote, buffered: ws.getBufferedAmount() }, 'slow consumer: conflating until drained');
  }

  /** uWS drain callback, and the watchdog: a stale connection that caught up gets resync snaps. */
  private drained(conn: Conn): void {
    if (conn.closed) return this.slowCloses.check(conn, Date.now());
    const ws = conn.ws;
    if (!conn.stale || !ws || conn.closed || ws.getBufferedAmount() > this.cfg.slowSoftBytes / 2) return;
    conn.stale = false;
    this.staleConns.delete(conn);
    ws.cork(() => {
      for (const topic of conn.topics) {
        const f = this.hub.resyncFrame(topic, conn.codec);
        if (f) this.send(conn, f);
      }
    });
    // After the resync snaps, back into the uWS topics (unless the snaps made it stale again).
    if (!conn.stale && !conn.closed) for (const name of conn.live) this.join(conn, name);
  }

  /** Every 250 ms: stale connections, token expiry and lifetime deadlines, admission pruning. */
  private tick(now: number): void {
    for (const conn of this.staleConns) {
      this.drained(conn);
      if (conn.stale && conn.ws && now - conn.staleSince > this.cfg.slowTimeoutMs) this.slowConsumer(conn, `stale for over ${this.cfg.slowTimeoutMs} ms`);
    }
    this.stats.slowConsumers = this.staleConns.size;
    this.slowCloses.tick(now);
    this.sse.tick(now);
    for (const conn of this.deadlines.due(now)) {
      const expired = conn.identity.expiresAt !== undefined && conn.identity.expiresAt <= now;
      this.end(conn, expired ? 'token_expired' : 'max_lifetime', expired ? 'token expired' : 'maximum connection lifetime reached');
    }
    this.gate.prune(now);
  }

  private slowConsumer(conn: Conn, why: string): void {
    if (this.flushing) {
      // Stale first: out of every uWS topic, so nothing more is written to it before the close.
      if (!conn.stale && conn.ws && !conn.closed) this.markStale(conn, conn.ws);
      this.closeAfterFlush.push(conn);
      return;
    }
    this.stats.slowConsumerCloses++;
    this.log.warn({ conn: conn.id, remote: conn.remote, buffered: conn.ws?.getBufferedAmount(), why }, 'closing slow consumer');
    this.closeWhenDrained(conn);
  }

  /**
   * 4008 for a slow consumer, so that the close frame reaches it: from now on nothing more is
   * sent to it (closed, out of every uWS topic, heartbeats included), and SlowCloses sends the
   * close once uWS has written what is buffered, or after slowCloseGraceMs.
   */
  private closeWhenDrained(conn: Conn): void {
    const ws = conn.ws;
    if (conn.closed || !ws) return;
    conn.closed = true;
    this.staleConns.delete(conn);
    for (const name of conn.live) this.leave(conn, name);
    ws.unsubscribe(HB_TOPIC(CODECS[conn.codec] as WireCodec));
    this.slowCloses.add(conn, Date.now());
  }

  /** Closes with a code from the table; later sends and messages for the connection are dropped. */
  private end(conn: Conn, name: CloseName, reason: string): void {
    if (conn.closed || !conn.ws) return;
    conn.closed = true;
    this.staleConns.delete(conn);
    conn.ws.end(closeCode(name), reason);
  }

  /**
   * One hub flush. First the backpressure scan of what the previous flush published (see `scan`).
   * Live connections get upd frames through uWS publish, one call per frame per (codec, topic);
   * snaps for connections that were awaiting one go out per connection (corked, through `send`),
   * and only then do those connections join their uWS topics.
   */
  flush(): void {
    if (this.published.length > 0) this.stats.bufferedBytes = this.scan();
    this.publishedBytes = 0;
    this.flushing = true;
    try {
      this.hub.flush(this.enqueue, Date.now(), this.topicDelivery);
    } finally {
      this.flushing = false;
    }
    this.sse.flush();
    if (this.closeAfterFlush.length > 0) {
      const doomed = this.closeAfterFlush;
      this.closeAfterFlush = [];
      for (const conn of doomed) this.slowConsumer(conn, 'buffer over maxBackpressureBytes');
    }
    const touched = this.touched;
    if (touched.length > 0) {
      this.touched = [];
      for (const conn of touched) {
        const ws = conn.ws;
        const frames = conn.outbox;
        const joins = conn.joins;
        conn.outbox = [];
        conn.joins = [];
        if (!ws || conn.closed) continue;
        if (frames.length > 0)
          ws.cork(() => {
            for (const f of frames) this.send(conn, f);
          });
        for (const name of joins) this.makeLive(conn, name);
      }
    }
  }

  private touch(conn: Conn): void {
    if (conn.outbox.length === 0 && conn.joins.length === 0) this.touched.push(conn);
  }

  /**
   * TopicDelivery.publish: one native fan-out to every live connection of the codec. The hub's
   * `subscribers` count stale connections too; they are out of the uWS topic, and conflated.
   */
  private publish(name: string, codecId: number, frame: Uint8Array, subscribers: number): void {
    const codec = CODECS[codecId] as WireCodec;
    const topic = dataTopic(codec, name);
    const members = this.members.get(topic);
    this.stats.conflatedFrames += subscribers - (members?.size ?? 0);
    if (members === undefined) return;
    if (this.published[this.published.length - 1] !== members) this.published.push(members);
    this.publishedBytes += frame.length;
    if (this.publishedBytes > this.publishBudget) {
      // A flush too big to prove safe for publish (see `scan`): per connection, each send checked.
      for (const conn of members) this.send(conn, frame);
      return;
    }
    this.app.publish(topic, frame, codec.binary, this.perMessageDeflate && codec.derive === undefined);
    this.stats.framesOut += members.size;
    this.stats.bytesOut += frame.length * members.size;
  }

  /**
   * The slow-consumer rule for publish, which reports nothing per connection. uWS publish skips,
   * silently, a subscriber whose buffer is over uWS maxBackpressure (maxBackpressureBytes × 2 +
   * 64 KiB) when its frame is written; tickwire must see the connection first.
   *
   * How uWS writes published frames (v20 TopicTree): a frame under 16 KiB is queued per subscriber
   * and written in uWS's loop pre-handler, i.e. after the flush returns and before the event loop
   * runs the next timer or immediate (or earlier: when the subscriber has 32 queued, or on any
   * `ws.send` to it, which writes its queue first, then checks). So when a flush starts, every
   * frame of earlier flushes is in the socket buffers, where getBufferedAmount sees it.
   *
   * The scan, at the start of each flush, checks every connection published to since the last
   * scan (one native call per connection per flush, instead of one send per frame): past
   * slowSoftBytes it is marked stale and leaves every uWS data topic at once; past
   * maxBackpressureBytes it is closed. Returns the bytes buffered for the connections checked.
   *
   * Why publish never skips a connection: a connection is in a uWS data topic only while not stale,
   * and leaves them all the moment a scan, a heartbeat check or a `send` sees its buffer past
   * slowSoftBytes (< maxBackpressureBytes). So when a flush starts, a member's buffer is at most
   * slowSoftBytes; the flush adds at most `publishBudget` bytes through publish (past it, the rest
   * of the flush goes through `send`, which writes the queue first and checks every write), and
   * heartbeats and pings stay within UNCOUNTED_SLACK. Even if uWS had not written one flush's
   * frames before the next began (so the scan saw too little), two flushes' worth stays within the
   * limit: slowSoftBytes + 2 × publishBudget + UNCOUNTED_SLACK < maxBackpressureBytes × 2 + 64 KiB.
   * The same bound leaves room in uWS for the 4008 close frame.
   */
  private scan(): number {
    const id = ++this.scanId;
    let buffered = 0;
    for (const members of this.published) {
      for (const conn of members) {
        if (conn.scanned === id) continue;
        conn.scanned = id;
        buffered += this.check(conn);
      }
    }
    this.published = [];
    return buffered;
  }

  /** Applies slowSoftBytes / maxBackpressureBytes to one connection; returns its buffered bytes. */
  private check(conn: Conn): number {
    const ws = conn.ws;
    if (!ws || conn.closed) return 0;
    const buffered = ws.getBufferedAmount();
    if (buffered > this.cfg.maxBackpressureBytes) this.slowConsumer(conn, 'buffer over maxBackpressureBytes');
    else if (buffered > this.cfg.slowSoftBytes && !conn.stale) this.markStale(conn, ws);
    return buffered;
  }

  /** The connection's snap or replay of `name` has been sent: it takes the topic's frames from publish. */
  private makeLive(conn: Conn, name: string): void {
    if (conn.closed || !conn.topics.has(name)) return;
    conn.live.add(name);
    if (!conn.stale) this.join(conn, name);
  }

  private join(conn: Conn, name: string): void {
    const topic = dataTopic(CODECS[conn.codec] as WireCodec, name);
    conn.ws?.subscribe(topic);
    let members = this.members.get(topic);
    if (members === undefined) this.members.set(topic, (members = new Set()));
    members.add(conn);
  }

  private leave(conn: Conn, name: string): void {
    conn.ws?.unsubscribe(dataTopic(CODECS[conn.codec] as WireCodec, name));
    this.forget(conn, name);
  }

  private forget(conn: Conn, name: string): void {
    const topic = dataTopic(CODECS[conn.codec] as WireCodec, name);
    const members = this.members.get(topic);
    if (members === undefined) return;
    members.delete(conn);
    if (members.size === 0) this.members.delete(topic);
  }

  heartbeat(ts: number): void {
    this.broadcast({ op: 'hb', ts });
    // Heartbeats reach every connection outside the publish budget: check them all (see scan).
    for (const conn of this.conns) this.check(conn);
  }

  /** Native publish: one call per codec fans the shared frame out in C++ to every connection. */
  private broadcast(msg: ServerMessage): void {
    for (const codec of CODECS) this.app.publish(HB_TOPIC(codec), codec.encode(msg), codec.binary);
    this.sse.broadcast(msg);
  }

  async shutdown(graceMs: number, noticeMs = 0): Promise<void> {
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
    if (noticeMs > 0 && this.connectionCount > 0) {
      // A notice first, so clients can reconnect to another instance before this one goes.
      this.broadcast({ op: 'shutdown', ts: Date.now(), msg: 'server shutting down; reconnect (to another instance)' });
      await new Promise((r) => setTimeout(r, noticeMs));
    }
    clearInterval(this.watchdog);
    for (const conn of [...this.conns]) this.end(conn, 'going_away', 'server shutting down');
    this.slowCloses.endAll();
    this.sse.shutdown();
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
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

/** uWS reports a bad certificate or key only as "App construction failed": name the settings. */
function sslApp(cfg: Config): uWS.TemplatedApp {
  try {
    return uWS.SSLApp({ cert_file_name: cfg.tlsCertFile, key_file_name: cfg.tlsKeyFile });
  } catch {
    throw new ConfigError(`Invalid configuration:\n  TICKWIRE_TLS_CERT_FILE / TICKWIRE_TLS_KEY_FILE (--tls-cert-file / --tls-key-file): cannot create the TLS listener from ${cfg.tlsCertFile} and ${cfg.tlsKeyFile} (not PEM, or a key that does not match the certificate)`);
  }
}
