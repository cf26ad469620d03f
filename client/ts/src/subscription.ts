/**
 * One consumer's view of one topic: a listener callback and/or an async iterator of
 * {@link SubscriptionEvent}s, plus `ready` (the server's ack) and `unsubscribe()`.
 */
import { TickwireError } from './errors.js';
import { EventBuffer } from './event-buffer.js';
import type { SubscriptionEvent, Tick } from './types.js';

export type SubscriptionListener<T extends object = Tick> = (ev: SubscriptionEvent<T>) => void;

/**
 * A subscription of any tick type, as the client holds it in a topic's set. `_deliver` is a method, so its parameter is
 * checked bivariantly: a `Subscription<TradeTick>` fits, and the client delivers it only its topic's ticks. @internal
 */
export interface SubscriptionSlot {
  readonly topic: string;
  _started: boolean;
  _deliver(ev: SubscriptionEvent<object>): void;
  _ready(): void;
  _finish(err?: TickwireError): void;
}

/** What a subscription needs from its client. @internal */
export interface SubscriptionOwner {
  /** Removes the subscription (and unsubscribes the topic when it was the last one). */
  release(sub: SubscriptionSlot): Promise<void>;
  /** Most events an iterator may buffer before its oldest ticks are dropped (and reported as a `gap`). */
  readonly maxBufferedEvents: number;
  /** A listener threw. */
  listenerError(err: unknown): void;
}

const noop = (): void => {};

/**
 * A subscription to one topic, returned by {@link TickwireClient.subscribe}.
 *
 * Events arrive in order: first a `snap` (the starting point), then `tick`s; `resync` when
 * continuity was broken and the stream restarts from a new snapshot; `gap` when the SDK detected
 * missing ticks (a `resync` follows); `moved` when the stream continues on another gateway
 * instance, renumbered (nothing missed). Consume them with the listener given to `subscribe`, or
 * with `for await (const ev of sub)`, or both.
 *
 * Buffering: without a listener, events are buffered for the iterator from the moment the
 * subscription is created, so none is lost before the loop starts. With a listener, the iterator
 * sees the events from the moment it is created. When an iterator falls `maxBufferedEvents`
 * behind, its oldest ticks are dropped to make room and it next yields a `gap` event with reason
 * `overflow` (`expected`..`got - 1` were lost), then carries on: ticks are never dropped silently,
 * other events never at all, and the subscription stays (as in the Python SDK). `dropped` counts
 * the lost ticks. Leaving a `for await` loop early (`break`) unsubscribes.
 */
export class Subscription<T extends object = Tick> implements AsyncIterable<SubscriptionEvent<T>> {
  /**
   * Resolves when the server acknowledged the topic; rejects with a {@link TickwireError} when it
   * refused it (`code` `bad_topic`, …, with `topics`) or the client closed first. Awaiting it is
   * optional: an unobserved rejection is not reported as unhandled.
   */
  readonly ready: Promise<void>;
  private resolveReady: () => void = noop;
  private rejectReady: (e: unknown) => void = noop;
  private readyState: 'pending' | 'ready' | 'failed' = 'pending';
  private queue: EventBuffer<T> | undefined;
  private finished = false;
  private finishListeners: Array<(err?: TickwireError) => void> = [];
  /** Has this subscription had its starting point (`snap`) yet. @internal */
  _started = false;

  /** @internal Created by {@link TickwireClient.subscribe}. */
  constructor(
    /** The topic name as subscribed (e.g. `trade.BTC-USD` or `quote.AAPL@100ms`). */
    readonly topic: string,
    private readonly owner: SubscriptionOwner,
    private readonly listener?: SubscriptionListener<T>,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(noop);
    if (!listener) this.queue = this.newQueue();
  }

  /** Ticks this subscription's iterator lost because it fell `maxBufferedEvents` behind (each reported by a `gap`). */
  get dropped(): number {
    return this.queue?.dropped ?? 0;
  }

  /** False once unsubscribed, refused, or the client closed. */
  get active(): boolean {
    return !this.finished;
  }

  /**
   * Ends this subscription (its iterator finishes after the buffered events). The topic is unsubscribed when no other subscription uses it.
   */
  unsubscribe(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return this.owner.release(this);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SubscriptionEvent<T>> {
    if (!this.queue) {
      this.queue = this.newQueue();
      if (this.finished) this.queue.end();
    }
    return this.queue;
  }

  private newQueue(): EventBuffer<T> {
    return new EventBuffer<T>(this.topic, this.owner.maxBufferedEvents, () => {
      if (!this.finished) void this.owner.release(this);
    });
  }

  /** @internal */
  _deliver(ev: SubscriptionEvent<T>): void {
    if (this.finished) return;
    if (this.listener) {
      try {
        this.listener(ev);
      } catch (e) {
        this.owner.listenerError(e);
      }
    }
    this.queue?.push(ev);
  }

  /** @internal The server acknowledged the topic. */
  _ready(): void {
    if (this.readyState !== 'pending') return;
    this.readyState = 'ready';
    this.resolveReady();
  }

  /** @internal Ends the subscription: normally, or with `err` (thrown by the iterator, and by `ready` if still pending). */
  _finish(err?: TickwireError): void {
    if (this.finished) return;
    this.finished = true;
    if (this.readyState === 'pending') {
      this.readyState = 'failed';
      this.rejectReady(
        err ?? new TickwireError('closed', `subscription ${this.topic} ended before the server acknowledged it`, [this.topic]),
      );
    }
    if (err) this.queue?.fail(err);
    else this.queue?.end();
    const listeners = this.finishListeners;
    this.finishListeners = [];
    for (const cb of listeners) cb(err);
  }

  /** @internal Calls `cb` once when the subscription ends (at once if it already has); for the SDK's own consumers (order books). */
  _onFinish(cb: (err?: TickwireError) => void): void {
    if (this.finished) cb();
    else this.finishListeners.push(cb);
  }
}
