import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import type { Config } from '../config/schema.js';
import type { Hub, HubSubscriber, MemberState, ResumePoint } from '../hub/hub.js';
import { closeCode, type CloseName, type ErrorCode } from '../../../protocol/src/errors.js';
import { isProtocolError, validateClientMessage, type ClientMessage, type ServerMessage } from '../../../protocol/src/messages.js';
import { ANNOUNCE_TOPIC } from '../../../protocol/src/topics.js';
import { intern } from './intern.js';
import { bucketCost, refill, sinceBase } from './limits.js';
import { SmallSet } from './small-set.js';
import type { TransportStats } from './stats.js';
import type { SymbolCheck } from '../symbols/directory.js';
import { admitTopics } from './sub-request.js';
import { splitTopics, topicError } from './topic-errors.js';

/** The settings the session rules read. */
export type SessionConfig = Pick<
  Config,
  | 'maxSubscriptionsPerConnection'
  | 'maxTopicsPerRequest'
  | 'topicsPerMessage'
  | 'maxMessagesPerSec'
  | 'maxConnectionLifetimeSec'
  | 'slowSoftBytes'
  | 'maxBackpressureBytes'
  | 'slowTimeoutMs'
>;

/**
 * What one write told about the socket: passed on (`sent`), left data buffered (`buffered`: the
 * session looks at `buffered()`), past the transport's own limit (`over`), or lost (`dropped`).
 */
export type WriteResult = 'sent' | 'buffered' | 'over' | 'dropped';

/** What a session needs from its connection: the transport's side of one socket. */
export interface SessionLink {
  /**
   * True when `buffered()` is what the socket really holds (uWS WebSocket). False when the
   * transport cannot tell (uWS HTTP response): the first write it could not pass on makes the
   * session stale, and only the transport's "writable again" (`Session.drained`) ends that.
   */
  readonly measured: boolean;
  /** One hub frame (snap/upd) to the client. */
  frame(f: Uint8Array): WriteResult;
  /** One message of the gateway's own (ack, err, pong, notices). */
  message(m: ServerMessage): WriteResult;
  buffered(): number;
  cork(fn: () => void): void;
  /** Closes now with a code of the error table; the transport calls `Session.gone` once closed. */
  close(code: number, name: CloseName, reason: string): void;
  /** 4008 for a slow consumer, sent so that it reaches the client (see SlowCloses). */
  closeSlow(): void;
  /** For transports that fan live frames out per topic: the session is live on `name` now. */
  onLive?(name: string): void;
  /** ...and no longer subscribed to `name`. */
  onUnsubscribed?(name: string): void;
  /** ...is stale (conflated): out of every fan-out at once. */
  onStale?(): void;
  /** ...has caught up: back into the fan-out of its live topics. */
  onCaughtUp?(): void;
}

/** The session registry as a session sees it (sessions.ts). */
export interface SessionContext {
  readonly cfg: SessionConfig;
  readonly hub: Hub<Session>;
  readonly stats: TransportStats;
  readonly log: Logger;
  /** The symbol directory; absent: every symbol is accepted (no directory configured). */
  readonly symbols?: SymbolCheck | undefined;
  /** True inside hub.flush, which is not re-entrant: a close decided there waits for its end. */
  readonly flushing: boolean;
  countError(code: ErrorCode): void;
  touched(s: Session): void;
  staleChanged(s: Session): void;
  closeAfterFlush(s: Session): void;
  gone(s: Session): void;
}

/** States in which a subscriber was getting a topic's frames, so a conflation interrupted them. */
const receiving = (s: MemberState | undefined): boolean => s === 'live' || s === 'direct' || s === 'conflated';

/** Messages refused in a row (over maxMessagesPerSec) before the connection is closed. */
export const MAX_REFUSED_IN_ROW = 20;

/** Session.flags. */
const CLOSED = 1;
const STALE = 2;
const RELEASED = 4;
const VIA_TOPIC = 8;

/** Options of `subscribe` that differ by how the request arrived. */
export interface SubscribeOptions {
  /** Send the ack even when it lists no topic (an SSE stream always starts with one). */
  ackEmpty?: boolean;
}

/**
 * One client connection, whatever carries it (WebSocket, SSE): the rules of the protocol that do
 * not depend on the transport. It handles sub/unsub (validation, entitlements, the per-connection
 * subscription limit, the waiting limit through the hub, the message rate), the lifetime and
 * token deadlines (through its registry), and the slow-consumer policy: a socket past
 * slowSoftBytes is conflated (stale: no upd, then a resync snap per topic once drained), and one
 * past maxBackpressureBytes, or stale for longer than slowTimeoutMs, is closed with 4008.
 */
export class Session implements HubSubscriber {
  // Memory per idle connection (issue 18 point 7): every field here is paid once per open
  // connection, so collections are allocated when first needed and booleans share one number.
  readonly topics = new SmallSet<string>();
  /** Frames handed over by the hub during the current flush, written right after it (none: undefined). */
  private outbox: Uint8Array[] | undefined = undefined;
  /** Topics that became live during the current flush: made live right after the outbox is written. */
  private joins: string[] | undefined = undefined;
  /** CLOSED | STALE | RELEASED | VIA_TOPIC. */
  private flags: number;
  staleSince = 0;
  /**
   * The message-rate token bucket (maxMessagesPerSec, burst 2×), in two fields rather than an
   * object of its own; its time is `sinceBase`, a small integer (limits.ts).
   */
  private tokens: number;
  private tokensAt: number;
  private refusedInRow = 0;
  private link!: SessionLink;

  constructor(
    private readonly ctx: SessionContext,
    readonly id: number,
    readonly codec: number,
    readonly remote: string,
    readonly identity: Identity,
    /** Live frames come through the transport's per-topic fan-out (see TopicDelivery). */
    viaTopic: boolean,
    now: number,
  ) {
    this.flags = viaTopic ? VIA_TOPIC : 0;
    this.tokens = ctx.cfg.maxMessagesPerSec * 2;
    this.tokensAt = sinceBase(now);
  }

  /** Live frames come through the transport's per-topic fan-out (see TopicDelivery). */
  get viaTopic(): boolean {
    return (this.flags & VIA_TOPIC) !== 0;
  }

  /** No more writes: closing, or closed. */
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }

  set closed(v: boolean) {
    this.flags = v ? this.flags | CLOSED : this.flags & ~CLOSED;
  }

  /** Conflated: no upd until it drains, then a resync snap per topic. */
  get stale(): boolean {
    return (this.flags & STALE) !== 0;
  }

  set stale(v: boolean) {
    this.flags = v ? this.flags | STALE : this.flags & ~STALE;
  }

  attach(link: SessionLink): void {
    this.link = link;
  }

  /** Subscribes the broadcast topic, from "now": only announcements made while connected. */
  open(): void {
    const hub = this.ctx.hub;
    const r = hub.subscribe(this, ANNOUNCE_TOPIC, hub.position(ANNOUNCE_TOPIC));
    if (r.kind !== 'invalid' && r.kind !== 'duplicate') this.topics.add(ANNOUNCE_TOPIC);
    // Subscribed "from now": no frame to send, so live at once.
    if (r.kind === 'frames') this.makeLive(ANNOUNCE_TOPIC);
  }

  /** Counts one client message against maxMessagesPerSec; false when it is dropped (answered, or closed). */
  admitMessage(now: number): boolean {
    if (this.take(now, 1)) {
      this.refusedInRow = 0;
      return true;
    }
    return this.rateLimited(undefined, `at most ${this.ctx.cfg.maxMessagesPerSec} messages per second; this one was dropped`);
  }

  /** A decoded client message: validated, charged for its topics, handled. */
  request(value: unknown, now: number): void {
    const cfg = this.ctx.cfg;
    const m = validateClientMessage(value, cfg.maxTopicsPerRequest);
    if (isProtocolError(m)) return this.reply({ op: 'err', ...m });
    // A sub/unsub costs one message per started group of topicsPerMessage topics (the first was
    // taken by admitMessage): churn through many topics per message must not be cheaper than many messages.
    const extra = m.op === 'ping' ? 0 : Math.ceil(m.topics.length / cfg.topicsPerMessage) - 1;
    if (extra > 0 && !this.take(now, extra)) {
      const msg = `at most ${cfg.maxMessagesPerSec} messages per second, one per ${cfg.topicsPerMessage} topics; this one was dropped`;
      this.rateLimited(m.id, msg);
      return;
    }
    this.handle(m);
  }

  /** TokenBucket.take on the session's own fields. */
  private take(now: number, cost: number): boolean {
    const rate = this.ctx.cfg.maxMessagesPerSec;
    const burst = rate * 2;
    const at = sinceBase(now);
    this.tokens = refill(this.tokens, at - this.tokensAt, rate, burst);
    this.tokensAt = at;
    const c = bucketCost(cost, burst);
    if (this.tokens < c) return false;
    this.tokens -= c;
    return true;
  }

  private rateLimited(id: number | undefined, msg: string): false {
    this.ctx.stats.rateLimited++;
    if (++this.refusedInRow > MAX_REFUSED_IN_ROW) this.end('rate_limited', 'too many messages');
    else this.reply(id === undefined ? { op: 'err', code: 'rate_limited', msg } : { op: 'err', id, code: 'rate_limited', msg });
    return false;
  }

  private handle(m: ClientMessage): void {
    switch (m.op) {
      case 'ping':
        return this.reply({ op: 'pong', id: m.id });
      case 'sub':
        return this.subscribe(m.id, m.topics, m.since);
      case 'unsub':
        return this.unsubscribe(m.id, m.topics);
    }
  }

  /**
   * A subscription request. Every topic it names is acked, or refused with an `err` listing it:
   * by `admitTopics` (sub-request.ts) before the hub is asked, or too_many_waiting (refused by the hub).
   */
  subscribe(id: number, topics: string[], since: Record<string, ResumePoint> | undefined, opts: SubscribeOptions = {}): void {
    const accepted = admitTopics(this, id, topics, this.ctx.cfg.maxSubscriptionsPerConnection, this.ctx.symbols);
    if (!accepted.length && !opts.ackEmpty) return;
    const frames: Uint8Array[] = [];
    const live: string[] = [];
    const refused: string[] = [];
    for (const name of accepted) {
      // The name as decoded from this request would be one more copy per subscription.
      const topic = intern(name);
      const r = this.ctx.hub.subscribe(this, topic, since?.[topic]);
      if (r.kind === 'refused') refused.push(topic);
      if (r.kind === 'duplicate' || r.kind === 'invalid' || r.kind === 'refused') continue;
      this.topics.add(topic);
      if (r.kind === 'frames') {
        frames.push(...r.frames);
        live.push(topic);
      }
    }
    if (refused.length) this.reply(topicError(id, 'too_many_waiting', refused));
    const no = new Set(refused);
    const acked = refused.length ? accepted.filter((t) => !no.has(t)) : accepted;
    if (acked.length || opts.ackEmpty) this.reply({ op: 'ack', id, topics: acked });
    for (const f of frames) this.send(f);
    // Live only after its snap or replay went out: the fan-out cannot overtake it.
    for (const topic of live) this.makeLive(topic);
  }

  private unsubscribe(id: number, topics: string[]): void {
    const { good, bad } = splitTopics(topics);
    if (bad.length) this.reply(topicError(id, 'bad_topic', bad));
    if (!good.length) return;
    for (const topic of good) {
      this.ctx.hub.unsubscribe(this, topic);
      this.topics.delete(topic);
      this.link.onUnsubscribed?.(topic);
    }
    this.reply({ op: 'ack', id, topics: good });
  }

  /** The snap or replay of `name` has been sent: live frames may come through the fan-out. */
  private makeLive(name: string): void {
    if (this.closed || !this.topics.has(name)) return;
    this.link.onLive?.(name);
  }

  /** The topics the hub's record has this session live on (reached by publish): what a per-topic fan-out holds. */
  *liveTopics(): IterableIterator<string> {
    for (const topic of this.topics) if (this.ctx.hub.stateOf(this, topic) === 'live') yield topic;
  }

  /** Writes made in `fn` leave together (uWS cork). */
  cork(fn: () => void): void {
    this.link.cork(fn);
  }

  reply(msg: ServerMessage): void {
    if (msg.op === 'err') this.ctx.countError(msg.code);
    if (this.closed) return;
    this.wrote(this.link.message(msg));
  }

  /** Every hub frame to the client goes through here, so the slow-consumer rule has one home. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.wrote(this.link.frame(frame));
  }

  private wrote(r: WriteResult): void {
    if (r === 'sent') return;
    if (r === 'dropped') return this.slowConsumer('frame dropped by the transport');
    if (r === 'over') return this.slowConsumer('buffer over maxBackpressureBytes');
    this.ctx.stats.backpressureEvents++;
    const buffered = this.link.buffered();
    if (buffered > this.ctx.cfg.maxBackpressureBytes) this.slowConsumer('buffer over maxBackpressureBytes');
    else if (!this.stale && (buffered > this.ctx.cfg.slowSoftBytes || !this.link.measured)) this.markStale();
  }

  /** Applies slowSoftBytes / maxBackpressureBytes to the socket; returns its buffered bytes. */
  checkBuffer(): number {
    if (this.closed) return 0;
    const buffered = this.link.buffered();
    if (buffered > this.ctx.cfg.maxBackpressureBytes) this.slowConsumer('buffer over maxBackpressureBytes');
    else if (buffered > this.ctx.cfg.slowSoftBytes && !this.stale) this.markStale();
    return buffered;
  }

  /** The hub's deliver callback: frames wait for the end of the flush; a stale session skips them. */
  enqueue(frame: Uint8Array): void {
    if (this.stale) {
      this.ctx.stats.conflatedFrames++;
      return;
    }
    this.touch();
    (this.outbox ??= []).push(frame);
  }

  /** TopicDelivery.live: the hub sent this flush's snap of `name`; live once it is written. */
  liveAfterFlush(name: string): void {
    this.touch();
    (this.joins ??= []).push(name);
  }

  private touch(): void {
    if (this.outbox === undefined && this.joins === undefined) this.ctx.touched(this);
  }

  /** After the flush: what it handed over, in one corked write, then the topics that became live. */
  writeOut(): void {
    const frames = this.outbox;
    const joins = this.joins;
    this.outbox = undefined;
    this.joins = undefined;
    if (this.closed) return;
    if (frames !== undefined)
      this.link.cork(() => {
        for (const f of frames) this.send(f);
      });
    if (joins !== undefined) for (const name of joins) this.makeLive(name);
  }

  private markStale(): void {
    this.stale = true;
    this.staleSince = Date.now();
    this.ctx.staleChanged(this);
    this.link.onStale?.();
    this.ctx.stats.slowConsumerEvents++;
    this.ctx.log.info({ conn: this.id, remote: this.remote, buffered: this.link.buffered() }, 'slow consumer: conflating until drained');
  }

  /** The socket drained (or the watchdog looked): a stale session that caught up gets resync snaps. */
  drained(): void {
    if (!this.stale || this.closed || this.link.buffered() > this.ctx.cfg.slowSoftBytes / 2) return;
    this.stale = false;
    this.ctx.staleChanged(this);
    this.link.cork(() => {
      for (const topic of this.topics) {
        // Only a stream that was flowing was interrupted. A parked resume or an awaited snap still
        // has its own first answer coming from a flush: a resync now would precede it, and seq would go back.
        if (!receiving(this.ctx.hub.stateOf(this, topic))) continue;
        const f = this.ctx.hub.resyncFrame(topic, this.codec);
        if (f) this.send(f);
      }
    });
    // After the resync snaps, back into the fan-out (unless the snaps made it stale again).
    if (!this.stale && !this.closed) this.link.onCaughtUp?.();
  }

  slowConsumer(why: string): void {
    if (this.ctx.flushing) {
      // Stale first: out of every fan-out, so nothing more is written to it before the close.
      if (!this.stale && !this.closed) this.markStale();
      this.ctx.closeAfterFlush(this);
      return;
    }
    this.ctx.stats.slowConsumerCloses++;
    this.ctx.log.warn({ conn: this.id, remote: this.remote, buffered: this.link.buffered(), why }, 'closing slow consumer');
    if (this.closed) return;
    this.closed = true;
    this.ctx.staleChanged(this);
    this.link.closeSlow();
  }

  /** Closes with a code from the table; later sends and messages are dropped. */
  end(name: CloseName, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.staleChanged(this);
    this.link.close(closeCode(name), name, reason);
  }

  /** The socket is gone (closed by either side): its subscriptions and its slot go. */
  gone(): void {
    this.closed = true;
    this.outbox = undefined;
    this.joins = undefined;
    if (this.flags & RELEASED) return;
    this.flags |= RELEASED;
    this.ctx.gone(this);
    for (const topic of this.topics) this.ctx.hub.unsubscribe(this, topic);
    this.topics.clear();
  }
}
