import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Connection, TRANSITIONS, type ConnectionOptions, type ReconnectPolicy } from '../src/connection.js';
import type { DecodedMessage, Status } from '../src/types.js';
import { fakeWebSocket } from './support/fake-socket.js';
import { ManualTimers } from './support/manual-timers.js';

const policy: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, resetAfterMs: 5000, maxAttempts: Infinity };

function setup(over: Partial<ConnectionOptions> = {}) {
  const timers = new ManualTimers();
  const { WebSocket, sockets } = fakeWebSocket();
  const statuses: Status[] = [];
  const messages: DecodedMessage[] = [];
  const downs: string[] = [];
  let opens = 0;
  const conn = new Connection(
    {
      url: 'ws://gw/v1',
      format: 'msgpack',
      WebSocket,
      reconnect: policy,
      heartbeatTimeoutMs: 4000,
      connectTimeoutMs: 10_000,
      timers,
      random: () => 0.5,
      transport: 'websocket',
      fallbackAfter: 3,
      probe: { initialDelayMs: 2000, maxDelayMs: 60_000, factor: 2 },
      ...over,
    },
    {
      onStatus: (s) => statuses.push(s),
      onOpen: () => opens++,
      onMessage: (m) => messages.push(m),
      onDown: (r) => downs.push(r),
    },
  );
  const socket = (i: number) => {
    const s = sockets[i];
    if (!s) throw new Error(`no socket #${i} (have ${sockets.length})`);
    return s;
  };
  return { conn, timers, sockets, socket, statuses, messages, downs, opens: () => opens };
}

const states = (ss: Status[]) => ss.map((s) => s.state);

describe('Connection state machine', () => {
  it('idle → connecting → open, offering the subprotocol and asking for ArrayBuffers', () => {
    const t = setup();
    expect(t.conn.state.kind).toBe('idle');
    t.conn.connect();
    expect(t.conn.state.kind).toBe('connecting');
    expect(t.socket(0).url).toBe('ws://gw/v1');
    expect(t.socket(0).protocols).toEqual(['tickwire.v1.msgpack']);
    expect(t.socket(0).binaryType).toBe('arraybuffer');
    t.socket(0).serverOpen();
    expect(t.conn.state.kind).toBe('open');
    expect(t.statuses).toEqual([
      { state: 'connecting', transport: 'websocket' },
      { state: 'open', subprotocol: 'tickwire.v1.msgpack', transport: 'websocket' },
    ]);
    expect(t.opens()).toBe(1);
    t.conn.connect(); // no-op while open
    expect(t.sockets).toHaveLength(1);
  });

  it('reconnects with exponential backoff and full jitter, capped at maxDelayMs', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverClose(1006);
    expect(t.statuses.at(-1)).toEqual({ state: 'reconnecting', attempt: 1, delayMs: 50, reason: 'closed by server (1006)', code: 1006 });
    expect(t.downs).toEqual(['closed by server (1006)']);
    t.timers.advance(49);
    expect(t.sockets).toHaveLength(1);
    t.timers.advance(1);
    expect(t.sockets).toHaveLength(2);
    expect(t.conn.state).toMatchObject({ kind: 'connecting', attempt: 1 });
    // Each failed attempt doubles the ceiling (random is 0.5: the delay is half of it).
    const delays: number[] = [];
    for (let i = 1; i <= 6; i++) {
      t.socket(i).serverClose(1006, 'refused');
      const s = t.statuses.at(-1) as Extract<Status, { state: 'reconnecting' }>;
      expect(s.attempt).toBe(i + 1);
      expect(s.reason).toBe('connection failed (1006 refused)');
      delays.push(s.delayMs);
      t.timers.advance(s.delayMs);
    }
    expect(delays).toEqual([100, 200, 400, 500, 500, 500]);
    expect(t.downs).toHaveLength(1); // only an open socket going down is a "down"
  });

  it('resets the attempt counter after a stable connection, not after a short one', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverClose(1001);
    t.timers.advance(50);
    t.socket(1).serverOpen();
    t.timers.advance(2500);
    t.socket(1).serverSend({ op: 'hb', ts: 0 });
    t.timers.advance(2499); // open, but not long enough to count as stable
    t.socket(1).serverClose(4008);
    expect(t.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 2, delayMs: 100 });
    t.timers.advance(100);
    t.socket(2).serverOpen();
    for (let i = 0; i < 5; i++) {
      t.timers.advance(1000);
      t.socket(2).serverSend({ op: 'hb', ts: i }); // keep the watchdog quiet
    }
    t.socket(2).serverClose(1001);
    expect(t.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, delayMs: 50 });
  });

  it.each([
    [1000, true],
    [1009, true],
    [1008, true],
    [1001, false],
    [4008, false],
    [1006, false],
  ])('close code %i: terminal=%s', (code, terminal) => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverClose(code, 'bye');
    if (terminal) {
      expect(t.statuses.at(-1)).toEqual({ state: 'closed', code, reason: 'bye', terminal: true });
      expect(t.timers.pending).toEqual([]);
      t.timers.advance(60_000);
      expect(t.sockets).toHaveLength(1);
      expect(() => t.conn.connect()).toThrow(/closed/);
    } else {
      expect(t.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, code });
      t.timers.advance(1000);
      expect(t.sockets).toHaveLength(2);
    }
  });

  it('heartbeat watchdog: frames keep the link alive; 2× interval of silence drops and reconnects', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    for (let i = 0; i < 10; i++) {
      t.timers.advance(3000);
      t.socket(0).serverSend({ op: 'hb', ts: i });
    }
    expect(t.conn.state.kind).toBe('open');
    expect(t.messages).toHaveLength(10);
    t.timers.advance(3999);
    expect(t.conn.state.kind).toBe('open');
    t.timers.advance(1);
    expect(t.conn.state.kind).toBe('reconnecting');
    expect(t.statuses.at(-1)).toEqual({
      state: 'reconnecting',
      attempt: 1,
      delayMs: 50,
      reason: 'heartbeat timeout: no frame for 4000 ms',
    });
    expect(t.socket(0).terminated).toBe(true);
    expect(t.downs).toHaveLength(1);
    // Frames of the dropped socket are ignored from now on.
    t.socket(0).serverSend({ op: 'hb', ts: 99 });
    t.socket(0).serverClose(1006);
    expect(t.messages).toHaveLength(10);
    expect(t.conn.state.kind).toBe('reconnecting');
    t.timers.advance(50);
    expect(t.sockets).toHaveLength(2);
  });

  it('one watchdog timer per connection, however many frames arrive', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    for (let i = 0; i < 1000; i++) t.socket(0).serverSend({ op: 'hb', ts: i });
    expect(t.timers.pending).toEqual([4000]);
  });

  it('heartbeatTimeoutMs 0 disables the watchdog', () => {
    const t = setup({ heartbeatTimeoutMs: 0 });
    t.conn.connect();
    t.socket(0).serverOpen();
    t.timers.advance(3_600_000);
    expect(t.conn.state.kind).toBe('open');
  });

  it('abandons a connection attempt after connectTimeoutMs', () => {
    const t = setup({ connectTimeoutMs: 2000 });
    t.conn.connect();
    t.timers.advance(1999);
    expect(t.conn.state.kind).toBe('connecting');
    t.timers.advance(1);
    expect(t.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, reason: 'connect timeout after 2000 ms' });
    expect(t.socket(0).terminated).toBe(true);
    t.socket(0).serverOpen(); // too late: ignored
    expect(t.conn.state.kind).toBe('reconnecting');
  });

  it('close() from reconnecting cancels the retry; from open closes the socket with 1000', async () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverClose(1006);
    await t.conn.close();
    expect(t.statuses.at(-1)).toEqual({ state: 'closed', code: 1000, reason: 'closed by client', terminal: true });
    t.timers.advance(60_000);
    expect(t.sockets).toHaveLength(1);

    const u = setup();
    u.conn.connect();
    u.socket(0).serverOpen();
    const closing = u.conn.close();
    expect(u.socket(0).closeCalls).toEqual([{ code: 1000, reason: 'closed by client' }]);
    u.socket(0).serverClose(1000); // the close handshake completes
    await closing;
    expect(states(u.statuses)).toEqual(['connecting', 'open', 'closed']);
    expect(u.downs).toEqual([]);
  });

  it('close() resolves after the grace period when the server never answers, terminating the socket', async () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    let done = false;
    const closing = t.conn.close(500).then(() => (done = true));
    t.timers.advance(499);
    await Promise.resolve();
    expect(done).toBe(false);
    t.timers.advance(1);
    await closing;
    expect(t.socket(0).terminated).toBe(true);
  });

  it('reconnect: false closes on the first loss (terminal only if the code says so)', () => {
    const t = setup({ reconnect: false });
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverClose(1001, 'draining');
    expect(t.statuses.at(-1)).toEqual({ state: 'closed', code: 1001, reason: 'closed by server (1001 draining)', terminal: false });
  });

  it('maxAttempts: gives up after that many consecutive failures', () => {
    const t = setup({ reconnect: { ...policy, maxAttempts: 2 } });
    t.conn.connect();
    t.socket(0).serverClose(1006);
    t.timers.advance(1000);
    t.socket(1).serverClose(1006);
    t.timers.advance(1000);
    t.socket(2).serverClose(1006);
    expect(t.statuses.at(-1)).toMatchObject({ state: 'closed', code: 1006, terminal: false });
    expect(states(t.statuses)).toEqual(['connecting', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'closed']);
  });

  it('an undecodable frame drops the socket and reconnects; frames before it were delivered', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    t.socket(0).serverSend({ op: 'hb', ts: 1 });
    t.socket(0).onmessage?.({ data: new Uint8Array([0xc1]).buffer });
    return new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      expect(t.messages).toEqual([{ op: 'hb', ts: 1 }]);
      expect(t.statuses.at(-1)).toMatchObject({
        state: 'reconnecting',
        reason: expect.stringMatching(/^undecodable frame: invalid msgpack/),
      });
    });
  });

  it('a server that picks a subprotocol the client did not offer is refused for good', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen('tickwire.v1.json');
    expect(t.statuses.at(-1)).toMatchObject({ state: 'closed', code: 1002, terminal: true });
    expect(t.opens()).toBe(0);
  });

  it('sends encoded messages only while open', () => {
    const t = setup({ format: 'json' });
    expect(t.conn.send({ op: 'ping', id: 1 })).toBe(false);
    t.conn.connect();
    expect(t.conn.send({ op: 'ping', id: 1 })).toBe(false);
    t.socket(0).serverOpen();
    expect(t.conn.send({ op: 'ping', id: 2 })).toBe(true);
    expect(t.socket(0).sent).toEqual(['{"op":"ping","id":2}']);
  });

  it('the transition table: closed is final, and only the drawn edges exist', () => {
    expect(TRANSITIONS).toEqual({
      idle: ['connecting', 'closed'],
      connecting: ['open', 'reconnecting', 'closed'],
      open: ['reconnecting', 'closed'],
      reconnecting: ['connecting', 'closed'],
      closed: [],
    });
  });

  it('decodes msgpack frames delivered as ArrayBuffer', () => {
    const t = setup();
    t.conn.connect();
    t.socket(0).serverOpen();
    const u = encode({ op: 'pong', id: 5 });
    t.socket(0).onmessage?.({ data: u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) });
    expect(t.messages).toEqual([{ op: 'pong', id: 5 }]);
  });
});
