import type { TopicDelivery } from '../hub/hub.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import type { Session } from './session.js';
import type { Sessions } from './sessions.js';
import type { TransportStats } from './stats.js';

/**
 * One client transport (WebSocket, SSE): the sockets of one kind, each carrying a Session (the
 * transport-neutral rules, session.ts). Transports are peers on one uWS app; `Transports`
 * (transports.ts) listens, runs the hub flush for all of them and shuts them down together.
 *
 * Guarantees:
 * - frames for one connection leave in the order the hub handed them over (sequence order per
 *   topic); a WebSocket connection's live upd frames come from one native publish per (codec,
 *   topic), and uWS writes those of one flush to it in one corked batch;
 * - a frame is never silently dropped: when a connection's buffer passes its limit it is closed
 *   with a documented close code instead (slow_consumer, 4008);
 * - bad client input is answered with `err` or a documented close code and affects no one else;
 * - after `close` resolves, none of its connections is open.
 */
export interface Transport {
  readonly name: string;
  /** Its own counters, read by Metrics at scrape time (Metrics.addTransport). */
  readonly stats: TransportStats;
  readonly connectionCount: number;
  /** Its sessions: a hub flush hands them frames, and the registry writes them out after it. */
  readonly sessions: Sessions;
  /** For a transport whose sessions are `viaTopic`: its per-topic fan-out. At most one transport has one. */
  readonly topicDelivery?: TopicDelivery<Session>;
  /** Right before each hub flush. */
  beforeFlush(): void;
  /** A message for every connection (heartbeats, the shutdown notice). */
  broadcast(msg: ServerMessage): void;
  /** Sends `{op:"hb", ts}` to every connection. */
  heartbeat(ts: number): void;
  /** The watchdog, every 250 ms: slow consumers, deadlines. */
  tick(now: number): void;
  /** Stops accepting, closes every connection with 1001, and waits until `deadline` (ms) for them to go. */
  close(deadline: number): Promise<void>;
}
