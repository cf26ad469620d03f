/**
 * The link to the gateway as an explicit state machine:
 *
 * ```text
 *          connect()            socket open
 *   idle ───────────► connecting ───────────► open
 *                        ▲   │                  │ socket lost / heartbeat timeout / bad frame
 *          backoff timer │   │ socket failed    ▼
 *                        └── reconnecting ◄─────┘
 *
 *   any state ──close()──► closed        (terminal close code, reconnect off, attempts exhausted: also closed)
 * ```
 *
 * It owns the socket, the reconnect backoff (exponential, full jitter, reset after a stable
 * connection), the connect timeout and the heartbeat watchdog, and decodes frames in order. It
 * knows nothing about topics: the client reacts to `onOpen` (resubscribe), `onMessage` and
 * `onDown`.
 *
 * Transports: each attempt opens a WebSocket or the SSE link ({@link SseSocket}). In `auto`
 * mode, `fallbackAfter` consecutive WebSocket attempts that fail before opening (refused, reset,
 * or not open within `connectTimeoutMs`) switch the following attempts to SSE; while open on SSE
 * a probe WebSocket is tried now and then (backoff with jitter), and when one opens the link
 * moves back to WebSocket at once (open → reconnecting → connecting → open), the client
 * resuming every topic with `since`.
 */
import { backoffCeiling, backoffDelay, type BackoffOptions } from './backoff.js';
import { closeCodeReconnects } from './close-codes.js';
import { closeFailure, httpFailure, timeoutFailure, type ConnectFailure } from './connect-failure.js';
import { encodeClientMessage, formatOfSubprotocol, offeredSubprotocols, type FrameError, type InflateRaw } from './codec.js';
import { FrameDecoder } from './frame-decoder.js';
import type {
  ClientMessage,
  DecodedMessage,
  Format,
  Status,
  Timers,
  TransportKind,
  TransportMode,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';

/** Reconnect policy. Backoff with full jitter: the delay of attempt n is random in [0, min(maxDelayMs, initialDelayMs × factor^(n-1))). */
export interface ReconnectPolicy extends BackoffOptions {
  /** A connection that stayed open this long resets the attempt counter (the next delay is short again). Default 5000. */
  resetAfterMs: number;
  /** Consecutive attempts before giving up (status `closed`, `terminal: false`). Default Infinity. */
  maxAttempts: number;
}

export interface ConnectionOptions {
  url: string;
  format: Format;
  WebSocket: WebSocketConstructor;
  /** `false`: never reconnect (the first loss closes the client). */
  reconnect: ReconnectPolicy | false;
  /** No frame at all (data or `hb`) for this long while open → drop the socket and reconnect. 0 disables. */
  heartbeatTimeoutMs: number;
  /** A socket not open after this long is abandoned (and retried). 0 disables. */
  connectTimeoutMs: number;
  timers: Timers;
  /** Uniform random in [0, 1), for the jitter. */
  random: () => number;
  inflateRaw?: InflateRaw;
  /** `websocket` only, `sse` only, or `auto` (WebSocket, SSE when it cannot connect). */
  transport: TransportMode;
  /** Opens the SSE link (required unless `transport` is `websocket`). */
  openSse?: () => WebSocketLike;
  /** auto: consecutive failed WebSocket attempts (none opened) before SSE is used. */
  fallbackAfter: number;
  /** auto, while on SSE: delays between WebSocket probes (each drawn in [ceiling/2, ceiling)). */
  probe: BackoffOptions;
}

export interface ConnectionHandlers {
  /** Every status change, in order. */
  onStatus(status: Status): void;
  /** The socket is open (state is already `open`, `send` works); called before the `open` status. */
  onOpen(subprotocol: string): void;
  /** One decoded server message, in arrival order. */
  onMessage(msg: DecodedMessage): void;
  /**
   * The open socket was lost (called before the `reconnecting`/`closed` status; not on `close()`). Nothing sent earlier will be answered.
   */
  onDown(reason: string): void;
  /** A frame could not be decoded (the socket is dropped and, if allowed, reconnected). */
  onFrameError?(err: FrameError): void;
}

/** The states, each with exactly the data that exists in it. */
export type ConnectionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting'; readonly attempt: number; readonly socket: WebSocketLike; readonly transport: TransportKind }
  | {
      readonly kind: 'open';
      readonly socket: WebSocketLike;
      readonly subprotocol: string;
      readonly format: Format;
      readonly openedAt: number;
      readonly decoder: FrameDecoder;
      readonly transport: TransportKind;
    }
  | { readonly kind: 'reconnecting'; readonly attempt: number; readonly delayMs: number; readonly reason: string; readonly code?: number }
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string; readonly terminal: boolean };

export type ConnectionStateKind = ConnectionState['kind'];

/** The allowed transitions; anything else is a bug and throws. */
export const TRANSITIONS: Readonly<Record<ConnectionStateKind, readonly ConnectionStateKind[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'reconnecting', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['connecting', 'closed'],
  closed: [],
};

const OPEN = 1;
const noop = (): void => {};

/** Status as reported to the application (the state without its internals). */
export function statusOf(s: ConnectionState): Status {
  switch (s.kind) {
    case 'idle':
      return { state: 'idle' };
    case 'connecting':
      return { state: 'connecting', transport: s.transport };
    case 'open':
      return { state: 'open', subprotocol: s.subprotocol, transport: s.transport };
    case 'reconnecting':
      return {
        state: 'reconnecting',
        attempt: s.attempt,
        delayMs: s.delayMs,
        reason: s.reason,
        ...(s.code !== undefined ? { code: s.code } : {}),
      };
    case 'closed':
      return { state: 'closed', code: s.code, reason: s.reason, terminal: s.terminal };
  }
}

export class Connection {
  private current: ConnectionState = { kind: 'idle' };
  /** Consecutive losses since the last stable connection; the attempt number of the next reconnect. */
  private failures = 0;
  private timer: unknown = undefined;
  private lastFrameAt = 0;
  /** WebSocket attempts in a row that failed before opening (auto mode falls back on it). */
  private wsFailures = 0;
  private probeTimer: unknown = undefined;
  private probeSocket: WebSocketLike | undefined;
  private probeAttempt = 0;
  private everOpened = false;
  /** What the `error` event of the connecting socket carried (the close event has no detail). */
  private attemptError: unknown;
  /**
   * Before the first open, a terminal failure (wrong path, credentials refused) closes the link
   * instead of retrying. `connect({ retry: 'forever' })` turns it off.
   */
  failFast = true;
  /** Why the last attempt failed before opening; read by the client for connect()'s rejection. */
  lastFailure: ConnectFailure | undefined;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** idle → connecting. A no-op in any other state but `closed`, where it throws. */
  connect(): void {
    if (this.current.kind === 'closed') throw new Error('tickwire: the client is closed; create a new one');
    if (this.current.kind !== 'idle') return;
    this.openSocket(0);
  }

  /** Sends one message on the open socket. Returns false (and sends nothing) when not open. */
  send(msg: ClientMessage): boolean {
    const s = this.current;
    if (s.kind !== 'open' || s.socket.readyState !== OPEN) return false;
    s.socket.send(encodeClientMessage(s.format, msg));
    return true;
  }

  /** Drops the current socket (if any) and reconnects as after a loss. For protocol violations. */
  drop(reason: string): void {
    if (this.current.kind === 'open' || this.current.kind === 'connecting') this.lost(reason, undefined);
  }

  /**
   * Final close (code 1000). Resolves when the socket has closed, or after `graceMs` (the socket
   * is then terminated where the WebSocket implementation allows it).
   */
  close(graceMs = 1000, reason = 'closed by client'): Promise<void> {
    const s = this.current;
    if (s.kind === 'closed') return Promise.resolve();
    this.clearTimer();
    this.stopProbe();
    let done: Promise<void> = Promise.resolve();
    if (s.kind === 'open' || s.kind === 'connecting') {
      if (s.kind === 'open') s.decoder.cancel();
      done = closeGracefully(s.socket, graceMs, this.opts.timers);
    }
    // No onDown here: the `closed` status tells the client everything it needs.
    this.setState({ kind: 'closed', code: 1000, reason, terminal: true });
    this.emitStatus();
    return done;
  }

  // --- transitions -----------------------------------------------------------------------------

  private setState(next: ConnectionState): void {
    const allowed = TRANSITIONS[this.current.kind];
    if (!allowed.includes(next.kind)) throw new Error(`tickwire: invalid transition ${this.current.kind} → ${next.kind}`);
    this.current = next;
  }

  private emitStatus(): void {
    this.handlers.onStatus(statusOf(this.current));
  }

  /** The transport of the next attempt. */
  private pick(): TransportKind {
    const mode = this.opts.transport;
    if (mode !== 'auto') return mode;
    return this.wsFailures >= this.opts.fallbackAfter && this.opts.openSse ? 'sse' : 'websocket';
  }

  private openSocket(attempt: number): void {
    const { url, format, WebSocket: WS, timers } = this.opts;
    const transport = this.pick();
    let socket: WebSocketLike;
    try {
      if (transport === 'sse') {
        if (!this.opts.openSse) throw new Error('no SSE link configured');
        socket = this.opts.openSse();
      } else socket = new WS(url, offeredSubprotocols(format));
    } catch (e) {
      // An invalid URL (or a constructor that refuses it) will never work: close for good.
      this.setState({ kind: 'closed', code: 1002, reason: `cannot open WebSocket: ${(e as Error).message}`, terminal: true });
      this.emitStatus();
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.setState({ kind: 'connecting', attempt, socket, transport });
    socket.onopen = () => this.opened(socket);
    socket.onclose = (ev: { code: number; reason: string }) => this.socketClosed(socket, ev.code, ev.reason);
    this.attemptError = undefined;
    socket.onerror = (ev: unknown) => {
      if (this.current.kind === 'connecting' && this.current.socket === socket) this.attemptError = ev;
    }; // a close event always follows
    socket.onmessage = noop;
    if (transport === 'websocket') {
      watchHttpAnswer(socket, (status, type, body) => this.attemptFailed(socket, httpFailure(url, status, type, body)));
    }
    if (this.opts.connectTimeoutMs > 0) {
      this.timer = timers.setTimeout(() => {
        this.timer = undefined;
        const s = this.current;
        if (s.kind === 'connecting' && s.socket === socket) this.attemptFailed(socket, timeoutFailure(this.opts.connectTimeoutMs));
      }, this.opts.connectTimeoutMs);
    }
    this.emitStatus();
  }

  private opened(socket: WebSocketLike): void {
    const s = this.current;
    if (s.kind !== 'connecting' || s.socket !== socket) return;
    this.clearTimer();
    const subprotocol = socket.protocol ?? '';
    const format = formatOfSubprotocol(subprotocol);
    // The SSE link always speaks JSON, whatever format the WebSocket would use.
    if (
      format === undefined ||
      (s.transport === 'websocket' && subprotocol !== '' && !offeredSubprotocols(this.opts.format).includes(subprotocol))
    ) {
      detach(socket);
      abort(socket);
      this.setState({
        kind: 'closed',
        code: 1002,
        reason: `server chose subprotocol "${subprotocol}", which was not offered`,
        terminal: true,
      });
      this.emitStatus();
      return;
    }
    const decoder = new FrameDecoder(
      format,
      (msg) => this.handlers.onMessage(msg),
      (err) => {
        this.handlers.onFrameError?.(err);
        if (this.current.kind === 'open' && this.current.socket === socket) this.lost(`undecodable frame: ${err.message}`, undefined);
      },
      this.opts.inflateRaw,
    );
    const now = this.opts.timers.now();
    this.everOpened = true;
    this.lastFailure = undefined;
    this.setState({ kind: 'open', socket, subprotocol, format, openedAt: now, decoder, transport: s.transport });
    if (s.transport === 'websocket') this.wsFailures = 0;
    else if (this.opts.transport === 'auto') {
      this.probeAttempt = 0;
      this.scheduleProbe();
    }
    this.lastFrameAt = now;
    socket.onmessage = (ev: { data: unknown }) => {
      this.lastFrameAt = this.opts.timers.now();
      decoder.push(ev.data);
    };
    this.armWatchdog(this.opts.heartbeatTimeoutMs);
    this.handlers.onOpen(subprotocol);
    if (this.current.kind === 'open' && this.current.socket === socket) this.emitStatus();
  }

  private armWatchdog(ms: number): void {
    const timeout = this.opts.heartbeatTimeoutMs;
    if (!(timeout > 0) || !Number.isFinite(timeout)) return;
    // One timer for the whole connection, not one per frame: frames only record their time, and
    // the timer re-arms itself for the remaining time when it fires early.
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.current.kind !== 'open') return;
      const idle = this.opts.timers.now() - this.lastFrameAt;
      if (idle >= timeout) this.lost(`heartbeat timeout: no frame for ${Math.round(idle)} ms`, undefined);
      else this.armWatchdog(timeout - idle);
    }, ms);
  }

  private socketClosed(socket: WebSocketLike, code: number, reason: string): void {
    const s = this.current;
    if ((s.kind !== 'open' && s.kind !== 'connecting') || s.socket !== socket) return;
    if (s.kind === 'connecting' && closeCodeReconnects(code)) {
      return this.attemptFailed(socket, closeFailure(this.opts.url, code, reason, this.attemptError));
    }
    const why =
      s.kind === 'connecting'
        ? `connection failed (${code}${reason ? ` ${reason}` : ''})`
        : `closed by server (${code}${reason ? ` ${reason}` : ''})`;
    if (!closeCodeReconnects(code)) {
      this.leave(s);
      this.setState({ kind: 'closed', code, reason: reason || why, terminal: true });
      if (s.kind === 'open') this.handlers.onDown(why);
      this.emitStatus();
      return;
    }
    this.lost(why, code);
  }

  /** An attempt failed before opening: close on a terminal reason before the first open (fail fast), else retry. */
  private attemptFailed(socket: WebSocketLike, failure: ConnectFailure): void {
    const s = this.current;
    if (s.kind !== 'connecting' || s.socket !== socket) return;
    // A failed SSE fetch says less than the WebSocket attempts before it (auto mode alternates).
    if (s.transport === 'websocket' || !this.lastFailure) this.lastFailure = failure;
    if (failure.terminal && this.failFast && !this.everOpened) {
      this.leave(s);
      this.setState({ kind: 'closed', code: failure.kind === 'auth' ? 1008 : 1002, reason: failure.message, terminal: true });
      this.emitStatus();
      return;
    }
    this.lost(failure.message, undefined);
  }

  /**
   * The current socket is gone (or being abandoned): reconnect with backoff, or close when
   * reconnecting is off or exhausted.
   */
  private lost(reason: string, code: number | undefined): void {
    const s = this.current;
    if (s.kind !== 'open' && s.kind !== 'connecting') return;
    this.leave(s);
    const policy = this.opts.reconnect;
    if (s.kind === 'open' && policy && this.opts.timers.now() - s.openedAt >= policy.resetAfterMs) this.failures = 0;
    const attempt = ++this.failures;
    const closeCode = code ?? 1006;
    if (!policy || attempt > policy.maxAttempts) {
      const why = policy ? `${reason}; gave up after ${policy.maxAttempts} attempts` : reason;
      this.setState({ kind: 'closed', code: closeCode, reason: why, terminal: !closeCodeReconnects(closeCode) });
      if (s.kind === 'open') this.handlers.onDown(reason);
      this.emitStatus();
      return;
    }
    const delayMs = backoffDelay(attempt, policy, this.opts.random);
    this.setState({ kind: 'reconnecting', attempt, delayMs, reason, ...(code !== undefined ? { code } : {}) });
    if (s.kind === 'open') this.handlers.onDown(reason);
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.current.kind === 'reconnecting') this.openSocket(attempt);
    }, delayMs);
    this.emitStatus();
  }

  /** Leaves `connecting`/`open`: stop the timer and the decoder, detach and drop the socket. */
  private leave(s: Extract<ConnectionState, { kind: 'open' | 'connecting' }>): void {
    this.clearTimer();
    this.stopProbe();
    if (s.kind === 'connecting') {
      if (s.transport === 'websocket') this.wsFailures++;
      // An SSE attempt that fails makes the next one WebSocket again: while neither connects the
      // attempts alternate, so a gateway without SSE is never waited for on SSE alone.
      else this.wsFailures = this.opts.fallbackAfter - 1;
    }
    if (s.kind === 'open') s.decoder.cancel();
    detach(s.socket);
    if (s.socket.readyState <= OPEN) abort(s.socket);
  }

  // --- WebSocket probes while on SSE (auto) ---------------------------------------------------

  private scheduleProbe(): void {
    const ceiling = backoffCeiling(++this.probeAttempt, this.opts.probe);
    const delay = ceiling / 2 + backoffDelay(this.probeAttempt, this.opts.probe, this.opts.random) / 2;
    this.probeTimer = this.opts.timers.setTimeout(() => {
      this.probeTimer = undefined;
      this.probe();
    }, delay);
  }

  /** Tries a WebSocket beside the open SSE link; if it opens, the link moves back to WebSocket. */
  private probe(): void {
    const s = this.current;
    if (s.kind !== 'open' || s.transport !== 'sse') return;
    let socket: WebSocketLike;
    try {
      socket = new this.opts.WebSocket(this.opts.url, offeredSubprotocols(this.opts.format));
    } catch {
      return;
    }
    this.probeSocket = socket;
    const failed = (): void => {
      if (this.probeSocket !== socket) return;
      this.stopProbe();
      this.scheduleProbe();
    };
    socket.onmessage = noop;
    socket.onerror = noop;
    socket.onclose = failed;
    socket.onopen = () => {
      if (this.probeSocket !== socket) return;
      this.stopProbe();
      const now = this.current;
      if (now.kind !== 'open' || now.transport !== 'sse') return;
      this.wsFailures = 0;
      this.reconnectNow('WebSocket reachable again: leaving SSE');
    };
    if (this.opts.connectTimeoutMs > 0) {
      this.probeTimer = this.opts.timers.setTimeout(() => {
        this.probeTimer = undefined;
        failed();
      }, this.opts.connectTimeoutMs);
    }
  }

  private stopProbe(): void {
    if (this.probeTimer !== undefined) {
      this.opts.timers.clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
    }
    const socket = this.probeSocket;
    if (socket) {
      this.probeSocket = undefined;
      detach(socket);
      abort(socket);
    }
  }

  /**
   * Leaves the open link for a new attempt at once, without counting a failure (reported as a
   * reconnect with no delay): a transport switch, or the gateway's shutdown notice.
   */
  reconnectNow(reason: string): void {
    const s = this.current;
    if (s.kind !== 'open') return;
    this.leave(s);
    this.setState({ kind: 'reconnecting', attempt: 1, delayMs: 0, reason });
    this.handlers.onDown(reason);
    this.emitStatus();
    if (this.current.kind === 'reconnecting') this.openSocket(1);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.opts.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * `ws` (Node) hands a non-101 answer to an `unexpected-response` listener: read its status and
 * the start of its body (the gateway's refusal reason). Browsers have no such event.
 */
function watchHttpAnswer(socket: WebSocketLike, done: (status: number, contentType: string | undefined, body: string) => void): void {
  const on = (socket as { on?: (event: string, fn: (req: unknown, res: HttpAnswer) => void) => unknown }).on;
  if (typeof on !== 'function') return;
  on.call(socket, 'unexpected-response', (_req, res) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      const body = new TextDecoder().decode(concat(chunks)).slice(0, 2048);
      const type = res.headers?.['content-type'];
      done(res.statusCode ?? 0, Array.isArray(type) ? type[0] : type, body);
    };
    res.on('data', (c: Uint8Array) => {
      if (size < 2048) chunks.push(c);
      size += c.length;
      if (size >= 2048) finish();
    });
    res.on('end', finish);
    res.on('error', finish);
    res.on('close', finish);
  });
}

interface HttpAnswer {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  on(event: string, fn: (chunk: Uint8Array) => void): unknown;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Stops every callback of a socket. Handlers become no-ops, not null: `ws` throws on an 'error' event nobody listens to. */
function detach(socket: WebSocketLike): void {
  socket.onopen = noop;
  socket.onmessage = noop;
  socket.onclose = noop;
  socket.onerror = noop;
}

/** Drops a socket at once: `terminate()` where the implementation has it (`ws`), else `close()`. */
function abort(socket: WebSocketLike): void {
  const t = (socket as { terminate?: () => void }).terminate;
  try {
    if (typeof t === 'function') t.call(socket);
    else socket.close();
  } catch {
    // already closing
  }
}

function closeGracefully(socket: WebSocketLike, graceMs: number, timers: Timers): Promise<void> {
  return new Promise<void>((resolve) => {
    detach(socket);
    if (socket.readyState === 3) return resolve(); // CLOSED already
    let timer: unknown;
    const finish = (): void => {
      if (timer !== undefined) timers.clearTimeout(timer);
      resolve();
    };
    socket.onclose = finish;
    timer = timers.setTimeout(() => {
      timer = undefined;
      abort(socket);
      resolve();
    }, graceMs);
    try {
      if (socket.readyState === OPEN) socket.close(1000, 'closed by client');
      else if (socket.readyState === 0) abort(socket);
    } catch {
      finish();
    }
  });
}
