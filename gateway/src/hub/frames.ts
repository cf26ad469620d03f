import type { WireCodec } from '../../../protocol/src/codec.js';
import type { Payload, SourcePosition } from '../../../protocol/src/ticks.js';
import { flushedSeq, snapPayload, type TopicState } from './topic.js';
import type { HubStats, HubSubscriber, ResumePoint } from './types.js';

/**
 * Encodes a topic's frames, each at most once per codec where it can be shared, and counts every
 * frame encoded (HubStats.framesEncoded/bytesEncoded). A derived codec (shared deflate)
 * transforms the base codec's bytes.
 */
export class Frames {
  constructor(
    private readonly codecs: readonly WireCodec[],
    readonly epoch: string,
    private readonly maxTicksPerFrame: number,
    private readonly stats: HubStats,
  ) {}

  codec(id: number): WireCodec {
    return this.codecs[id] as WireCodec;
  }

  /** A snap of the topic's last value or folded state (cached in `t.snap` until `last` changes). */
  snap<S extends HubSubscriber>(t: TopicState<S>, codecId: number, resync: boolean): Uint8Array {
    const key = codecId * 2 + (resync ? 1 : 0);
    const cached = t.snap[key];
    if (cached) return cached;
    const pos = typeof t.src === 'string' ? { src: t.src, off: t.lastOff } : undefined;
    const frame = this.snapOf(t, codecId, flushedSeq(t), snapPayload(t), resync, pos);
    t.snap[key] = frame;
    return frame;
  }

  /** A snap of any tick of the topic, uncached. */
  snapOf<S extends HubSubscriber>(
    t: TopicState<S>,
    codecId: number,
    seq: number,
    tick: Payload,
    resync: boolean,
    pos?: SourcePosition,
  ): Uint8Array {
    return this.count(this.codec(codecId).encodeSnap(t.name, t.kind, seq, this.epoch, tick, resync, pos));
  }

  /** Encodes the pending ticks for one codec into `cache`, reusing the base codec's frames for a derived one. */
  upd<S extends HubSubscriber>(t: TopicState<S>, codecId: number, cache: (Uint8Array[] | undefined)[]): Uint8Array[] {
    const codec = this.codec(codecId);
    let out: Uint8Array[];
    if (codec.derive) {
      const baseId = codec.derive.base.id;
      const base = cache[baseId] ?? this.upd(t, baseId, cache);
      out = base.map((f) => this.count(codec.derive!.transform(f, t.kind)));
    } else {
      const ticks = t.pending;
      const offs = typeof t.src === 'string' ? t.pendingOff : undefined;
      out = this.updRun(t, codec, t.seq - ticks.length + 1, ticks, 0, offs);
    }
    cache[codecId] = out;
    return out;
  }

  /**
   * For subscribers that waited for a topic's first data, flushed now: a snap of its first tick,
   * then the others as upd, so none of the ticks that came after they subscribed is folded away.
   */
  fromFirst<S extends HubSubscriber>(t: TopicState<S>, codecId: number, ticks: Payload[], offs: number[]): Uint8Array[] {
    const firstSeq = t.seq - ticks.length + 1;
    const src = typeof t.src === 'string' ? t.src : undefined;
    const pos = src === undefined ? undefined : { src, off: offs[0] as number };
    const out = [this.snapOf(t, codecId, firstSeq, ticks[0] as Payload, false, pos)];
    out.push(...this.updRun(t, this.codec(codecId), firstSeq, ticks, 1, src === undefined ? undefined : offs));
    return out;
  }

  /**
   * The upd frames that take a client from `since` to the newest flushed tick (none when it is up
   * to date), or undefined when history cannot: another epoch, a seq this hub never had, ticks
   * no longer held or older than `maxAgeMs` at hub time `now`.
   */
  replay<S extends HubSubscriber>(
    t: TopicState<S>,
    codecId: number,
    since: ResumePoint,
    now: number,
    maxAgeMs: number,
  ): Uint8Array[] | undefined {
    const flushed = flushedSeq(t);
    if (since.epoch !== this.epoch || !Number.isSafeInteger(since.seq) || since.seq < 0 || since.seq > flushed) return undefined;
    const from = since.seq + 1;
    if (from > flushed) return [];
    const h = t.hist;
    if (h === undefined || !h.holds(from, flushed)) return undefined;
    if (now - h.atOf(from) > maxAgeMs) return undefined;
    const ticks = h.ticks(from, flushed);
    const codec = this.codec(codecId);
    const out: Uint8Array[] = [];
    const positioned = typeof t.src === 'string';
    for (let i = 0; i < ticks.length; i += this.maxTicksPerFrame) {
      const to = Math.min(i + this.maxTicksPerFrame, ticks.length);
      out.push(this.count(codec.encodeUpd(t.name, t.kind, from + i, ticks, i, to, positioned ? h.offOf(from + to - 1) : undefined)));
    }
    return out;
  }

  /**
   * `ticks[start..]` (the first with seq `firstSeq + start`) as upd frames of at most
   * maxTicksPerFrame; `offs[i]` is the upstream offset of `ticks[i]` when the topic is positioned.
   */
  private updRun<S extends HubSubscriber>(
    t: TopicState<S>,
    codec: WireCodec,
    firstSeq: number,
    ticks: Payload[],
    start: number,
    offs: number[] | undefined,
  ): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let from = start; from < ticks.length; from += this.maxTicksPerFrame) {
      const to = Math.min(from + this.maxTicksPerFrame, ticks.length);
      out.push(this.count(codec.encodeUpd(t.name, t.kind, firstSeq + from, ticks, from, to, offs?.[to - 1])));
    }
    return out;
  }

  count(frame: Uint8Array): Uint8Array {
    this.stats.framesEncoded++;
    this.stats.bytesEncoded += frame.length;
    return frame;
  }
}
