import type uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { jsonCodec } from '../../../protocol/src/codec.js';
import { closeCode, type CloseName } from '../../../protocol/src/errors.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import type { Session, SessionLink, WriteResult } from './session.js';
import type { TransportStats } from './stats.js';

/** One hub frame as an SSE event: built once per frame and shared by every stream. */
interface SseEvent {
  /** `event: <op>\ndata: <frame>\n` (the id line and the blank line are per stream). */
  bytes: Buffer;
  topic: string;
  /** Base-36 seq of the frame's last tick. */
  last: string;
}

const NL = Buffer.from('\n');
const decoder = new TextDecoder();

/** What every SSE stream shares with its transport. */
export interface SseShared {
  readonly stats: TransportStats;
  readonly log: Logger;
  readonly maxBackpressureBytes: number;
  /** Events per hub frame, built once per frame. */
  readonly events: WeakMap<Uint8Array, SseEvent>;
  /** Events per message of the gateway's own (hb, shutdown), built once per message. */
  readonly messages: WeakMap<ServerMessage, Buffer>;
}

/**
 * One SSE stream: its session's link to the HTTP response. Every `snap`/`upd` frame is the hub's
 * JSON-codec frame, byte for byte; a stream adds only the SSE framing (built once per frame) and
 * its own event id: the last seq of each of its topics, in request order (sse-id.ts).
 */
export class SseStream implements SessionLink {
  readonly measured = false;
  /** Bytes written since a write reported backpressure; undefined while the socket keeps up. */
  private pressed: number | undefined;
  private ended = false;

  constructor(
    private readonly shared: SseShared,
    readonly session: Session,
    private readonly res: uWS.HttpResponse,
    /** The requested topics (valid, deduplicated, in request order): the positions of the event id. */
    private readonly slots: Map<string, number>,
    /** Base-36 seq of the last tick sent per slot. */
    private readonly seqs: string[],
    /** `<epoch>.<fingerprint>.` */
    private readonly idHead: string,
  ) {
    session.attach(this);
  }

  /** A frame with this stream's id line (topics of the stream) or none (sys.announce). */
  frame(f: Uint8Array): WriteResult {
    const e = this.eventOf(f);
    const slot = this.slots.get(e.topic);
    this.shared.stats.framesOut++;
    if (slot === undefined) return this.write(Buffer.concat([e.bytes, NL]));
    this.seqs[slot] = e.last;
    return this.write(Buffer.concat([e.bytes, Buffer.from(`id: ${this.idHead}${this.seqs.join('.')}\n\n`)]));
  }

  message(m: ServerMessage): WriteResult {
    let bytes = this.shared.messages.get(m);
    if (!bytes) this.shared.messages.set(m, (bytes = event(m)));
    return this.write(bytes);
  }

  private eventOf(frame: Uint8Array): SseEvent {
    let e = this.shared.events.get(frame);
    if (e) return e;
    // Once per frame, shared by every stream: the frame's topic and last seq, for the ids.
    const m = JSON.parse(decoder.decode(frame)) as { op: string; topic: string; seq: number; data: unknown };
    const last = m.op === 'upd' && Array.isArray(m.data) ? m.seq + m.data.length - 1 : m.seq;
    e = { bytes: Buffer.concat([Buffer.from(`event: ${m.op}\ndata: `), frame, NL]), topic: m.topic, last: last.toString(36) };
    this.shared.events.set(frame, e);
    return e;
  }

  /**
   * Every write to a stream goes through here (corked by the caller). uWS's HTTP write reports
   * backpressure but not how much it holds, so the first write it could not pass to the kernel
   * makes the stream stale (`buffered`, with `measured` false), and what is written after that is
   * counted against maxBackpressureBytes until the socket is writable again.
   */
  write(data: Buffer): WriteResult {
    const ok = this.res.write(data);
    this.shared.stats.bytesOut += data.length;
    if (this.pressed !== undefined) {
      this.pressed += data.length;
      return this.pressed > this.shared.maxBackpressureBytes ? 'over' : 'sent';
    }
    if (ok) return 'sent';
    this.pressed = 0;
    return 'buffered';
  }

  buffered(): number {
    return this.pressed ?? 0;
  }

  cork(fn: () => void): void {
    this.res.cork(fn);
  }

  /** uWS onWritable: the socket drained; a stale stream gets a resync snap per topic. */
  writable(): void {
    this.pressed = undefined;
    this.session.drained();
  }

  /** Ends the stream with a `close` event carrying the code of the error table (as WebSocket would close). */
  close(code: number, name: CloseName, reason: string): void {
    const bytes = Buffer.from(`event: close\ndata: ${JSON.stringify({ op: 'close', code, name, reason })}\n\n`);
    this.res.cork(() => {
      this.res.write(bytes);
      this.res.end();
    });
    this.gone();
  }

  closeSlow(): void {
    this.close(closeCode('slow_consumer'), 'slow_consumer', 'slow consumer');
  }

  /** The response ended or was aborted. */
  gone(): void {
    if (this.ended) return;
    this.ended = true;
    this.session.gone();
    this.shared.log.debug({ sse: this.session.id }, 'SSE stream closed');
  }
}

/** `event: <op>` + `data: <JSON message>`, with no id (heartbeats, notices and errors move no topic). */
export function event(msg: ServerMessage): Buffer {
  return Buffer.concat([Buffer.from(`event: ${msg.op}\ndata: `), jsonCodec.encode(msg), Buffer.from('\n\n')]);
}
