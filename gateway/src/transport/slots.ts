/**
 * maxConnections: one slot per connection, taken at the upgrade (so upgrades waiting for a token
 * check count too) and given back when the connection closes or the upgrade fails.
 */
export interface ConnectionSlots {
  /** False when all slots are taken; true means the caller holds one until `give`. */
  take(): boolean;
  give(): void;
}

/**
 * Slots counted in a SharedArrayBuffer with one cell per worker thread, so that the limit holds
 * for the whole process (workers > 1). Each worker counts in its own cell and compares the sum;
 * when a worker dies, the primary zeroes its cell (`reset`): the connections it held are gone
 * even if the thread ended before it could count them down.
 */
export class SharedSlots implements ConnectionSlots {
  constructor(
    private readonly cells: Int32Array,
    private readonly index: number,
    private readonly max: number,
  ) {}

  /** Counters for `workers` threads, to hand to each of them (structured clone keeps them shared). */
  static cells(workers = 1): Int32Array {
    return new Int32Array(new SharedArrayBuffer(4 * workers));
  }

  /** Forgets the connections of a worker that ended. */
  static reset(cells: Int32Array, index: number): void {
    Atomics.store(cells, index, 0);
  }

  take(): boolean {
    // Count first, then check the sum: two workers racing for the last slot may both back off,
    // but can never both get it.
    Atomics.add(this.cells, this.index, 1);
    let total = 0;
    for (let i = 0; i < this.cells.length; i++) total += Atomics.load(this.cells, i);
    if (total <= this.max) return true;
    Atomics.sub(this.cells, this.index, 1);
    return false;
  }

  give(): void {
    Atomics.sub(this.cells, this.index, 1);
  }
}
