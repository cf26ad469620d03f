/**
 * The byte side of resume history (history.ts): chunk buffers, their accounting against one
 * budget for all topics, and the trims that keep it. It knows a chunk's owner only as something
 * that can drop its oldest chunk, so the per-topic histories can build on it without a cycle.
 */

/** Bytes accounted per chunk besides its buffers (objects, array slots): an estimate. */
const CHUNK_OVERHEAD = 160;
/** Freed buffers of one size kept for reuse. */
const SPARE_PER_SIZE = 4;

export type TrimReason = 'window' | 'budget' | 'gap';
export const TRIM_REASONS: readonly TrimReason[] = ['window', 'budget', 'gap'];

/** What owns a chunk: the budget frees chunks through it, so that trimming only ever cuts a history's front. */
export interface ChunkOwner {
  dropOldest(): void;
}

/** A run of consecutive seqs of one topic's history, in column-major typed arrays. */
export interface Chunk {
  readonly history: ChunkOwner;
  /** Seq of the chunk's first tick. */
  readonly first: number;
  n: number;
  readonly cap: number;
  /** Column-major: column c of tick i at c * cap + i. Null once freed. */
  f: Float64Array | null;
  off: Float64Array | null;
  /** Free-form payloads, concatenated msgpack; column END holds each one's end (see history.ts). */
  data: Uint8Array | null;
  used: number;
  bytes: number;
}

export function chunkBytes(c: Chunk): number {
  return CHUNK_OVERHEAD + (c.f?.byteLength ?? 0) + (c.off?.byteLength ?? 0) + (c.data?.byteLength ?? 0);
}

export interface HistoryStoreOptions {
  /** Every topic keeps at least the ticks a client away this long needs, while the budget allows. */
  minWindowMs: number;
  /** Bytes of history over all topics of this store; past it, the longest window gives way first. */
  budgetBytes: number;
}

/**
 * The chunks of one hub's histories, accounted together (HistoryStore adds the histories):
 * `bytes` over all topics stays within `budgetBytes` (give or take the chunk being written). When the budget binds, the chunk with the
 * oldest ticks goes first, which is the oldest chunk of the topic holding the longest window:
 * windows shrink evenly from the longest, and a hot topic (many bytes per second) gives way in
 * bytes before a quiet one loses its few ticks.
 *
 * Chunks are allocated in hub-clock order, so a FIFO of chunks is the budget order; freed chunks
 * leave the FIFO lazily.
 */
export class ChunkStore {
  readonly minWindowMs: number;
  readonly budgetBytes: number;
  bytes = 0;
  readonly trims: Record<TrimReason, number> = { window: 0, budget: 0, gap: 0 };
  private fifo: Chunk[] = [];
  /** Freed chunk buffers by length, for reuse (not counted in `bytes`: at most SPARE_PER_SIZE per size). */
  private readonly spare = new Map<number, Float64Array[]>();
  private head = 0;
  private dead = 0;

  constructor(opts: HistoryStoreOptions) {
    this.minWindowMs = opts.minWindowMs;
    this.budgetBytes = opts.budgetBytes;
  }

  /** @internal (History) */
  trimmed(reason: TrimReason): void {
    this.trims[reason]++;
  }

  /** @internal (History): a new chunk; may trim other chunks to stay within the budget. */
  allocated(c: Chunk, bytes: number, enforce = true): void {
    c.bytes = bytes;
    this.bytes += bytes;
    this.fifo.push(c);
    if (enforce) this.enforce(c);
  }

  /** @internal (History): a chunk's buffers grew or shrank. */
  resize(c: Chunk, delta: number): void {
    c.bytes += delta;
    this.bytes += delta;
    this.enforce(c);
  }

  /** @internal (History) */
  free(c: Chunk): void {
    this.bytes -= c.bytes;
    c.bytes = 0;
    // A steady topic frees a chunk about as often as it needs one: reusing the buffer saves the
    // zero-fill and page faults of a fresh one (a third of the cost of a tick, measured).
    if (c.f !== null) this.recycle(c.f);
    if (c.off !== null) this.recycle(c.off);
    c.f = c.off = c.data = null;
    this.dead++;
    this.compact();
  }

  /** After `import`: chunks from another hub arrive topic by topic; the budget order is by age. */
  sortByAge(): void {
    const live = this.fifo.slice(this.head).filter((c) => c.f !== null);
    live.sort((a, b) => (a.f as Float64Array)[0]! - (b.f as Float64Array)[0]!);
    this.fifo = live;
    this.head = 0;
    this.dead = 0;
    this.enforce(undefined);
  }

  /**
   * Frees the oldest chunks until the budget holds. `keep` (the chunk being written) is never
   * freed: past the budget by at most one chunk rather than an append that loses its tick.
   */
  private enforce(keep: Chunk | undefined): void {
    while (this.bytes > this.budgetBytes) {
      while (this.head < this.fifo.length && (this.fifo[this.head] as Chunk).f === null) {
        this.head++;
        this.dead--;
      }
      const c = this.fifo[this.head];
      if (c === undefined || c === keep) return;
      // Budget order is age order, so the oldest chunk overall is its topic's oldest (and were it
      // not, that topic's oldest is older still): trimming only ever cuts a history's front.
      c.history.dropOldest();
      this.trims.budget++;
    }
  }

  /** A Float64Array of `length` (contents undefined: every slot used is written before it is read). */
  floats(length: number): Float64Array {
    return this.spare.get(length)?.pop() ?? new Float64Array(length);
  }

  private recycle(a: Float64Array): void {
    let list = this.spare.get(a.length);
    if (list === undefined) this.spare.set(a.length, (list = []));
    if (list.length < SPARE_PER_SIZE) list.push(a);
  }

  private compact(): void {
    if (this.dead < 1024 || this.dead * 2 < this.fifo.length - this.head) return;
    this.fifo = this.fifo.slice(this.head).filter((c) => c.f !== null);
    this.head = 0;
    this.dead = 0;
  }
}
