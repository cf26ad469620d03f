/**
 * The board's binding to candles: the closed history from `GET /v1/candles`, then the live
 * `candle.<interval>.<SYMBOL>` stream, both into one CandleSeries. The stream is subscribed
 * first, so nothing between the history request and the first live candle is missed; the series
 * merges whichever arrives first. Swapped for the SDK's `client.candles()` once it exists.
 */
import type { Candle, Subscription, TickwireClient } from '../client/ts/src/index.js';
import { CandleSeries, isCandle, type Interval } from './candles.js';

/** Closed candles asked for on opening a chart. */
export const HISTORY_LIMIT = 500;

export class CandleFeed {
  readonly series = new CandleSeries();
  readonly topic: string;
  /** Live candle payloads applied. */
  liveUpdates = 0;
  /** Payloads that were not candles (skipped, never drawn). */
  rejected = 0;
  /** Why the history or the stream is missing, for the panel to say so; '' when fine. */
  historyError = '';
  streamError = '';
  /** The history request finished (with candles or with historyError). */
  historyDone = false;
  private readonly sub: Subscription;
  private closed = false;

  constructor(
    client: TickwireClient,
    symbol: string,
    readonly interval: Interval,
    private readonly onChange: () => void,
    base: string | URL = location.href,
  ) {
    this.topic = `candle.${interval}.${symbol}`;
    this.sub = client.subscribe(this.topic, (ev) => {
      if (this.closed || ev.type === 'gap' || ev.type === 'moved') return;
      if (!isCandle(ev.tick)) {
        this.rejected++;
        return;
      }
      this.liveUpdates++;
      this.series.upsert(ev.tick);
      this.onChange();
    });
    this.sub.ready.catch((e: Error) => {
      if (this.closed) return;
      this.streamError = e.message;
      this.onChange();
    });
    void this.loadHistory(base);
  }

  private async loadHistory(base: string | URL): Promise<void> {
    const url = new URL('v1/candles', base);
    url.search = new URLSearchParams({ topic: this.topic, limit: String(HISTORY_LIMIT) }).toString();
    try {
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { candles?: unknown };
      if (!Array.isArray(body.candles)) throw new Error('no candles in the response');
      const good = body.candles.filter((c): c is Candle => isCandle(c));
      this.rejected += body.candles.length - good.length;
      if (!this.closed) this.series.addHistory(good);
    } catch (e) {
      this.historyError = (e as Error).message;
    }
    this.historyDone = true;
    if (!this.closed) this.onChange();
  }

  close(): void {
    this.closed = true;
    this.sub.unsubscribe().catch(() => {}); // a closed connection has nothing left to unsubscribe
  }
}
