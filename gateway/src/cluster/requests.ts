/**
 * Request/response over a message port: each request gets an id, the answer carries it back,
 * and a request that gets no answer in time resolves to undefined rather than hanging.
 */
export class Requests<T> {
  private nextId = 1;
  private readonly waiting = new Map<number, (value: T | undefined) => void>();

  /** Calls `send(id)` and resolves with the `answer` for that id, or undefined after `timeoutMs`. */
  ask(send: (id: number) => void, timeoutMs: number): Promise<T | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, undefined), timeoutMs);
      this.waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      send(id);
    });
  }

  /** Delivers the answer to request `id`; late or unknown answers are dropped. */
  answer(id: number, value: T | undefined): void {
    this.settle(id, value);
  }

  private settle(id: number, value: T | undefined): void {
    const done = this.waiting.get(id);
    if (!done) return;
    this.waiting.delete(id);
    done(value);
  }
}
