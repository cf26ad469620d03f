import type uWS from 'uWebSockets.js';
import type { TopicDelivery } from '../hub/hub.js';
import { CODECS, type WireCodec } from '../codecs.js';
import type { Session } from './session.js';
import type { TransportStats } from './stats.js';

/** A WebSocket connection as the fan-out sees it. */
export interface FanoutConn {
  readonly session: Session;
  ws: uWS.WebSocket<unknown> | undefined;
  /** The backpressure scan that last looked at this connection (one look per scan). */
  scanned: number;
}

/** The uWS topic of a hub topic or throttled view for one codec (hub names never contain '|' or start with '#'). */
const dataTopic = (codec: number, name: string) => `${(CODECS[codec] as WireCodec).name}|${name}`;

/**
 * Bytes uWS may buffer for a connection before it sends nothing more to it, above tickwire's own
 * maxBackpressureBytes (see the maxBackpressure option in uws.ts).
 */
export const UWS_HEADROOM = 64 * 1024;
/**
 * Bytes outside the publish budget that can reach a connection in a uWS topic between two checks:
 * heartbeats (a small frame each; every connection is checked at each heartbeat) and the pings
 * uWS sends by itself (a few bytes per idleTimeout).
 */
const UNCOUNTED_SLACK = 16 * 1024;
/**
 * Flushes between two backpressure scans at most. A scan is one native call per member, and at 1 000
 * clients and a flush every 2 ms it was a twentieth of the gateway's CPU (issue 18 pt 2); scanning
 * every few flushes costs a slow consumer a few ms more before it is marked stale, and nothing else
 * (the bound on what can reach a member between scans is in `scan`).
 */
export const SCAN_EVERY_FLUSHES = 8;

/**
 * uWS publish membership: which connections are in which uWS data topic, and the backpressure
 * scan that keeps publish from skipping any of them. Who is live on a topic (or throttled view) is
 * the hub's record (`Hub.stateOf`, read through `Session.liveTopics`), not a copy kept here: a
 * connection is in the uWS topic `dataTopic(codec, name)` while its session is live on `name` and
 * not stale.
 */
export class UwsFanout {
  /** Connections of each uWS data topic: whom a publish reached, hence whom the scan checks. */
  private readonly members = new Map<string, Set<FanoutConn>>();
  /** Member sets of the uWS topics published to since the last scan (see `scan`). */
  private published: Set<FanoutConn>[] = [];
  /** Bytes published since the last scan; past `publishBudget`, frames go per connection until the next scan. */
  private publishedBytes = 0;
  private readonly publishBudget: number;
  private flushesSinceScan = 0;
  private scanId = 0;

  readonly delivery: TopicDelivery<Session>;

  constructor(
    readonly app: uWS.TemplatedApp,
    maxBackpressureBytes: number,
    private readonly perMessageDeflate: boolean,
    private readonly stats: TransportStats,
  ) {
    this.publishBudget = (maxBackpressureBytes + UWS_HEADROOM - UNCOUNTED_SLACK) / 2;
    this.delivery = {
      publish: (name, codecId, frame, subscribers) => this.publish(name, codecId, frame, subscribers),
      live: (s, name) => s.liveAfterFlush(name),
    };
  }

  /**
   * Before each hub flush: the scan of what was published since the last one, every
   * SCAN_EVERY_FLUSHES flushes, or at once when a quarter of the publish budget has gone out.
   */
  beforeFlush(): void {
    if (this.published.length === 0) return;
    if (++this.flushesSinceScan < SCAN_EVERY_FLUSHES && this.publishedBytes < this.publishBudget / 4) return;
    this.stats.bufferedBytes = this.scan();
    this.publishedBytes = 0;
    this.flushesSinceScan = 0;
  }

  /**
   * TopicDelivery.publish: one native fan-out to every live connection of the codec. The hub's
   * `subscribers` count stale connections too; they are out of the uWS topic, and conflated.
   */
  private publish(name: string, codecId: number, frame: Uint8Array, subscribers: number): void {
    const codec = CODECS[codecId] as WireCodec;
    const topic = dataTopic(codecId, name);
    const members = this.members.get(topic);
    this.stats.conflatedFrames += subscribers - (members?.size ?? 0);
    if (members === undefined) return;
    if (this.published[this.published.length - 1] !== members) this.published.push(members);
    this.publishedBytes += frame.length;
    if (this.publishedBytes > this.publishBudget) {
      // A flush too big to prove safe for publish (see `scan`): per connection, each send checked.
      for (const conn of members) conn.session.send(frame);
      return;
    }
    this.app.publish(topic, frame, codec.binary, this.perMessageDeflate && codec.derive === undefined);
    this.stats.framesOut += members.size;
    this.stats.bytesOut += frame.length * members.size;
  }

  /**
   * The slow-consumer rule for publish, which reports nothing per connection. uWS publish skips,
   * silently, a subscriber whose buffer is over uWS maxBackpressure (maxBackpressureBytes × 2 +
   * 64 KiB) when its frame is written, and still returns true: that subscriber would have a gap
   * nobody sees. So the transport must find such connections itself, per flush, and treat them as
   * slow consumers before publish can skip them.
   *
   * How uWS writes published frames (v20 TopicTree): a frame under 16 KiB is queued per subscriber
   * and written in uWS's loop pre-handler, i.e. after the flush returns and before the event loop
   * runs the next timer or immediate (or earlier: when the subscriber has 32 queued, or on any
   * `ws.send` to it, which writes its queue first, then checks). So when a flush starts, every
   * frame of earlier flushes is in the socket buffers, where getBufferedAmount sees it.
   *
   * The scan, at the start of a flush (every SCAN_EVERY_FLUSHES flushes, or sooner when a quarter
   * of the publish budget went out), checks every connection published to since the last scan (one
   * native call per connection per scan, instead of one send per frame): past slowSoftBytes it is
   * marked stale and leaves every uWS data topic at once; past maxBackpressureBytes it is closed.
   * Returns the bytes buffered for the connections checked.
   *
   * Why publish never skips a connection: a connection is in a uWS data topic only while not stale,
   * and leaves them all the moment a scan, a heartbeat check or a `send` sees its buffer past
   * slowSoftBytes (< maxBackpressureBytes). So when a scan ends, a member's buffer is at most
   * slowSoftBytes; until the next scan at most `publishBudget` bytes go out through publish (past
   * it, the rest goes through `send`, which writes the queue first and checks every write), and
   * heartbeats and pings stay within UNCOUNTED_SLACK. Even if uWS had not written the frames of
   * one window between scans before the next scan (so it saw too little), two windows' worth stays
   * within the limit: slowSoftBytes + 2 × publishBudget + UNCOUNTED_SLACK < maxBackpressureBytes × 2 + 64 KiB.
   * The same bound leaves room in uWS for the 4008 close frame.
   */
  private scan(): number {
    const id = ++this.scanId;
    let buffered = 0;
    for (const members of this.published) {
      for (const conn of members) {
        if (conn.scanned === id) continue;
        conn.scanned = id;
        buffered += conn.session.checkBuffer();
      }
    }
    this.published = [];
    return buffered;
  }

  /** The connection's snap or replay of `name` has been sent: it takes the topic's frames from publish. */
  live(conn: FanoutConn, name: string): void {
    if (!conn.session.stale) this.join(conn, name);
  }

  /** Unsubscribed from `name` (leaving a uWS topic it is not in is a no-op). */
  unsubscribed(conn: FanoutConn, name: string): void {
    if (!conn.session.stale) this.leave(conn, name);
  }

  /**
   * Stale or closing: out of every uWS data topic at once, so publish neither writes to it nor skips it.
   * Every subscribed name, not only the live ones: one the hub moved from live to resync is still in its uWS topic.
   */
  leaveAll(conn: FanoutConn): void {
    for (const name of conn.session.topics) this.leave(conn, name);
  }

  /** Caught up: back into the uWS topics of the names the hub has it live on. */
  joinAll(conn: FanoutConn): void {
    for (const name of conn.session.liveTopics()) this.join(conn, name);
  }

  /**
   * The socket closed: uWS has already dropped it from its topics; only the member sets remain.
   * Called before `Session.gone`, while the session still lists its topics.
   */
  closed(conn: FanoutConn): void {
    for (const name of conn.session.topics) this.forget(conn, name);
  }

  private join(conn: FanoutConn, name: string): void {
    const topic = dataTopic(conn.session.codec, name);
    conn.ws?.subscribe(topic);
    let members = this.members.get(topic);
    if (members === undefined) this.members.set(topic, (members = new Set()));
    members.add(conn);
  }

  private leave(conn: FanoutConn, name: string): void {
    conn.ws?.unsubscribe(dataTopic(conn.session.codec, name));
    this.forget(conn, name);
  }

  private forget(conn: FanoutConn, name: string): void {
    const topic = dataTopic(conn.session.codec, name);
    const members = this.members.get(topic);
    if (members === undefined) return;
    members.delete(conn);
    if (members.size === 0) this.members.delete(topic);
  }
}
