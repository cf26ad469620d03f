/**
 * The buffer between a subscription and its iterator: bounded, and never silent about what it
 * drops. When the consumer is `limit` events behind, the oldest tick makes room (a connection is
 * never slowed down, nor a subscription ended, by one slow consumer), and before the iterator next
 * yields anything it yields a `gap` with reason `overflow` saying which ticks it lost. Other
 * events (snap, resync, gap, moved) are never dropped. The Python SDK's streams do the same.
 */
import { AsyncQueue } from './async-queue.js';
import type { SubscriptionEvent } from './types.js';

/** The seq an event stands at: where the ticks resume after an overflow gap. */
function seqOf(ev: SubscriptionEvent<object>): number {
  return ev.type === 'gap' ? ev.expected : ev.seq;
}

export class EventBuffer<T extends object> implements AsyncIterableIterator<SubscriptionEvent<T>> {
  private readonly queue: AsyncQueue<SubscriptionEvent<T>>;
  /** Seq of the first tick dropped since the last overflow gap was yielded. */
  private lostFrom: number | undefined;
  /** The event that goes out right after the pending overflow gap. */
  private held: SubscriptionEvent<T> | undefined;
  /** Ticks dropped so far. */
  dropped = 0;

  constructor(
    private readonly topic: string,
    limit: number,
    onReturn: () => void,
  ) {
    this.queue = new AsyncQueue<SubscriptionEvent<T>>(limit, onReturn);
  }

  get closed(): boolean {
    return this.queue.closed;
  }

  push(ev: SubscriptionEvent<T>): void {
    const q = this.queue;
    if (q.push(ev) || q.closed) return;
    const old = q.evict((e) => e.type === 'tick');
    if (old) {
      this.lostFrom ??= seqOf(old);
      this.dropped++;
    }
    q.pushAlways(ev);
  }

  end(): void {
    this.queue.end();
  }

  fail(err: Error): void {
    this.queue.fail(err);
  }

  async next(): Promise<IteratorResult<SubscriptionEvent<T>>> {
    const held = this.held;
    if (held) {
      this.held = undefined;
      return { value: held, done: false };
    }
    const r = await this.queue.next();
    const from = this.lostFrom;
    // A snap is a subscription's first event and precedes any drop; it never carries the gap.
    if (r.done || from === undefined || r.value.type === 'snap') return r;
    this.lostFrom = undefined;
    this.held = r.value;
    return { value: { type: 'gap', topic: this.topic, expected: from, got: seqOf(r.value), reason: 'overflow' }, done: false };
  }

  return(): Promise<IteratorResult<SubscriptionEvent<T>>> {
    this.held = undefined;
    this.lostFrom = undefined;
    return this.queue.return();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SubscriptionEvent<T>> {
    return this;
  }
}
