import { describe, expect, it } from 'vitest';
import type { Identity } from '../src/auth/identity.js';
import { createLogger } from '../src/log.js';
import { Hub } from '../src/hub/hub.js';
import { CODECS, jsonCodec } from '../src/codecs.js';
import type { CloseName } from '../../protocol/src/errors.js';
import type { ServerMessage } from '../../protocol/src/messages.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { MAX_REFUSED_IN_ROW, type Session, type SessionConfig, type SessionLink, type WriteResult } from '../src/transport/session.js';
import { Sessions } from '../src/transport/sessions.js';

/** A transport with no socket: records what the session writes and how it closes; its buffer is set by hand. */
class FakeLink implements SessionLink {
  readonly sent: any[] = [];
  readonly events: string[] = [];
  closedWith: [number, CloseName] | undefined;
  slowClosed = false;
  /** What the next writes report, and what the socket holds. */
  result: WriteResult = 'sent';
  bytes = 0;
  constructor(
    readonly session: Session,
    readonly measured = true,
  ) {
    session.attach(this);
  }
  frame(f: Uint8Array): WriteResult {
    this.sent.push(JSON.parse(new TextDecoder().decode(f)));
    return this.result;
  }
  message(m: ServerMessage): WriteResult {
    this.sent.push(m);
    return this.result;
  }
  buffered(): number {
    return this.bytes;
  }
  cork(fn: () => void): void {
    fn();
  }
  close(code: number, name: CloseName): void {
    this.closedWith = [code, name];
    this.session.gone();
  }
  closeSlow(): void {
    this.slowClosed = true;
  }
  onLive(name: string): void {
    this.events.push(`live ${name}`);
  }
  onUnsubscribed(name: string): void {
    this.events.push(`unsub ${name}`);
  }
  onStale(): void {
    this.events.push('stale');
  }
  onCaughtUp(): void {
    this.events.push('caught up');
  }
  ops(): string[] {
    return this.sent.map((m) => {
      if (m.op === 'err') return `err ${m.code} ${m.topics?.join(',') ?? ''}`.trim();
      return m.op === 'ack' ? `ack ${m.topics.join(',')}` : m.op;
    });
  }
}

const CFG: SessionConfig = {
  maxSubscriptionsPerConnection: 3,
  maxTopicsPerRequest: 100,
  topicsPerMessage: 10,
  maxMessagesPerSec: 2,
  maxConnectionLifetimeSec: 0,
  slowSoftBytes: 1_000,
  maxBackpressureBytes: 10_000,
  slowTimeoutMs: 5_000,
};
const EVERYONE: Identity = { sub: undefined, markets: () => true, expiresAt: undefined };
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: 'b' });

function setup(cfg: Partial<SessionConfig> = {}) {
  const hist = { historyMinWindowMs: 30_000, historyBudgetBytes: 1 << 30, historyMaxAgeMs: 60_000 };
  const hub = new Hub<Session>({ epoch: 'E1', codecs: CODECS, maxTicksPerFrame: 100, ...hist });
  const errors: string[] = [];
  const admission = { open: 0, opened: () => admission.open++, closed: () => admission.open-- };
  const sessions = new Sessions({ ...CFG, ...cfg }, hub, admission, createLogger('silent'), (code) => errors.push(code));
  const connect = (opts: { viaTopic?: boolean; measured?: boolean; identity?: Identity; now?: number } = {}) => {
    const s = sessions.create(jsonCodec.id, '10.0.0.1', opts.identity ?? EVERYONE, opts.viaTopic ?? true, opts.now ?? 0);
    const link = new FakeLink(s, opts.measured ?? true);
    sessions.open(s, opts.now ?? 0);
    return { s, link };
  };
  // Topics with data: a subscription to them starts with a snap.
  for (const t of ['trade.A', 'trade.B', 'trade.C', 'trade.D']) hub.publish(t, trade(1));
  hub.flush(() => undefined, 0);
  const flush = (now = Date.now()) => {
    sessions.flushing = true;
    hub.flush((s, f) => s.enqueue(f), now);
    sessions.flushing = false;
    sessions.afterFlush();
  };
  return { hub, sessions, connect, errors, admission, flush };
}

describe('Session: sub and unsub', () => {
  it('acks, then sends each snap, then makes the topics live; bad and forbidden names get an err each', () => {
    const { connect, errors } = setup();
    const { s, link } = connect({ identity: { sub: 'a', markets: (base) => !base.endsWith('B'), expiresAt: undefined } });
    expect(link.events).toEqual(['live sys.announce']);
    s.request({ op: 'sub', id: 1, topics: ['trade.A', 'nope', 'trade.B'] }, 0);
    expect(link.ops()).toEqual(['err bad_topic nope', 'err forbidden trade.B', 'ack trade.A', 'snap']);
    expect(link.events).toEqual(['live sys.announce', 'live trade.A']);
    expect(errors).toEqual(['bad_topic', 'forbidden']);
    s.request({ op: 'unsub', id: 2, topics: ['trade.A'] }, 0);
    expect(link.ops().at(-1)).toBe('ack trade.A');
    expect(link.events.at(-1)).toBe('unsub trade.A');
    expect([...s.topics]).toEqual(['sys.announce']);
  });

  it('ping is answered with pong; an invalid message with err', () => {
    const { connect } = setup();
    const { s, link } = connect();
    s.request({ op: 'ping', id: 7 }, 0);
    s.request({ op: 'nope' }, 0);
    expect(link.sent[0]).toEqual({ op: 'pong', id: 7 });
    expect(link.sent[1]).toMatchObject({ op: 'err' });
  });
});

describe('Session: one subscription limit for every transport', () => {
  // WebSocket: a `sub` message on a viaTopic session. SSE: the request's topics as `sub` id 0,
  // acked even when empty, on a session that is not viaTopic. The same rule must hold on both.
  const kinds = [
    { name: 'WebSocket', viaTopic: true, sub: (s: Session, id: number, topics: string[]) => s.request({ op: 'sub', id, topics }, 0) },
    {
      name: 'SSE',
      viaTopic: false,
      sub: (s: Session, id: number, topics: string[]) => s.subscribe(id, topics, undefined, { ackEmpty: true }),
    },
  ];
  for (const k of kinds) {
    it(`${k.name}: maxSubscriptionsPerConnection counts subscribed topics, not sys.announce nor repeats`, () => {
      const { connect } = setup();
      const { s, link } = connect({ viaTopic: k.viaTopic });
      k.sub(s, 1, ['sys.announce', 'trade.A', 'trade.B', 'trade.C', 'trade.D', 'trade.A']);
      const replies = link.ops().filter((o) => !['snap', 'upd'].includes(o));
      expect(replies).toEqual(['err too_many_subscriptions trade.D', 'ack sys.announce,trade.A,trade.B,trade.C']);
      expect([...s.topics].sort()).toEqual(['sys.announce', 'trade.A', 'trade.B', 'trade.C']);
      link.sent.length = 0;
      k.sub(s, 2, ['trade.A', 'trade.D']);
      expect(link.ops()).toEqual(['err too_many_subscriptions trade.D', 'ack trade.A']);
    });
  }
});

describe('Session: message rate', () => {
  it('drops a message over maxMessagesPerSec with err rate_limited, and closes with 4029 after too many in a row', () => {
    const { connect, sessions } = setup();
    const { s, link } = connect();
    // The burst: 2 × maxMessagesPerSec.
    for (let i = 0; i < 4; i++) expect(s.admitMessage(0)).toBe(true);
    expect(s.admitMessage(0)).toBe(false);
    expect(link.sent.at(-1)).toMatchObject({ op: 'err', code: 'rate_limited' });
    for (let i = 0; i < MAX_REFUSED_IN_ROW; i++) s.admitMessage(0);
    expect(link.closedWith).toEqual([4029, 'rate_limited']);
    expect(sessions.stats.rateLimited).toBe(MAX_REFUSED_IN_ROW + 1);
  });

  it('charges a sub one message per started group of topicsPerMessage topics', () => {
    const { connect } = setup({ topicsPerMessage: 1 });
    const { s, link } = connect();
    // The burst holds 4 (2 × maxMessagesPerSec): 2 taken, then a sub of 4 topics costs 3 more.
    expect(s.admitMessage(0) && s.admitMessage(0)).toBe(true);
    s.request({ op: 'sub', id: 1, topics: ['trade.A', 'trade.B', 'trade.C', 'trade.D'] }, 0);
    expect(link.sent.at(-1)).toMatchObject({ op: 'err', id: 1, code: 'rate_limited' });
    expect(s.topics.size).toBe(1);
  });
});

describe('Session: deadlines', () => {
  it('closes with 4002 at maxConnectionLifetimeSec and with 4001 when the token expires', () => {
    const { connect, sessions, admission } = setup({ maxConnectionLifetimeSec: 10 });
    const life = connect({ now: 0 });
    const token = connect({ now: 0, identity: { ...EVERYONE, expiresAt: 4_000 } });
    expect(admission.open).toBe(2);
    sessions.tick(3_000, true);
    expect([life.link.closedWith, token.link.closedWith]).toEqual([undefined, undefined]);
    sessions.tick(4_000, true);
    expect(token.link.closedWith).toEqual([4001, 'token_expired']);
    sessions.tick(10_000, true);
    expect(life.link.closedWith).toEqual([4002, 'max_lifetime']);
    expect([sessions.count, admission.open]).toEqual([0, 0]);
  });
});

describe('Session: slow consumers', () => {
  it('past slowSoftBytes: stale (conflated, out of the fan-out); once drained: a resync snap per topic and back in', () => {
    const { connect, sessions, hub, flush } = setup();
    const { s, link } = connect();
    s.request({ op: 'sub', id: 1, topics: ['trade.A'] }, 0);
    link.result = 'buffered';
    link.bytes = 2_000;
    s.send(new TextEncoder().encode('{"op":"upd","topic":"trade.A","seq":2,"data":[]}'));
    expect([s.stale, sessions.staleCount, sessions.stats.slowConsumerEvents, sessions.stats.backpressureEvents]).toEqual([true, 1, 1, 1]);
    expect(link.events.at(-1)).toBe('stale');
    s.enqueue(new Uint8Array(1));
    expect(sessions.stats.conflatedFrames).toBe(1);
    // Not drained enough yet (over slowSoftBytes / 2): still stale.
    link.bytes = 600;
    sessions.tick(1_000, true);
    expect(s.stale).toBe(true);
    hub.publish('trade.A', trade(2));
    flush();
    link.result = 'sent';
    link.bytes = 0;
    link.sent.length = 0;
    sessions.tick(2_000, true);
    expect(s.stale).toBe(false);
    expect(link.sent).toEqual([expect.objectContaining({ op: 'snap', topic: 'trade.A', resync: true })]);
    expect(link.events.at(-1)).toBe('caught up');
  });

  it('once drained, a resync snap only for topics it was receiving: a parked resume or an awaited snap keeps its own answer', () => {
    const { connect, sessions, hub, flush } = setup();
    const { s, link } = connect();
    const SRC = 'cluster-1/ticks/0';
    hub.publish('trade.P', trade(1), SRC, 10);
    hub.flush(() => undefined, 0);
    // trade.A live; trade.P a resume of another instance's position (offset 12) not reached yet: parked.
    s.request({ op: 'sub', id: 1, topics: ['trade.A', 'trade.P'], since: { 'trade.P': { epoch: 'E0', seq: 7, src: SRC, off: 12 } } }, 0);
    expect([hub.stateOf(s, 'trade.A'), hub.stateOf(s, 'trade.P')]).toEqual(['live', 'parked']);
    // trade.B: a replica gap makes its subscribers await a resync snap from the next flush.
    s.request({ op: 'sub', id: 2, topics: ['trade.B'] }, 1_000);
    hub.publishSequenced('trade.B', 5, trade(5));
    expect(hub.stateOf(s, 'trade.B')).toBe('resync');
    link.bytes = 2_000;
    s.checkBuffer();
    expect(s.stale).toBe(true);
    link.bytes = 0;
    link.sent.length = 0;
    sessions.tick(1_000, true);
    expect(s.stale).toBe(false);
    expect(link.sent).toEqual([expect.objectContaining({ op: 'snap', topic: 'trade.A', resync: true })]);
    // The parked resume is served from the client's own position, then the awaited snap comes, once.
    hub.publish('trade.P', trade(2), SRC, 11);
    hub.publish('trade.P', trade(3), SRC, 12);
    hub.publish('trade.P', trade(4), SRC, 13);
    link.sent.length = 0;
    // Hub clock 1 s: within the parked resume's wait (positionWaitMs from 0).
    flush(1_000);
    const got = link.sent.map((m) => [m.op, m.topic, m.seq, m.resync ?? false]);
    expect(got).toEqual([
      ['snap', 'trade.B', 5, true],
      ['snap', 'trade.P', 3, false],
      ['upd', 'trade.P', 4, false],
    ]);
  });

  it("back into the fan-out only where the hub's record has it live, a data-less topic resumed from seq 0 included", () => {
    const { connect, hub } = setup({ maxSubscriptionsPerConnection: 10 });
    const { s } = connect();
    const SRC = 'cluster-1/ticks/0';
    hub.publish('trade.P', trade(1), SRC, 10);
    hub.flush(() => undefined, 0);
    const since = { 'trade.P': { epoch: 'E0', seq: 7, src: SRC, off: 12 }, 'trade.Z': { epoch: 'E1', seq: 0 } };
    s.request({ op: 'sub', id: 1, topics: ['trade.A', 'trade.P', 'trade.Y', 'trade.Z'], since }, 0);
    // trade.P parked, trade.Y waiting for its first tick and its snap: not live.
    expect([...s.liveTopics()]).toEqual(['sys.announce', 'trade.A', 'trade.Z']);
  });

  it('closes with 4008 past maxBackpressureBytes, or when stale for longer than slowTimeoutMs', () => {
    const { connect, sessions } = setup();
    const over = connect();
    over.link.result = 'buffered';
    over.link.bytes = 20_000;
    over.s.reply({ op: 'pong', id: 1 });
    expect(over.link.slowClosed).toBe(true);
    const stuck = connect();
    stuck.link.bytes = 2_000;
    expect(stuck.s.checkBuffer()).toBe(2_000);
    expect(stuck.s.stale).toBe(true);
    sessions.tick(stuck.s.staleSince + 5_001, true);
    expect(stuck.link.slowClosed).toBe(true);
    expect(sessions.stats.slowConsumerCloses).toBe(2);
    const dropped = connect();
    dropped.link.result = 'dropped';
    dropped.s.reply({ op: 'pong', id: 1 });
    expect(dropped.link.slowClosed).toBe(true);
  });

  it('a close decided inside a hub flush waits for the flush to end (the hub is not re-entrant)', () => {
    const { connect, sessions } = setup();
    const { s, link } = connect();
    link.bytes = 20_000;
    sessions.flushing = true;
    s.checkBuffer();
    expect([s.stale, link.slowClosed]).toEqual([true, false]);
    sessions.flushing = false;
    sessions.afterFlush();
    expect(link.slowClosed).toBe(true);
  });

  it('a transport that cannot measure its buffer: stale at the first write it could not pass on, fresh only when it says so', () => {
    const { connect, sessions } = setup();
    const { s, link } = connect({ viaTopic: false, measured: false });
    s.subscribe(0, ['trade.A'], undefined, { ackEmpty: true });
    link.result = 'buffered';
    s.reply({ op: 'hb', ts: 1 });
    expect(s.stale).toBe(true);
    link.result = 'sent';
    sessions.tick(1_000, false);
    expect(s.stale).toBe(true);
    link.result = 'over';
    s.reply({ op: 'hb', ts: 2 });
    expect(link.slowClosed).toBe(true);
  });
});
