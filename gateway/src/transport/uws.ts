import uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Hub, HubSubscriber } from '../hub/hub.js';
import type { Metrics, TransportStats } from '../metrics.js';
import { CODECS, negotiate, type WireCodec } from '../protocol/codec.js';
import { closeCode, type ErrorCode } from '../protocol/errors.js';
import { isProtocolError, validateClientMessage, type ClientMessage, type ServerMessage } from '../protocol/messages.js';
import { parseSubscription } from '../protocol/topics.js';
import type { Transport } from './transport.js';

/** One WebSocket connection (uWS user data). */
export interface Conn extends HubSubscriber {
  readonly id: number;
  readonly codec: number;
  readonly remote: string;
  ws: uWS.WebSocket<Conn> | undefined;
  readonly topics: Set<string>;
  /** Frames handed over by the hub during the current flush, sent corked right after it. */
  outbox: Uint8Array[];
  closed: boolean;
  /**
   * Slow consumer: set when the socket buffer passed slowSoftBytes. While stale the connection
   * gets no upd frames; once drained, each topic gets a snap with resync: true.
   */
  stale: boolean;
  staleSince: number;
}

export type HttpRoutes = (app: uWS.TemplatedApp) => void;

const HB_TOPIC = (codec: WireCodec) => `#hb.${codec.name}`;
const decoder = new TextDecoder();

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
  private readonly enqueue = (conn: Conn, frame: Uint8Array): void => {
    if (conn.stale) {
      this.stats.conflatedFrames++;
      return;
    }
    if (conn.outbox.length === 0) this.touched.push(conn);
    conn.outbox.push(frame);
  };

  constructor(
    private readonly cfg: Config,
    private readonly hub: Hub<Conn>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    routes: HttpRoutes,
  ) {
    this.stats = metrics.transport;
    this.app = uWS.App();
    this.perMessageDeflate = cfg.compression !== 'off';
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
      maxBackpressure: cfg.maxBackpressureBytes * 2 + 64 * 1024,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      drain: (ws) => this.drained(ws.getUserData()),
      close: (ws, code) => this.close(ws, code),
    });
    routes(this.app);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.cfg.host, this.cfg.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.cfg.host}:${this.cfg.port} (port in use or address unavailable)`));
        this.listenSocket = socket;
        this.watchdog = setInterval(() => this.checkStale(Date.now()), 250);
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const offered = req.getHeader('sec-websocket-protocol');
    const codec = negotiate(offered);
    if (!codec) {
      res
        .writeStatus('400 Bad Request')
        .writeHeader('content-type', 'text/plain; charset=utf-8')
        .end(`unsupported WebSocket subprotocol "${offered}"; offer tickwire.v1.msgpack or tickwire.v1.json (or none for msgpack)\n`);
      return;
    }
    const conn: Conn = {
      id: this.nextId++,
      codec: codec.id,
      remote: decoder.decode(res.getRemoteAddressAsText()),
      ws: undefined,
      topics: new Set(),
      outbox: [],
      closed: false,
      stale: false,
      staleSince: 0,
    };
    // Echo the chosen subprotocol only when the client offered some (RFC 6455 §4.2.2).
    res.upgrade(conn, req.getHeader('sec-websocket-key'), offered ? codec.subprotocol : '', req.getHeader('sec-websocket-extensions'), context);
  }

  private open(ws: uWS.WebSocket<Conn>): void {
    const conn = ws.getUserData();
    conn.ws = ws;
    this.conns.add(conn);
    this.stats.connectionsOpened++;
    ws.subscribe(HB_TOPIC(CODECS[conn.codec] as WireCodec));
  }

  private close(ws: uWS.WebSocket<Conn>, code: number): void {
    const conn = ws.getUserData();
    conn.closed = true;
    conn.ws = undefined;
    conn.outbox = [];
    this.staleConns.delete(conn);
    for (const topic of conn.topics) this.hub.unsubscribe(conn, topic);
    conn.topics.clear();
    this.conns.delete(conn);
    this.log.debug({ conn: conn.id, code }, 'connection closed');
  }

  private message(ws: uWS.WebSocket<Conn>, data: ArrayBuffer, isBinary: boolean): void {
    const conn = ws.getUserData();
    const codec = CODECS[conn.codec] as WireCodec;
    if (data.byteLength > this.cfg.maxPayloadLength) {
      this.metrics.errors.inc({ code: 'message_too_big' });
      conn.closed = true;
      return ws.end(closeCode('message_too_big'), `frame of ${data.byteLength} bytes exceeds ${this.cfg.maxPayloadLength}`);
    }
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
    this.handle(conn, m);
  }

  private handle(conn: Conn, m: ClientMessage): void {
    switch (m.op) {
      case 'ping':
        return this.reply(conn, { op: 'pong', id: m.id });
      case 'sub': {
        const { good, bad } = splitTopics(m.topics);
        if (bad.length) this.reply(conn, badTopics(m.id, bad));
        if (!good.length) return;
        const frames: Uint8Array[] = [];
        for (const topic of good) {
          const r = this.hub.subscribe(conn, topic, m.since?.[topic]);
          if (r.kind === 'duplicate' || r.kind === 'invalid') continue;
          conn.topics.add(topic);
          if (r.kind === 'frames') frames.push(...r.frames);
        }
        this.reply(conn, { op: 'ack', id: m.id, topics: good });
        for (const f of frames) this.send(conn, f);
        return;
      }
      case 'unsub': {
        const { good, bad } = splitTopics(m.topics);
        if (bad.length) this.reply(conn, badTopics(m.id, bad));
        if (!good.length) return;
        for (const topic of good) {
          this.hub.unsubscribe(conn, topic);
          conn.topics.delete(topic);
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
      if (buffered > this.cfg.maxBackpressureBytes) this.slowConsumer(conn, ws, 'buffer over maxBackpressureBytes');
      else if (!conn.stale && buffered > this.cfg.slowSoftBytes) this.markStale(conn, ws);
      return;
    }
    // 2: uWS dropped the frame (past even its headroom: one frame larger than
    // maxBackpressureBytes). A silent gap is never acceptable: close.
    this.slowConsumer(conn, ws, 'frame dropped by the transport');
  }

  private markStale(conn: Conn, ws: uWS.WebSocket<Conn>): void {
    conn.stale = true;
    conn.staleSince = Date.now();
    this.staleConns.add(conn);
    this.stats.slowConsumerEvents++;
    this.log.info({ conn: conn.id, remote: conn.remote, buffered: ws.getBufferedAmount() }, 'slow consumer: conflating until drained');
  }

  /** uWS drain callback, and the watchdog: a stale connection that caught up gets resync snaps. */
  private drained(conn: Conn): void {
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
  }

  private checkStale(now: number): void {
    for (const conn of this.staleConns) {
      this.drained(conn);
      if (conn.stale && conn.ws && now - conn.staleSince > this.cfg.slowTimeoutMs) this.slowConsumer(conn, conn.ws, `stale for over ${this.cfg.slowTimeoutMs} ms`);
    }
    this.stats.slowConsumers = this.staleConns.size;
  }

  private slowConsumer(conn: Conn, ws: uWS.WebSocket<Conn>, why: string): void {
    this.stats.slowConsumerCloses++;
    this.log.warn({ conn: conn.id, remote: conn.remote, buffered: ws.getBufferedAmount(), why }, 'closing slow consumer');
    conn.closed = true;
    this.staleConns.delete(conn);
    ws.end(closeCode('slow_consumer'), 'slow consumer');
  }

  flush(): void {
    this.hub.flush(this.enqueue, Date.now());
    const touched = this.touched;
    if (touched.length === 0) return;
    this.touched = [];
    let buffered = 0;
    for (const conn of touched) {
      const ws = conn.ws;
      const frames = conn.outbox;
      conn.outbox = [];
      if (!ws || conn.closed) continue;
      ws.cork(() => {
        for (const f of frames) this.send(conn, f);
      });
      if (!conn.closed) buffered += ws.getBufferedAmount();
    }
    this.stats.bufferedBytes = buffered;
  }

  heartbeat(ts: number): void {
    // Native publish: one call fans the shared frame out in C++ to every connection.
    for (const codec of CODECS) this.app.publish(HB_TOPIC(codec), codec.encode({ op: 'hb', ts }), codec.binary);
  }

  async shutdown(graceMs: number): Promise<void> {
    clearInterval(this.watchdog);
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
    for (const conn of [...this.conns]) conn.ws?.end(closeCode('going_away'), 'server shutting down');
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Whatever is left (clients that never answered the close) is cut, with the HTTP sockets.
    // app.close() exists in v20.30's binary but not in its bundled typings.
    (this.app as uWS.TemplatedApp & { close(): void }).close();
  }
}

function splitTopics(topics: string[]): { good: string[]; bad: string[] } {
  const good: string[] = [];
  const bad: string[] = [];
  for (const t of topics) (parseSubscription(t) ? good : bad).push(t);
  return { good: [...new Set(good)], bad };
}

function badTopics(id: number, bad: string[]): ServerMessage {
  const code: ErrorCode = 'bad_topic';
  return { op: 'err', id, code, msg: `invalid topic name(s); expected trade.<SYMBOL> or quote.<SYMBOL> with SYMBOL matching [A-Z0-9][A-Z0-9_-]{0,31}, optionally @100ms, @250ms, @500ms or @1000ms`, topics: bad.map((t) => t.slice(0, 64)) };
}
