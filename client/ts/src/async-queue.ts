/**
 * An unbounded-until-`limit` FIFO that is also an async iterator: producers `push`, one consumer
 * iterates. `end()` finishes after the buffered items are consumed; `fail(err)` throws `err` after
 * them. Used for subscription events and the status stream.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  /** Set by `fail()` until the consumer has been thrown it once. */
  private error: Error | undefined = undefined;

  constructor(
    /** Items buffered beyond this make `push` return false (the caller decides what that means). */
    private readonly limit = Infinity,
    /** Called when the consumer stops early (`break` in `for await`, or `return()`). */
    private readonly onReturn?: () => void,
  ) {}

  /** Number of items waiting for the consumer. */
  get size(): number {
    return this.items.length - this.head;
  }

  get closed(): boolean {
    return this.done;
  }

  /** Adds an item. Returns false (and drops nothing: the item is not added) when the buffer is full or the queue is closed. */
  push(item: T): boolean {
    if (this.done) return false;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (this.size >= this.limit) return false;
    this.items.push(item);
    return true;
  }

  /**
   * Removes and returns the oldest buffered item that matches `pred` (undefined when none does).
   * The oldest item is the cheap case (a slow consumer's buffer is mostly ticks).
   */
  evict(pred: (item: T) => boolean): T | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (!pred(item)) continue;
      if (i === this.head) {
        this.items[i] = undefined as T;
        this.head++;
      } else {
        this.items.splice(i, 1);
      }
      return item;
    }
    return undefined;
  }

  /** Adds an item even past the limit (for items that must never be dropped); false when closed. */
  pushAlways(item: T): boolean {
    if (this.done) return false;
    if (this.size < this.limit || this.waiter) return this.push(item);
    this.items.push(item);
    return true;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.wakeEnd();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    this.wakeEnd();
  }

  private wakeEnd(): void {
    const w = this.waiter;
    if (!w || this.size > 0) return;
    this.waiter = undefined;
    if (this.error) w.reject(this.error);
    else w.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const item = this.items[this.head] as T;
      this.items[this.head] = undefined as T;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value: item, done: false });
    }
    if (this.done) {
      const err = this.error;
      if (err) {
        this.error = undefined; // throw once, then behave as finished
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('AsyncQueue: concurrent next() calls are not supported'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    const wasOpen = !this.done;
    this.done = true;
    this.error = undefined;
    this.items = [];
    this.head = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
    if (wasOpen) this.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
