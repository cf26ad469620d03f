/**
 * Candles: the history endpoint (`GET /v1/candles`) and one ordered stream of history then live
 * updates. The seam rule lives here: the live subscription starts first and is held back until
 * the history (fetched after its first snapshot, so nothing closes unseen in between) has been
 * delivered; every candle then goes out only if it is newer than the last one delivered, or the
 * same still-open bucket growing.
 */
import { AsyncQueue } from './async-queue.js';
import { TickwireError } from './errors.js';
import { getJson, httpError } from './snapshot.js';
import type { FetchLike } from './sse-socket.js';
import type { Subscription } from './subscription.js';
import type { SubscriptionEvent, Tick } from './types.js';
import type { CandleTick } from '../../../protocol/src/ticks.js';

/** One candle (`candle.<interval>.<SYMBOL>`), computed by the gateway from the trades it carries. */
export type Candle = CandleTick;

/** Candle intervals and their length in ms. */
export const CANDLE_INTERVALS = { '1s': 1000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type CandleInterval = keyof typeof CANDLE_INTERVALS;

const CANDLE_TOPIC = /^candle\.(1s|1m|5m|15m|1h|1d)\.([A-Z0-9][A-Z0-9_-]{0,31})$/;

/** The interval of a candle topic (`candle.1m.BTC-USD` → `1m`); throws a TypeError for anything else. */
export function candleInterval(topic: string): CandleInterval {
  const m = CANDLE_TOPIC.exec(topic);
  if (!m) throw new TypeError(`tickwire: not a candle topic: ${JSON.stringify(topic)} (expected candle.<1s|1m|5m|15m|1h|1d>.<SYMBOL>)`);
  return m[1] as CandleInterval;
}

/** Options of {@link TickwireClient.candles}. */
export interface CandlesOptions {
  /** Closed candles to deliver before the live ones (from `GET /v1/candles`). Default 0: live only. */
  history?: number;
  /** Timeout of each history request, ms. Default 10 000. */
  timeoutMs?: number;
}

/**
 * What a {@link CandleStream} yields, in order.
 *
 * - `candle`: a candle, `history: true` for those from the endpoint. Buckets (`t`) never go
 *   backwards; the same `t` again is the open candle growing, and `x: true` marks its last update.
 * - `gap`: candles with `after < t < before` may be missing and could not be fetched (`error` says
 *   why): the live stream broke (a reconnect without resume, a gateway restart) and the history
 *   request that should have filled the hole failed or would have needed more than 1000 candles.
 */
export type CandleEvent =
  { type: 'candle'; candle: Candle; history: boolean } | { type: 'gap'; after: number; before: number; error?: TickwireError };

/** Most candles one repair (after a broken live stream) fetches. */
export const MAX_REPAIR_CANDLES = 1000;

/**
 * GET /v1/candles: closed candles of `topic`, oldest first, at most `limit`, all before `before`
 * when given. A refusal rejects with a {@link TickwireError} carrying the server's code.
 */
export async function fetchCandles(
  fetch: FetchLike,
  endpoint: { url: string; headers: Record<string, string> },
  topic: string,
  opts: { limit: number; before?: number; timeoutMs: number },
): Promise<Candle[]> {
  let query = `topic=${encodeURIComponent(topic)}&limit=${opts.limit}`;
  if (opts.before !== undefined) query += `&before=${opts.before}`;
  const { status, body, text } = await getJson(fetch, endpoint, query, opts.timeoutMs);
  const candles = (body as { candles?: unknown } | null)?.candles;
  if (status !== 200 || !Array.isArray(candles)) throw httpError(endpoint.url, status, body, text, [topic]);
  return candles as Candle[];
}

/** What a {@link CandleStream} needs from its client. @internal */
export interface CandleOwner {
  subscribe(topic: string, listener: (ev: SubscriptionEvent) => void): Subscription;
  history(topic: string, limit: number): Promise<Candle[]>;
}

/**
 * History then live candles of one topic as one ordered stream, returned by
 * {@link TickwireClient.candles}: `for await (const ev of stream)`, see {@link CandleEvent}.
 * Events are buffered until read (candles are few: at most one update per bucket per flush).
 * Leaving the loop (`break`) or `close()` unsubscribes. A failed first history request ends the
 * stream with its error (thrown by the iterator); so does a refused subscription.
 */
export class CandleStream implements AsyncIterable<CandleEvent> {
  private readonly queue: AsyncQueue<CandleEvent>;
  private readonly sub: Subscription;
  private readonly intervalMs: number;
  /** Live candles held back while history loads; undefined when live candles go straight out. */
  private held: Candle[] | undefined = [];
  private last: Candle | undefined;
  private started = false;

  /** @internal Created by {@link TickwireClient.candles}. */
  constructor(
    /** The candle topic, e.g. `candle.1m.BTC-USD`. */
    readonly topic: string,
    private readonly owner: CandleOwner,
    private readonly historyLimit: number,
  ) {
    this.intervalMs = CANDLE_INTERVALS[candleInterval(topic)];
    this.queue = new AsyncQueue<CandleEvent>(Infinity, () => void this.close());
    this.sub = owner.subscribe(topic, (ev) => this.onEvent(ev));
    this.sub._onFinish((err) => (err ? this.queue.fail(err) : this.queue.end()));
  }

  /** Unsubscribes; the iterator finishes after the events already buffered. */
  close(): Promise<void> {
    return this.sub.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<CandleEvent> {
    return this.queue;
  }

  private onEvent(ev: SubscriptionEvent<Tick>): void {
    switch (ev.type) {
      case 'snap':
        return this.first(ev.tick as unknown as Candle);
      case 'tick':
        return this.live(ev.tick as unknown as Candle);
      case 'resync':
        return this.broken(ev.tick as unknown as Candle);
      case 'gap': // a resync follows, where the hole is repaired
      case 'moved': // same stream, renumbered
        return;
    }
  }

  private first(c: Candle): void {
    if (this.started) return this.live(c);
    this.started = true;
    if (this.historyLimit <= 0) {
      this.held = undefined;
      return this.offer(c, false);
    }
    this.held = [c];
    // Fetched only now: everything closed before this snapshot is in the answer.
    this.owner.history(this.topic, this.historyLimit).then(
      (hist) => this.drain(hist),
      (err: unknown) => {
        this.queue.fail(err instanceof Error ? err : new Error(String(err)));
        void this.close();
      },
    );
  }

  private live(c: Candle): void {
    if (this.held) this.held.push(c);
    else this.offer(c, false);
  }

  /** The live stream restarted from a snapshot: fetch what closed meanwhile, then carry on. */
  private broken(c: Candle): void {
    const last = this.last;
    if (this.held || !last) return this.live(c);
    const buckets = Math.floor((c.t - last.t) / this.intervalMs) + 2;
    if (buckets <= 2 && (last.x || c.t === last.t)) return this.offer(c, false); // nothing closed unseen
    const limit = Math.min(buckets, MAX_REPAIR_CANDLES);
    this.held = [c];
    this.owner.history(this.topic, limit).then(
      (hist) => {
        const first = hist[0];
        // The answer does not reach back to the last candle delivered: say what is missing.
        if (buckets > limit && (!first || first.t > last.t + this.intervalMs))
          this.queue.push({ type: 'gap', after: last.t, before: first?.t ?? c.t });
        this.drain(hist);
      },
      (err: unknown) => {
        const error = err instanceof TickwireError ? err : new TickwireError('history_failed', String((err as Error)?.message ?? err));
        this.queue.push({ type: 'gap', after: last.t, before: c.t, error });
        this.drain([]);
      },
    );
  }

  private drain(history: readonly Candle[]): void {
    for (const h of history) this.offer(h, true);
    const held = this.held ?? [];
    this.held = undefined;
    for (const c of held) this.offer(c, false);
  }

  /** Delivers `c` unless an equal or later bucket already went out (or this one, closed). */
  private offer(c: Candle, history: boolean): void {
    const last = this.last;
    if (last && (c.t < last.t || (c.t === last.t && last.x === true))) return;
    this.last = c;
    this.queue.push({ type: 'candle', candle: c, history });
  }
}
