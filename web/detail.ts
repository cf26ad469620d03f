/**
 * The detail panel of the selected symbol: depth ladder, depth chart and candle chart, live. It
 * owns the symbol's book and candle feeds while open (opening another symbol or closing the panel
 * unsubscribes them). Listeners only mark the panel dirty; the page's animation-frame loop calls
 * `render`, so a busy book redraws at most once per frame.
 */
import type { Stats, TickwireClient } from '../client/ts/src/index.js';
import { BookFeed } from './book-feed.js';
import { fmt } from './board-rows.js';
import type { CandleChart } from './candle-chart.js';
import { CandleFeed } from './candle-feed.js';
import { INTERVALS, type Interval } from './candles.js';
import { DepthChart } from './depth-chart.js';
import { Ladder, ladderModel } from './ladder.js';

/** Levels per side in the ladder and the depth chart (the `book.<SYMBOL>:25` view). */
export const LADDER_DEPTH = 25;
const INTERVAL_KEY = 'tickwire.board.interval';

/** The chart and its library (most of the page's code) load when a panel first opens. */
let chartModule: Promise<typeof import('./candle-chart.js')> | undefined;
const loadChart = () => (chartModule ??= import('./candle-chart.js'));

/** What the panel shows, for the browser tests (`window.__tickwire.detail`). */
export interface DetailState {
  /** The open symbol, or null when the panel is closed. */
  symbol: string | null;
  /** Ladder rows showing a level (both sides). */
  ladderRows: number;
  bestBid: number | null;
  bestAsk: number | null;
  /** Book snapshots and change sets applied, checksum-verified. */
  bookUpdates: number;
  /** Change sets whose checksum did not match the local book (each refetched). Must stay 0. */
  checksumFailures: number;
  bookStale: boolean;
  bookError: string;
  interval: Interval;
  /** Candles held, bars on the chart, live candle updates received. */
  candles: number;
  candleBars: number;
  candleUpdates: number;
  candleError: string;
  /** The 24 h change as the panel header shows it ('n/a' without statistics). */
  statsChange: string;
}

export function emptyDetail(interval: Interval): DetailState {
  return {
    symbol: null,
    ladderRows: 0,
    bestBid: null,
    bestAsk: null,
    bookUpdates: 0,
    checksumFailures: 0,
    bookStale: false,
    bookError: '',
    interval,
    candles: 0,
    candleBars: 0,
    candleUpdates: 0,
    candleError: '',
    statsChange: '',
  };
}

/** What the page knows about a symbol that the panel shows too (price precision, 24 h statistics). */
export interface SymbolInfo {
  decimals: number;
  sizeDecimals: number;
  stats?: Stats;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export class DetailPanel {
  readonly state: DetailState;
  private book: BookFeed | undefined;
  private candles: CandleFeed | undefined;
  private chart: CandleChart | undefined;
  private ladder: Ladder | undefined;
  private depth: DepthChart | undefined;
  private bookDirty = false;
  private candlesDirty = false;
  private shownVersion = -1;
  /** Bumped whenever the candle chart is replaced, so a chart that finishes loading late is dropped. */
  private chartGen = 0;
  private shownStats = '';
  /** The chart's code failed to load (e.g. a new deployment removed the chunk). */
  private chartError = '';

  constructor(
    private readonly client: TickwireClient,
    private readonly info: (symbol: string) => SymbolInfo | undefined,
    private readonly storage: Storage | undefined,
    /** Told when the panel opens or closes (the page marks the selected row). */
    private readonly onSelect: (symbol: string | null) => void,
  ) {
    const saved = storage?.getItem(INTERVAL_KEY);
    this.state = emptyDetail(INTERVALS.includes(saved as Interval) ? (saved as Interval) : '1m');
    const group = $('intervals');
    for (const iv of INTERVALS) {
      const b = group.appendChild(document.createElement('button'));
      b.type = 'button';
      b.textContent = iv;
      b.dataset.interval = iv;
      b.addEventListener('click', () => this.setInterval(iv));
    }
    $('detail-close').addEventListener('click', () => this.close());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.state.symbol !== null && !(ev.target instanceof HTMLInputElement)) this.close();
    });
    this.markInterval();
  }

  get symbol(): string | null {
    return this.state.symbol;
  }

  /** Opens `symbol` (closing whatever was open), or closes the panel when it is already open. */
  toggle(symbol: string): void {
    if (this.state.symbol === symbol) this.close();
    else this.open(symbol);
  }

  open(symbol: string): void {
    this.teardown();
    Object.assign(this.state, emptyDetail(this.state.interval), { symbol });
    $('detail-symbol').textContent = symbol;
    $('detail').hidden = false;
    this.ladder = new Ladder($('ladder'), LADDER_DEPTH);
    this.depth = new DepthChart($('depth'));
    this.book = new BookFeed(this.client, symbol, LADDER_DEPTH, {
      onChange: () => (this.bookDirty = true),
      onError: (msg) => {
        this.state.bookError = msg;
        this.bookDirty = true;
      },
    });
    this.openCandles();
    this.bookDirty = true;
    this.onSelect(symbol);
    $('detail').scrollIntoView({ block: 'nearest' });
  }

  close(): void {
    if (this.state.symbol === null) return;
    this.teardown();
    Object.assign(this.state, emptyDetail(this.state.interval));
    $('detail').hidden = true;
    this.onSelect(null);
  }

  private teardown(): void {
    this.book?.close();
    this.book = undefined;
    this.closeCandles();
    this.shownVersion = -1;
    this.shownStats = '';
  }

  private setInterval(iv: Interval): void {
    if (iv === this.state.interval) return;
    this.state.interval = iv;
    try {
      this.storage?.setItem(INTERVAL_KEY, iv);
    } catch {
      // storage full or disabled: the choice lasts for this page only
    }
    this.markInterval();
    if (this.state.symbol === null) return;
    this.closeCandles();
    this.openCandles();
  }

  private markInterval(): void {
    $('intervals')
      .querySelectorAll<HTMLButtonElement>('button')
      .forEach((b) => {
        b.setAttribute('aria-pressed', String(b.dataset.interval === this.state.interval));
      });
  }

  private openCandles(): void {
    const symbol = this.state.symbol as string;
    const interval = this.state.interval;
    const gen = ++this.chartGen;
    this.candles = new CandleFeed(this.client, symbol, interval, () => (this.candlesDirty = true));
    Object.assign(this.state, { candles: 0, candleBars: 0, candleUpdates: 0, candleError: '' });
    loadChart().then(
      ({ CandleChart }) => {
        if (gen !== this.chartGen) return; // closed or switched meanwhile
        this.chart = new CandleChart($('candles'), interval === '1s', this.info(symbol)?.decimals ?? 2);
        this.candlesDirty = true;
      },
      (e: Error) => {
        this.chartError = `chart: ${e.message}`;
        this.candlesDirty = true;
      },
    );
  }

  private closeCandles(): void {
    this.chartGen++;
    this.candles?.close();
    this.candles = undefined;
    this.chart?.destroy();
    this.chart = undefined;
  }

  /** Draws what changed since the last frame. */
  render(): void {
    const symbol = this.state.symbol;
    if (symbol === null) return;
    const info = this.info(symbol) ?? { decimals: 2, sizeDecimals: 4 };
    this.renderHeader(info);
    if (this.bookDirty && this.book) {
      this.bookDirty = false;
      this.renderBook(this.book, info);
    }
    if (this.candlesDirty && this.candles) {
      this.candlesDirty = false;
      this.chart?.render(this.candles.series);
      const c = this.candles;
      const errors = [c.streamError && `live: ${c.streamError}`, c.historyError && `history: ${c.historyError}`, this.chartError].filter(
        Boolean,
      );
      Object.assign(this.state, {
        candles: c.series.length,
        candleBars: this.chart?.bars ?? 0,
        candleUpdates: c.liveUpdates,
        candleError: errors.join('; '),
      });
      const note = $('candle-note');
      note.textContent =
        errors.length > 0
          ? `unavailable (${errors.join('; ')})`
          : !this.chart
            ? 'loading…'
            : c.series.length === 0
              ? 'waiting for trades…'
              : '';
      note.classList.toggle('warn', errors.length > 0);
    }
  }

  private renderBook(feed: BookFeed, info: SymbolInfo): void {
    const b = feed.book;
    if (b.version === this.shownVersion && this.state.bookError === '') return;
    this.shownVersion = b.version;
    const { bids, asks } = b.levels(LADDER_DEPTH);
    this.ladder!.render(ladderModel(bids, asks, LADDER_DEPTH), info.decimals, info.sizeDecimals);
    this.depth!.render(bids, asks, info.decimals, info.sizeDecimals);
    Object.assign(this.state, {
      ladderRows: this.ladder!.shownRows,
      bestBid: bids[0]?.[0] ?? null,
      bestAsk: asks[0]?.[0] ?? null,
      bookUpdates: b.applied,
      checksumFailures: b.checksumFailures,
      bookStale: b.stale,
    });
    const note = $('book-note');
    note.textContent = this.state.bookError
      ? `unavailable (${this.state.bookError})`
      : b.stale
        ? 'stale: upstream data rejected, waiting for a fresh snapshot'
        : !b.synced
          ? 'loading…'
          : `${feed.topic} · checksum ok`;
    note.classList.toggle('warn', this.state.bookError !== '' || b.stale);
  }

  private renderHeader(info: SymbolInfo): void {
    const s = info.stats;
    const d = info.decimals;
    const chg = s ? `${fmt(s.chg, d, true)} (${fmt(s.chgPct, 2, true)}%)` : 'n/a';
    const key = s ? `${chg}|${s.last}|${s.high}|${s.low}|${s.v}` : chg;
    if (key === this.shownStats) return;
    this.shownStats = key;
    this.state.statsChange = chg;
    const el = $('detail-chg');
    el.textContent = chg;
    el.className = s ? (s.chg > 0 ? 'up' : s.chg < 0 ? 'down' : '') : 'na';
    el.title = s ? '' : 'no 24 h statistics for this symbol';
    $('detail-last').textContent = s ? fmt(s.last, d) : '—';
    $('detail-high').textContent = s ? fmt(s.high, d) : '—';
    $('detail-low').textContent = s ? fmt(s.low, d) : '—';
    $('detail-vol').textContent = s ? fmt(s.v, info.sizeDecimals) : '—';
  }
}
