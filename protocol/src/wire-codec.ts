import type { TopicKind } from './kinds.js';
import type { ServerMessage } from './messages.js';
import type { CodecName } from './subprotocols.js';
import type { Payload, SourcePosition } from './ticks.js';

/** One wire encoding of protocol v1 (codec.ts builds them; compact.ts builds on the msgpack one). */
export interface WireCodec {
  /** Position in CODEC_SPECS and in every codec list built from it; stored on each subscriber. */
  readonly id: number;
  readonly name: CodecName;
  /** The WebSocket subprotocol that selects this codec. */
  readonly subprotocol: string;
  /** Binary (msgpack) or text (JSON) WebSocket frames. */
  readonly binary: boolean;
  encode(msg: ServerMessage): Uint8Array;
  /**
   * `{op:"upd", topic, seq, data: ticks[from..to)}` where seq belongs to ticks[from]; with `off`,
   * also `off` (the upstream offset of the frame's last tick).
   */
  encodeUpd(topic: string, kind: TopicKind, seq: number, ticks: readonly Payload[], from: number, to: number, off?: number): Uint8Array;
  /** `resync: true` is written only when set (absent otherwise); `src` and `off` only with `pos`. */
  encodeSnap(topic: string, kind: TopicKind, seq: number, epoch: string, tick: Payload, resync?: boolean, pos?: SourcePosition): Uint8Array;
  /** Decodes one client frame; throws on bytes that are not a single value of this encoding. */
  decode(data: Uint8Array): unknown;
  /**
   * Set when this codec's frames are a transformation of another codec's frames (shared deflate
   * compresses msgpack frames): the hub then encodes with the base codec once and transforms.
   * `kind` is the kind of the frame's topic (the compact deflate codec picks its dictionary by it).
   */
  readonly derive?: { base: WireCodec; transform(frame: Uint8Array, kind?: TopicKind): Uint8Array };
}
