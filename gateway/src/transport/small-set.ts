/**
 * An insertion-ordered set that holds its first two items in fields and only allocates a `Set`
 * for a third. Per-connection topic sets are this: nearly every connection has one or two topics
 * (the announcements, and maybe one subscription), and an empty `Set` alone costs its object plus
 * a hash table of ~200 bytes, times every open connection.
 */
export class SmallSet<T> implements Iterable<T> {
  private a: T | undefined = undefined;
  private b: T | undefined = undefined;
  /** Every item once there were more than two (until `clear`); `a` and `b` are then unused. */
  private many: Set<T> | undefined = undefined;

  get size(): number {
    if (this.many !== undefined) return this.many.size;
    return (this.a === undefined ? 0 : 1) + (this.b === undefined ? 0 : 1);
  }

  has(item: T): boolean {
    if (this.many !== undefined) return this.many.has(item);
    return item !== undefined && (this.a === item || this.b === item);
  }

  add(item: T): this {
    if (this.many !== undefined) this.many.add(item);
    else if (this.a === undefined) this.a = item;
    else if (this.a === item || this.b === item) return this;
    else if (this.b === undefined) this.b = item;
    else {
      this.many = new Set([this.a, this.b, item]);
      this.a = this.b = undefined;
    }
    return this;
  }

  delete(item: T): boolean {
    if (this.many !== undefined) return this.many.delete(item);
    if (item === undefined) return false;
    if (this.a === item) {
      // `b` moves up: the order of what remains is kept.
      this.a = this.b;
      this.b = undefined;
      return true;
    }
    if (this.b === item) {
      this.b = undefined;
      return true;
    }
    return false;
  }

  clear(): void {
    this.a = this.b = undefined;
    this.many = undefined;
  }

  *[Symbol.iterator](): Iterator<T> {
    if (this.many !== undefined) {
      yield* this.many;
      return;
    }
    // Copied first, so that deleting the current item while iterating skips nothing (as a Set).
    const a = this.a;
    const b = this.b;
    if (a !== undefined) yield a;
    if (b !== undefined && this.has(b)) yield b;
  }
}
