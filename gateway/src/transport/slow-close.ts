/** What a pending close needs of its socket (a uWS WebSocket). */
export interface Closable {
  getBufferedAmount(): number;
  end(code: number, reason: string): void;
}

/**
 * Slow-consumer closes held until the socket's buffer has drained, so the close frame reaches the
 * client (4008) instead of dying in the buffer (1006). uWS writes a close frame behind whatever is
 * buffered and then leaves the socket only its close timeout (16 s at idleTimeoutSec 120) to flush
 * it all; a client still not reading by then has the socket cut, buffered frames and close frame
 * lost. Nothing new is sent to a connection once its close is pending (the caller's part); the
 * close is sent once uWS has written everything buffered (the drain handler, or the watchdog), or
 * after `graceMs` anyway, for a client that never reads again.
 */
export class SlowCloses<C> {
  /** Pending closes and when each was decided. */
  private readonly pending = new Map<C, number>();
  constructor(
    private readonly graceMs: number,
    private readonly code: number,
    private readonly reason: string,
    private readonly socket: (conn: C) => Closable | undefined,
  ) {}

  add(conn: C, now: number): void {
    if (this.pending.has(conn)) return;
    this.pending.set(conn, now);
    this.check(conn, now);
  }

  /** From the drain handler and the watchdog: sends the close when it is time. */
  check(conn: C, now: number): void {
    const since = this.pending.get(conn);
    if (since === undefined) return;
    const ws = this.socket(conn);
    if (ws === undefined) {
      this.pending.delete(conn);
      return;
    }
    if (ws.getBufferedAmount() > 0 && now - since < this.graceMs) return;
    this.pending.delete(conn);
    ws.end(this.code, this.reason);
  }

  tick(now: number): void {
    for (const conn of [...this.pending.keys()]) this.check(conn, now);
  }

  /** Sends every pending close now (shutdown). */
  endAll(): void {
    for (const conn of [...this.pending.keys()]) this.check(conn, Infinity);
  }

  /** The socket closed by itself (client gone). */
  forget(conn: C): void {
    this.pending.delete(conn);
  }

  has(conn: C): boolean {
    return this.pending.has(conn);
  }

  get size(): number {
    return this.pending.size;
  }
}
