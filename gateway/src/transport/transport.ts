/**
 * The client-facing edge. The transport owns sockets; the hub owns topics and sequence numbers.
 *
 * Guarantees:
 * - frames for one connection leave in the order the hub handed them over (sequence order per
 *   topic); a connection's live upd frames come from one native publish per (codec, topic), and
 *   uWS writes those of one flush to it in one corked batch;
 * - a frame is never silently dropped: when a connection's buffer passes its limit it is closed
 *   with a documented close code instead (slow_consumer, 4008);
 * - bad client input is answered with `err` or a documented close code and affects no one else;
 * - after `shutdown` resolves, no socket is open and nothing listens.
 */
export interface Transport {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number>;
  /** Runs one hub flush and writes every resulting frame. Called by the gateway's flush loop. */
  flush(): void;
  /** Sends `{op:"hb", ts}` to every connection. */
  heartbeat(ts: number): void;
  /**
   * Stops accepting, sends every connection `{op:"shutdown"}` and waits `noticeMs`, closes them
   * with 1001, and waits up to `graceMs` for them to go.
   */
  shutdown(graceMs: number, noticeMs?: number): Promise<void>;
  readonly connectionCount: number;
}
