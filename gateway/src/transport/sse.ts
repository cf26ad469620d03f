import type uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { canRead, type Identity } from '../auth/identity.js';
import type { Config } from '../config/schema.js';
import type { Hub, ResumePoint } from '../hub/hub.js';
import type { Metrics } from '../metrics.js';
import { jsonCodec } from '../../../protocol/src/codec.js';
import { isProtocolError, validateClientMessage, type ServerMessage } from '../../../protocol/src/messages.js';
import { isRefusal, type Gate, type Hello, type Refusal } from './gate.js';
import { refuse, SHUTTING_DOWN } from './refusal.js';
import type { Session } from './session.js';
import { Sessions } from './sessions.js';
import { idPrefix, parseEventId } from './sse-id.js';
import { SseStream, type SseShared } from './sse-stream.js';
import type { TransportStats } from './stats.js';
import { splitTopics, topicError } from './topic-errors.js';
import type { Transport } from './transport.js';
import { intern } from './intern.js';

interface SseRequest {
  topics: string[];
  since: Record<string, ResumePoint> | undefined;
  /** Last-Event-ID / lastEventId that could not be read: every topic restarts, flagged. */
  badLastId: string | undefined;
}

/** A resume point no hub can serve: the topic restarts with a snap flagged `resync: true`. */
const UNKNOWN_POSITION: ResumePoint = { epoch: '', seq: 0 };
/** How long EventSource waits before reconnecting (the SSE `retry:` field), ms. */
const RETRY_MS = 1000;
const decoder = new TextDecoder();

/**
 * `GET /v1/sse?topics=a,b,c`: the WebSocket JSON stream as Server-Sent Events, for networks whose
 * proxies block WebSocket. A stream is a Session like a WebSocket connection, so it obeys the same
 * admission ({@link Gate}), entitlements, subscription limits, heartbeats, deadlines, shutdown
 * notice and slow-consumer rules; docs/protocol.md (Server-Sent Events) is the contract. The
 * topics of the request are one `sub` (id 0), whose ack always comes, listing what streams.
 */
export class SseTransport implements Transport {
  readonly name = 'sse';
  readonly sessions: Sessions;
  private readonly shared: SseShared;
  private closing = false;

  constructor(
    app: uWS.TemplatedApp,
    private readonly cfg: Config,
    private readonly hub: Hub<Session>,
    private readonly gate: Gate,
    private readonly metrics: Metrics,
    log: Logger,
  ) {
    this.sessions = new Sessions(cfg, hub, gate, log, (code) => metrics.errors.inc({ code }));
    const stats = this.sessions.stats;
    this.shared = { stats, log, maxBackpressureBytes: cfg.maxBackpressureBytes, events: new WeakMap(), messages: new WeakMap() };
    app.get('/v1/sse', (res, req) => this.request(res, req));
  }

  get stats(): TransportStats {
    return this.sessions.stats;
  }

  get connectionCount(): number {
    return this.sessions.count;
  }

  beforeFlush(): void {}

  /** hb and shutdown: one encoding for every stream (SseShared.messages). */
  broadcast(msg: ServerMessage): void {
    for (const s of this.sessions.all) s.cork(() => s.reply(msg));
  }

  heartbeat(ts: number): void {
    this.broadcast({ op: 'hb', ts });
  }

  /** The watchdog: conflation timeouts and token/lifetime deadlines (a stream drains only on onWritable). */
  tick(now: number): void {
    this.sessions.tick(now, false);
  }

  /** Refuses new streams and ends every open one with a `close` event naming 1001 (at once). */
  async close(): Promise<void> {
    this.closing = true;
    this.sessions.endAll('going_away', 'server shutting down');
  }

  private request(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    const hello: Hello = {
      remote: intern(decoder.decode(res.getRemoteAddressAsText())),
      origin: req.getHeader('origin'),
      authz: req.getHeader('authorization'),
      queryToken: req.getQuery('access_token') ?? '',
      now: Date.now(),
    };
    const topicsParam = req.getQuery('topics') ?? '';
    const sinceParam = req.getQuery('since') ?? '';
    const lastId = req.getHeader('last-event-id') || (req.getQuery('lastEventId') ?? '');
    if (this.closing) return this.refuse(res, SHUTTING_DOWN);
    const parsed = this.parse(topicsParam, sinceParam, lastId);
    if ('code' in parsed) return this.reject(res, '400 Bad Request', parsed);
    // From here the attempt holds a connection slot: start() keeps it, every other way out
    // gives it back.
    const refusal = this.gate.admit(hello);
    if (refusal) return this.refuse(res, refusal);

    const who = this.gate.identify(hello);
    if (isRefusal(who)) {
      this.gate.release();
      return this.refuse(res, who);
    }
    this.start(res, who, parsed, hello);
  }

  /** Topics and resume point, as a `sub` request would carry them (the same validation). */
  private parse(topicsParam: string, sinceParam: string, lastId: string): SseRequest | Extract<ServerMessage, { op: 'err' }> {
    const names = topicsParam === '' ? [] : topicsParam.split(',').map((t) => t.trim());
    let since: unknown;
    if (sinceParam !== '') {
      try {
        since = JSON.parse(sinceParam);
      } catch {
        return { op: 'err', code: 'bad_request', msg: '"since" must be JSON: {"<topic>": {"epoch": "...", "seq": N}, ...}' };
      }
    }
    if (names.length > 0) {
      const m = validateClientMessage({ op: 'sub', id: 0, topics: names, since }, this.cfg.maxTopicsPerRequest);
      if (isProtocolError(m)) return { op: 'err', code: m.code, msg: m.msg };
      since = m.op === 'sub' ? m.since : undefined;
    }
    const { good, bad } = splitTopics(names);
    if (bad.length) return topicError(undefined, 'bad_topic', bad);
    const request: SseRequest = { topics: good, since: since as SseRequest['since'], badLastId: undefined };
    if (request.since === undefined && lastId !== '' && good.length > 0) {
      const pos = parseEventId(lastId, good);
      if (!pos) request.badLastId = lastId;
      request.since = {};
      for (const [i, t] of good.entries()) request.since[t] = pos ? { epoch: pos.epoch, seq: pos.seqs[i] as number } : UNKNOWN_POSITION;
    }
    return request;
  }

  private start(res: uWS.HttpResponse, identity: Identity, r: SseRequest, hello: Hello): void {
    const forbidden = r.topics.filter((t) => !canRead(identity, t));
    if (forbidden.length > 0 && forbidden.length === r.topics.length) {
      this.gate.release();
      return this.reject(res, '403 Forbidden', topicError(undefined, 'forbidden', forbidden));
    }
    const session = this.sessions.create(jsonCodec.id, hello.remote, identity, false, hello.now);
    // A resumed topic stands where the client stood until its next frame (a served resume
    // may send nothing); any other resume starts with a snap that sets it.
    const seqs = r.topics.map((t) => {
      const p = r.since?.[t];
      return p && p.epoch === this.hub.epoch ? p.seq.toString(36) : '0';
    });
    const slots = new Map(r.topics.map((t, i) => [t, i]));
    const stream = new SseStream(this.shared, session, res, slots, seqs, idPrefix(this.hub.epoch, r.topics));
    res.onAborted(() => stream.gone());
    res.onWritable(() => {
      stream.writable();
      return true;
    });
    res
      .writeStatus('200 OK')
      .writeHeader('content-type', 'text/event-stream')
      .writeHeader('cache-control', 'no-store')
      // Reverse proxies (nginx) must pass events on at once instead of buffering the response.
      .writeHeader('x-accel-buffering', 'no');
    stream.write(Buffer.from(`retry: ${RETRY_MS}\n\n`));
    this.sessions.open(session, Date.now());
    if (r.badLastId !== undefined) {
      const id = JSON.stringify(r.badLastId.slice(0, 64));
      const msg = `Last-Event-ID ${id} is not an id of this topic list; every topic restarts with a snap flagged resync`;
      session.reply({ op: 'err', code: 'bad_request', msg });
    }
    session.subscribe(0, r.topics, r.since, { ackEmpty: true });
  }

  private refuse(res: uWS.HttpResponse, r: Refusal): void {
    refuse(res, r, this.metrics, true);
  }

  /** A request the gateway will not serve as asked: the `err` message as a JSON body. */
  private reject(res: uWS.HttpResponse, status: string, m: Extract<ServerMessage, { op: 'err' }>): void {
    this.metrics.errors.inc({ code: m.code });
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(m));
  }
}
