import { Packr, Unpackr } from 'msgpackr';
import type { Payload, QuoteTick, TradeTick } from '../../../protocol/src/ticks.js';
import type { TopicKind } from '../../../protocol/src/kinds.js';
import { ChunkStore, chunkBytes, type Chunk } from './history-store.js';

export { TRIM_REASONS, type HistoryStoreOptions, type TrimReason } from './history-store.js';

/**
 * Resume history: per topic, the consecutive ticks of the last `minWindowMs` (at least) with
 * their hub-clock arrival times and upstream offsets, stored compactly, within one byte budget
 * for all topics (`HistoryStore`).
 *
 * Layout: a topic's history is a list of chunks, each a run of consecutive seqs in one Float64Array
 * of columns (arrival time, ts, then the kind's numbers: 40 B per trade, 48 B per quote) plus an
 * offset column once the topic has upstream positions (+8 B). Free-form payloads (user, sys) are
 * kept as msgpack bytes in a per-chunk buffer. Plain objects would cost ~150 B per tick and a
 * GC-visible object each; chunks make growth and trimming O(chunk) with no per-tick allocation.
 *
 * Pure: time comes in with each append (the hub's clock); nothing here reads a clock.
 */

/** Ticks a chunk holds at least and at most; chunks grow with the topic's history (see `capacityFor`). */
const MIN_CHUNK = 16;
const MAX_CHUNK = 4096;
/** Columns before the kind's own: arrival time and ts (free-form: arrival time and end offset). */
const AT = 0;
const TS = 1;
const END = 1;

// Same options as the wire codec: plain maps, standard msgpack, so a payload decodes as it came.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false, int64AsType: 'number' });

/** A topic's history in plain data (typed arrays), for a replica's `import`; survives structuredClone. */
export interface HistoryExport {
  chunks: { first: number; n: number; cap: number; f: Float64Array; off: Float64Array | null; data: Uint8Array | null }[];
}

function columnsOf(kind: TopicKind): number {
  return kind === 'trade' ? 5 : kind === 'quote' ? 6 : 2;
}

export class History {
  readonly kind: TopicKind;
  private readonly cols: number;
  private readonly chunks: Chunk[] = [];
  /** Seq the next append continues with; ticks before `next - count` are not held. */
  private nextSeq = 1;

  constructor(
    private readonly store: HistoryStore,
    readonly topic: string,
    kind: TopicKind,
  ) {
    this.kind = kind;
    this.cols = columnsOf(kind);
    store.add(this);
  }

  /** Seq of the oldest tick held (`next` when none). */
  get first(): number {
    return this.chunks.length > 0 ? (this.chunks[0] as Chunk).first : this.nextSeq;
  }

  /** Seq of the newest tick held, or of the last one appended before a trim emptied it. */
  get last(): number {
    return this.nextSeq - 1;
  }

  get count(): number {
    return this.nextSeq - this.first;
  }

  /** Hub-clock arrival of the oldest tick held; undefined when none. */
  get oldestAt(): number | undefined {
    const c = this.chunks[0];
    return c ? (c.f as Float64Array)[AT * c.cap] : undefined;
  }

  /** How far back a resume reaches: `now` minus the oldest arrival held (0 when nothing is held). */
  windowMs(now: number): number {
    const a = this.oldestAt;
    return a === undefined ? 0 : Math.max(0, now - a);
  }

  /** True when every seq in [from, to] is held. */
  holds(from: number, to: number): boolean {
    return from >= this.first && to <= this.last && from <= to;
  }

  /**
   * Appends the tick with sequence `seq`, which arrived at hub time `at`. A seq that does not
   * continue the history (a replica's gap) drops everything held first: resume never reaches
   * across a gap. Returns false when a free-form payload could not be encoded (history then
   * restarts after it).
   */
  append(seq: number, tick: Payload, at: number, off?: number): boolean {
    if (seq !== this.nextSeq) this.restart(seq);
    let c = this.chunks[this.chunks.length - 1];
    if (c === undefined || c.n === c.cap) c = this.grow(seq, at, off !== undefined);
    const f = c.f as Float64Array;
    const cap = c.cap;
    const i = c.n;
    f[AT * cap + i] = at;
    if (this.cols === 5) {
      const t = tick as TradeTick;
      f[TS * cap + i] = t.ts;
      f[2 * cap + i] = t.px;
      f[3 * cap + i] = t.qty;
      f[4 * cap + i] = t.side === 's' ? 1 : 0;
    } else if (this.cols === 6) {
      const q = tick as QuoteTick;
      f[TS * cap + i] = q.ts;
      f[2 * cap + i] = q.bid;
      f[3 * cap + i] = q.bsz;
      f[4 * cap + i] = q.ask;
      f[5 * cap + i] = q.asz;
    } else if (!this.putPayload(c, i, tick)) {
      this.restart(seq + 1);
      return false;
    }
    if (off !== undefined) {
      if (c.off === null) this.store.resize(c, (c.off = new Float64Array(cap).fill(-1)).byteLength);
      c.off[i] = off;
    }
    c.n++;
    this.nextSeq = seq + 1;
    return true;
  }

  /** Drops everything held; the next append must be `seq`. */
  restart(seq: number): void {
    if (this.chunks.length > 0) this.store.trimmed('gap');
    while (this.chunks.length > 0) this.dropOldest();
    this.nextSeq = seq;
  }

  /** Arrival time of a held seq. */
  atOf(seq: number): number {
    const c = this.chunkOf(seq);
    return (c.f as Float64Array)[AT * c.cap + seq - c.first] as number;
  }

  /** Upstream offset of a held seq, -1 when it came without one. */
  offOf(seq: number): number {
    const c = this.chunkOf(seq);
    return c.off === null ? -1 : (c.off[seq - c.first] as number);
  }

  /** The held ticks [from, to] as payloads, in order; `holds(from, to)` must be true. */
  ticks(from: number, to: number): Payload[] {
    const out: Payload[] = [];
    let k = this.indexOf(from);
    for (let s = from; s <= to;) {
      const c = this.chunks[k++] as Chunk;
      const end = Math.min(to, c.first + c.n - 1);
      for (; s <= end; s++) out.push(this.decode(c, s - c.first));
    }
    return out;
  }

  tick(seq: number): Payload {
    const c = this.chunkOf(seq);
    return this.decode(c, seq - c.first);
  }

  /**
   * Drops whole chunks that no resume within `minWindowMs` can need: a chunk goes once the tick
   * after it arrived before `now - minWindowMs` (a client that left later has seen all of it).
   */
  trimWindow(now: number, minWindowMs: number): void {
    const limit = now - minWindowMs;
    while (this.chunks.length >= 2) {
      const next = this.chunks[1] as Chunk;
      if (((next.f as Float64Array)[AT * next.cap] as number) >= limit) break;
      this.dropOldest();
      this.store.trimmed('window');
    }
  }

  /** Frees the oldest chunk (trimming keeps seqs consecutive: it only ever cuts the front). */
  dropOldest(): void {
    const c = this.chunks.shift();
    if (c) this.store.free(c);
  }

  /** The chunk the next trim of this topic frees. */
  get oldestChunk(): Chunk | undefined {
    return this.chunks[0];
  }

  export(): HistoryExport {
    return {
      chunks: this.chunks.map((c) => ({
        first: c.first,
        n: c.n,
        cap: c.cap,
        f: (c.f as Float64Array).slice(),
        off: c.off?.slice() ?? null,
        data: c.data?.slice(0, c.used) ?? null,
      })),
    };
  }

  /** Loads an export into this empty history; `next` is the seq that follows it. */
  import(e: HistoryExport, next: number): void {
    if (this.chunks.length > 0) throw new Error(`history of ${this.topic}: import into a history with data`);
    let expect = e.chunks[0]?.first;
    for (const x of e.chunks) {
      if (x.first !== expect || x.n < 1 || x.n > x.cap || x.f.length !== x.cap * this.cols)
        throw new Error(`history of ${this.topic}: malformed export`);
      expect = x.first + x.n;
      const c: Chunk = {
        history: this,
        first: x.first,
        n: x.n,
        cap: x.cap,
        f: x.f,
        off: x.off,
        data: x.data,
        used: x.data?.length ?? 0,
        bytes: 0,
      };
      this.chunks.push(c);
      this.store.allocated(c, chunkBytes(c), false);
    }
    if (expect !== undefined && expect !== next)
      throw new Error(`history of ${this.topic}: export ends at ${expect - 1}, topic at ${next - 1}`);
    this.nextSeq = next;
  }

  private grow(seq: number, at: number, positioned: boolean): Chunk {
    // Trim before allocating, so a steady topic reuses the bytes it frees.
    this.trimWindow(at, this.store.minWindowMs);
    const cap = capacityFor(this.count);
    const c: Chunk = {
      history: this,
      first: seq,
      n: 0,
      cap,
      f: this.store.floats(cap * this.cols),
      off: positioned ? this.store.floats(cap).fill(-1) : null,
      data: this.cols === 2 ? new Uint8Array(cap * 32) : null,
      used: 0,
      bytes: 0,
    };
    this.chunks.push(c);
    this.store.allocated(c, chunkBytes(c));
    return c;
  }

  private putPayload(c: Chunk, i: number, tick: Payload): boolean {
    let bytes: Uint8Array;
    try {
      bytes = packr.pack(tick);
    } catch {
      return false;
    }
    let data = c.data as Uint8Array;
    if (c.used + bytes.length > data.length) {
      const bigger = new Uint8Array(Math.max(data.length * 2, c.used + bytes.length));
      bigger.set(data.subarray(0, c.used));
      this.store.resize(c, bigger.byteLength - data.byteLength);
      c.data = data = bigger;
    }
    data.set(bytes, c.used);
    c.used += bytes.length;
    (c.f as Float64Array)[END * c.cap + i] = c.used;
    return true;
  }

  private decode(c: Chunk, i: number): Payload {
    const f = c.f as Float64Array;
    const cap = c.cap;
    if (this.cols === 5) {
      return {
        ts: f[TS * cap + i] as number,
        px: f[2 * cap + i] as number,
        qty: f[3 * cap + i] as number,
        side: f[4 * cap + i] === 1 ? 's' : 'b',
      };
    }
    if (this.cols === 6) {
      return {
        ts: f[TS * cap + i] as number,
        bid: f[2 * cap + i] as number,
        bsz: f[3 * cap + i] as number,
        ask: f[4 * cap + i] as number,
        asz: f[5 * cap + i] as number,
      };
    }
    const start = i === 0 ? 0 : (f[END * cap + i - 1] as number);
    return unpackr.unpack((c.data as Uint8Array).subarray(start, f[END * cap + i])) as Payload;
  }

  private indexOf(seq: number): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((chunks[mid] as Chunk).first <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private chunkOf(seq: number): Chunk {
    if (seq < this.first || seq > this.last) throw new Error(`history of ${this.topic}: seq ${seq} not held`);
    return this.chunks[this.indexOf(seq)] as Chunk;
  }
}

/** New chunks hold about an eighth of what the topic holds: few chunks per window, small ones for quiet topics. */
function capacityFor(held: number): number {
  let cap = MIN_CHUNK;
  while (cap < MAX_CHUNK && cap * 8 < held) cap *= 2;
  return cap;
}

/**
 * The histories of one hub within one byte budget (see ChunkStore for how the budget binds):
 * `create` makes a topic's history, `delete` forgets one.
 */
export class HistoryStore extends ChunkStore {
  readonly histories = new Set<History>();

  create(topic: string, kind: TopicKind): History {
    return new History(this, topic, kind);
  }

  /** @internal (History) */
  add(h: History): void {
    this.histories.add(h);
  }

  /** Forgets a topic's history (its bytes are freed). */
  delete(h: History): void {
    while (h.oldestChunk) h.dropOldest();
    this.histories.delete(h);
  }
}
