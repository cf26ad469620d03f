import type uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { canRead, type Identity } from '../auth/identity.js';
import type { Config } from '../config/schema.js';
import type { Hub, HubSubscriber, ResumePoint } from '../hub/hub.js';
import type { Metrics, TransportStats } from '../metrics.js';
import { jsonCodec } from '../../../protocol/src/codec.js';
import { closeCode, type CloseName } from '../../../protocol/src/errors.js';
import { isProtocolError, validateClientMessage, type ServerMessage } from '../../../protocol/src/messages.js';
import { ANNOUNCE_TOPIC } from '../../../protocol/src/topics.js';
import { isRefusal, type Gate, type Hello, type Refusal } from './gate.js';
import { Deadlines } from './limits.js';
import { idPrefix, parseEventId } from './sse-id.js';
import { splitTopics, topicError } from './topic-errors.js';

/**
 * `GET /v1/sse?topics=a,b,c`: the WebSocket JSON stream as Server-Sent Events, for networks whose
 * proxies block WebSocket. Every `snap`/`upd` frame is the hub's JSON-codec frame, byte for byte
 * (encoded once per topic per flush for every subscriber of either transport); a stream adds only
 * the SSE framing, which is also built once per frame, and its own event id.
 *
 * An SSE stream is a hub subscriber like a WebSocket connection and obeys the same admission
 * ({@link Gate}), entitlements, limits, heartbeats, deadlines, shutdown notice and slow-consumer
 * rules; docs/protocol.md (Server-Sent Events) is the contract.
 */
export interface SseStream extends HubSubscriber {
  readonly sse: true;
  readonly id: number;
  readonly codec: number;
  readonly remote: string;
  readonly identity: Identity;
  readonly res: uWS.HttpResponse;
  /** The requested topics (valid, deduplicated, in request order): the positions of the event id. */
  readonly slots: Map<string, number>;
  /** Base-36 seq of the last tick sent per slot. */
  readonly seqs: string[];
  /** `<epoch>.<fingerprint>.` */
  readonly idHead: string;
  /** Hub subscriptions (the accepted topics and sys.announce). */
  readonly subscribed: string[];
  outbox: Uint8Array[];
  closed: boolean;
  /** Conflated (slow consumer): no upd until writable again, then a resync snap per topic. */
  stale: boolean;
  staleSince: number;
  /** Bytes written since a write reported backpressure; undefined while the socket keeps up. */
  pressed: number | undefined;
}

/** One hub frame as an SSE event: built once per frame and shared by every stream. */
interface SseEvent {
  /** `event: <op>\ndata: <frame>\n` (the id line and the blank line are per stream). */
  bytes: Buffer;
  topic: string;
  /** Base-36 seq of the frame's last tick. */
  last: string;
}

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
const NL = Buffer.from('\n');
const decoder = new TextDecoder();

export class SseEndpoint {
  private readonly streams = new Set<SseStream>();
  private touched: SseStream[] = [];
  private readonly stale = new Set<SseStream>();
  private readonly deadlines = new Deadlines<SseStream>();
  private readonly events = new WeakMap<Uint8Array, SseEvent>();
  private readonly stats: TransportStats;
  private nextId = 1;
  private closing = false;

  constructor(
    private readonly cfg: Config,
    private readonly hub: Hub<HubSubscriber>,
    private readonly gate: Gate,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.stats = metrics.transport;
  }

  get count(): number {
    return this.streams.size;
  }

  route(app: uWS.TemplatedApp): void {
    app.get('/v1/sse', (res, req) => this.request(res, req));
  }

  /** The hub's deliver callback for SSE subscribers: frames wait for the end of the flush. */
  enqueue(s: SseStream, frame: Uint8Array): void {
    if (s.stale) {
      this.stats.conflatedFrames++;
      return;
    }
    if (s.outbox.length === 0) this.touched.push(s);
    s.outbox.push(frame);
  }

  /** Writes what the hub handed over during this flush: one corked write per stream. */
  flush(): void {
    const touched = this.touched;
    if (touched.length === 0) return;
    this.touched = [];
    for (const s of touched) {
      const frames = s.outbox;
      s.outbox = [];
      if (!s.closed) s.res.cork(() => this.writeFrames(s, frames));
    }
  }

  /** hb and shutdown: one encoding for every stream. */
  broadcast(msg: ServerMessage): void {
    if (this.streams.size === 0) return;
    const bytes = event(msg);
    for (const s of this.streams) s.res.cork(() => this.write(s, bytes));
  }

  /** The transport's watchdog: conflation timeouts and token/lifetime deadlines. */
  tick(now: number): void {
    for (const s of this.stale) if (now - s.staleSince > this.cfg.slowTimeoutMs) this.slowConsumer(s, `stale for over ${this.cfg.slowTimeoutMs} ms`);
    this.stats.slowConsumers += this.stale.size;
    for (const s of this.deadlines.due(now)) {
      const expired = s.identity.expiresAt !== undefined && s.identity.expiresAt <= now;
      this.end(s, expired ? 'token_expired' : 'max_lifetime', expired ? 'token expired' : 'maximum connection lifetime reached');
    }
  }

  /** Refuses new streams and ends every open one with a `close` event naming 1001. */
  shutdown(): void {
    this.closing = true;
    for (const s of [...this.streams]) this.end(s, 'going_away', 'server shutting down');
  }

  private request(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    const hello: Hello = {
      remote: decoder.decode(res.getRemoteAddressAsText()),
      origin: req.getHeader('origin'),
      authz: req.getHeader('authorization'),
      queryToken: req.getQuery('access_token') ?? '',
      now: Date.now(),
    };
    const topicsParam = req.getQuery('topics') ?? '';
    const sinceParam = req.getQuery('since') ?? '';
    const lastId = req.getHeader('last-event-id') || (req.getQuery('lastEventId') ?? '');
    if (this.closing) return this.refuse(res, { status: '503 Service Unavailable', reason: 'shutting_down', body: 'the gateway is shutting down; reconnect to another instance' });
    const parsed = this.parse(topicsParam, sinceParam, lastId);
    if ('code' in parsed) return this.reject(res, '400 Bad Request', parsed);
    // From here the attempt holds a connection slot: start() keeps it, every other way out
    // gives it back.
    const refusal = this.gate.admit(hello);
    if (refusal) return this.refuse(res, refusal);

    const who = this.gate.identify(hello);
    if (isRefusal(who)) return this.refuseAdmitted(res, who);
    this.start(res, who, parsed, hello.remote);
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

  private start(res: uWS.HttpResponse, identity: Identity, r: SseRequest, remote: string): void {
    const forbidden = r.topics.filter((t) => !canRead(identity, t));
    if (forbidden.length > 0 && forbidden.length === r.topics.length) {
      this.gate.release();
      return this.reject(res, '403 Forbidden', topicError(undefined, 'forbidden', forbidden));
    }
    const allowed = forbidden.length ? r.topics.filter((t) => !forbidden.includes(t)) : r.topics;
    const accepted = allowed.slice(0, this.cfg.maxSubscriptionsPerConnection);
    const over = allowed.slice(this.cfg.maxSubscriptionsPerConnection);

    const s: SseStream = {
      sse: true,
      id: this.nextId++,
      codec: jsonCodec.id,
      remote,
      identity,
      res,
      slots: new Map(r.topics.map((t, i) => [t, i])),
      // A resumed topic stands where the client stood until its next frame (a served resume
      // may send nothing); any other resume starts with a snap that sets it.
      seqs: r.topics.map((t) => {
        const p = r.since?.[t];
        return p && p.epoch === this.hub.epoch ? p.seq.toString(36) : '0';
      }),
      idHead: idPrefix(this.hub.epoch, r.topics),
      subscribed: [],
      outbox: [],
      closed: false,
      stale: false,
      staleSince: 0,
      pressed: undefined,
    };
    res.onAborted(() => this.cleanup(s));
    res.onWritable(() => {
      this.writable(s);
      return true;
    });
    this.streams.add(s);
    this.gate.opened(remote);
    this.stats.connectionsOpened++;
    const deadline = Math.min(identity.expiresAt ?? Infinity, this.cfg.maxConnectionLifetimeSec ? Date.now() + this.cfg.maxConnectionLifetimeSec * 1000 : Infinity);
    if (deadline !== Infinity) this.deadlines.add(s, deadline);

    res
      .writeStatus('200 OK')
      .writeHeader('content-type', 'text/event-stream')
      .writeHeader('cache-control', 'no-store')
      // Reverse proxies (nginx) must pass events on at once instead of buffering the response.
      .writeHeader('x-accel-buffering', 'no');
    this.write(s, Buffer.from(`retry: ${RETRY_MS}\n\n`));
    // Subscribed first (nothing is sent from subscribe), so that the ack lists what was.
    const frames: Uint8Array[] = [];
    const refused: string[] = [];
    for (const topic of accepted) {
      const sub = this.hub.subscribe(s, topic, r.since?.[topic]);
      if (sub.kind === 'refused') refused.push(topic);
      if (sub.kind === 'invalid' || sub.kind === 'duplicate' || sub.kind === 'refused') continue;
      s.subscribed.push(topic);
      if (sub.kind === 'frames') frames.push(...sub.frames);
    }
    const notes: ServerMessage[] = [];
    if (forbidden.length) notes.push(topicError(undefined, 'forbidden', forbidden));
    if (over.length) notes.push(topicError(undefined, 'too_many_subscriptions', over));
    if (refused.length) notes.push(topicError(undefined, 'too_many_waiting', refused));
    if (r.badLastId !== undefined) notes.push({ op: 'err', code: 'bad_request', msg: `Last-Event-ID ${JSON.stringify(r.badLastId.slice(0, 64))} is not an id of this topic list; every topic restarts with a snap flagged resync` });
    for (const m of notes) this.errored(s, m);
    const no = new Set(refused);
    this.write(s, event({ op: 'ack', id: 0, topics: refused.length ? accepted.filter((t) => !no.has(t)) : accepted }));
    // The broadcast topic, from "now", as on WebSocket.
    if (this.hub.subscribe(s, ANNOUNCE_TOPIC, this.hub.position(ANNOUNCE_TOPIC)).kind !== 'invalid') s.subscribed.push(ANNOUNCE_TOPIC);
    this.writeFrames(s, frames);
  }

  private errored(s: SseStream, m: ServerMessage): void {
    if (m.op === 'err') this.metrics.errors.inc({ code: m.code });
    this.write(s, event(m));
  }

  /** Each frame with this stream's id line (topics of the stream) or none (sys.announce); one write. */
  private writeFrames(s: SseStream, frames: Uint8Array[]): void {
    if (frames.length === 0) return;
    const parts: Buffer[] = [];
    for (const f of frames) {
      const e = this.eventOf(f);
      parts.push(e.bytes);
      const slot = s.slots.get(e.topic);
      if (slot === undefined) {
        parts.push(NL);
        continue;
      }
      s.seqs[slot] = e.last;
      parts.push(Buffer.from(`id: ${s.idHead}${s.seqs.join('.')}\n\n`));
    }
    this.stats.framesOut += frames.length;
    this.write(s, Buffer.concat(parts));
  }

  private eventOf(frame: Uint8Array): SseEvent {
    let e = this.events.get(frame);
    if (e) return e;
    // Once per frame, shared by every stream: the frame's topic and last seq, for the ids.
    const m = JSON.parse(decoder.decode(frame)) as { op: string; topic: string; seq: number; data: unknown };
    const last = m.op === 'upd' && Array.isArray(m.data) ? m.seq + m.data.length - 1 : m.seq;
    e = { bytes: Buffer.concat([Buffer.from(`event: ${m.op}\ndata: `), frame, NL]), topic: m.topic, last: last.toString(36) };
    this.events.set(frame, e);
    return e;
  }

  /**
   * Every write to a stream goes through here (corked by the caller). uWS's HTTP write reports
   * backpressure but not how much it holds, so the first write it could not pass to the kernel
   * makes the stream stale (conflated), and what is written after that is counted against
   * maxBackpressureBytes until the socket is writable again.
   */
  private write(s: SseStream, data: Buffer): void {
    if (s.closed) return;
    const ok = s.res.write(data);
    this.stats.bytesOut += data.length;
    if (s.pressed !== undefined) {
      s.pressed += data.length;
      if (s.pressed > this.cfg.maxBackpressureBytes) this.slowConsumer(s, 'over maxBackpressureBytes written while backpressured');
      return;
    }
    if (ok) return;
    this.stats.backpressureEvents++;
    s.pressed = 0;
    if (!s.stale) {
      s.stale = true;
      s.staleSince = Date.now();
      this.stale.add(s);
      this.stats.slowConsumerEvents++;
      this.log.info({ sse: s.id, remote: s.remote }, 'slow SSE consumer: conflating until writable');
    }
  }

  /** uWS onWritable: the socket drained; a stale stream gets a resync snap per topic. */
  private writable(s: SseStream): void {
    s.pressed = undefined;
    if (!s.stale || s.closed) return;
    s.stale = false;
    this.stale.delete(s);
    const frames: Uint8Array[] = [];
    for (const topic of s.subscribed) {
      const f = this.hub.resyncFrame(topic, s.codec);
      if (f) frames.push(f);
    }
    s.res.cork(() => this.writeFrames(s, frames));
  }

  private slowConsumer(s: SseStream, why: string): void {
    this.stats.slowConsumerCloses++;
    this.log.warn({ sse: s.id, remote: s.remote, why }, 'closing slow SSE consumer');
    this.end(s, 'slow_consumer', 'slow consumer');
  }

  /** Ends a stream with a `close` event carrying the code of the error table (as WebSocket would close). */
  private end(s: SseStream, name: CloseName, reason: string): void {
    if (s.closed) return;
    const bytes = Buffer.from(`event: close\ndata: ${JSON.stringify({ op: 'close', code: closeCode(name), name, reason })}\n\n`);
    s.res.cork(() => {
      s.res.write(bytes);
      s.res.end();
    });
    this.cleanup(s);
  }

  private cleanup(s: SseStream): void {
    if (s.closed) return;
    s.closed = true;
    s.outbox = [];
    this.streams.delete(s);
    this.stale.delete(s);
    this.deadlines.remove(s);
    this.gate.closed(s.remote);
    for (const topic of s.subscribed) this.hub.unsubscribe(s, topic);
    this.log.debug({ sse: s.id }, 'SSE stream closed');
  }

  /** A refusal after `gate.admit` let the attempt in: its reserved connection slot goes back. */
  private refuseAdmitted(res: uWS.HttpResponse, r: Refusal): void {
    this.gate.release();
    this.refuse(res, r);
  }

  private refuse(res: uWS.HttpResponse, r: Refusal): void {
    this.metrics.refused.inc({ reason: r.reason });
    res.writeStatus(r.status).writeHeader('content-type', 'text/plain; charset=utf-8').writeHeader('cache-control', 'no-store').end(`${r.body}\n`);
  }

  /** A request the gateway will not serve as asked: the `err` message as a JSON body. */
  private reject(res: uWS.HttpResponse, status: string, m: Extract<ServerMessage, { op: 'err' }>): void {
    this.metrics.errors.inc({ code: m.code });
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(m));
  }
}

/** `event: <op>` + `data: <JSON message>`, with no id (heartbeats, notices and errors move no topic). */
function event(msg: ServerMessage): Buffer {
  return Buffer.concat([Buffer.from(`event: ${msg.op}\ndata: `), jsonCodec.encode(msg), Buffer.from('\n\n')]);
}
