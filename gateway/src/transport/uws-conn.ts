import type uWS from 'uWebSockets.js';
import { CODECS, type WireCodec } from '../codecs.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import type { Session, SessionLink, WriteResult } from './session.js';
import type { SlowCloses } from './slow-close.js';
import type { TransportStats } from './stats.js';
import type { FanoutConn, UwsFanout } from './uws-fanout.js';

/** The uWS topic every connection of a codec is in, for heartbeats and notices. */
export const HB_TOPIC = (codec: WireCodec) => `#hb.${codec.name}`;

/** What every WebSocket connection shares with its transport. */
export interface WsShared {
  readonly fanout: UwsFanout;
  readonly slowCloses: SlowCloses<WsConn>;
  readonly stats: TransportStats;
  /** permessage-deflate is applied by uWS only to sends that ask for it. */
  readonly perMessageDeflate: boolean;
}

/**
 * The uWS user data. uWS copies the own properties of the object given to `upgrade` into a new
 * one (methods and identity are lost), so the connection travels in a field.
 */
export interface WsData {
  readonly conn: WsConn;
}

/**
 * One WebSocket connection: its session's link to the socket. One per open connection, so it
 * keeps only what differs per connection (issue 18 point 7): the rest is on the prototype.
 */
export class WsConn implements SessionLink, FanoutConn {
  ws: uWS.WebSocket<WsData> | undefined = undefined;
  scanned = 0;

  constructor(
    private readonly shared: WsShared,
    readonly session: Session,
  ) {
    session.attach(this);
  }

  get measured(): boolean {
    return true;
  }

  private get codec(): WireCodec {
    return CODECS[this.session.codec] as WireCodec;
  }

  frame(f: Uint8Array): WriteResult {
    const ws = this.ws;
    if (!ws) return 'sent';
    const r = ws.send(f, this.codec.binary, this.shared.perMessageDeflate && this.codec.derive === undefined);
    this.shared.stats.framesOut++;
    this.shared.stats.bytesOut += f.length;
    // 2: uWS dropped the frame (past even its headroom: one frame larger than maxBackpressureBytes).
    return r === 1 ? 'sent' : r === 0 ? 'buffered' : 'dropped';
  }

  message(m: ServerMessage): WriteResult {
    return this.frame(this.codec.encode(m));
  }

  buffered(): number {
    return this.ws?.getBufferedAmount() ?? 0;
  }

  cork(fn: () => void): void {
    this.ws?.cork(fn);
  }

  close(code: number, _name: string, reason: string): void {
    this.ws?.end(code, reason);
  }

  /**
   * 4008 for a slow consumer, so that the close frame reaches it: from now on nothing more is
   * sent to it (closed, out of every uWS topic, heartbeats included), and SlowCloses sends the
   * close once uWS has written what is buffered, or after slowCloseGraceMs.
   */
  closeSlow(): void {
    const ws = this.ws;
    if (!ws) return;
    this.shared.fanout.leaveAll(this);
    ws.unsubscribe(HB_TOPIC(this.codec));
    this.shared.slowCloses.add(this, Date.now());
  }

  onLive(name: string): void {
    this.shared.fanout.live(this, name);
  }

  onUnsubscribed(name: string): void {
    this.shared.fanout.unsubscribed(this, name);
  }

  onStale(): void {
    this.shared.fanout.leaveAll(this);
  }

  onCaughtUp(): void {
    this.shared.fanout.joinAll(this);
  }
}
