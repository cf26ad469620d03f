/**
 * The candle chart of the detail panel, drawn by TradingView's lightweight-charts (Apache-2.0):
 * candles with the base volume as a histogram underneath. `render` takes what changed in a
 * CandleSeries: everything on a reset (history arrived), else the incremental updates the library
 * accepts (the newest bar changed or a new one opened). Loaded on demand (see detail.ts).
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  CrosshairMode,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts';
import type { Candle } from '../client/ts/src/index.js';
import type { CandleSeries } from './candles.js';

const UP = '#22c55e';
const DOWN = '#ef4444';

/**
 * The library draws its time axis in UTC; shifting each bar by the browser's UTC offset (at that
 * bar's date) makes the axis read in local time, as the rest of the page does.
 */
const time = (t: number) => ((t - new Date(t).getTimezoneOffset() * 60_000) / 1000) as UTCTimestamp;
const candle = (c: Candle) => ({ time: time(c.t), open: c.o, high: c.h, low: c.l, close: c.c });
const volume = (c: Candle) => ({ time: time(c.t), value: c.v, color: c.c >= c.o ? 'rgba(34, 197, 94, 0.35)' : 'rgba(239, 68, 68, 0.35)' });

export class CandleChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volume: ISeriesApi<'Histogram'>;
  /** Bars the chart holds (for the page's test hooks). */
  bars = 0;

  constructor(container: HTMLElement, seconds: boolean, decimals: number) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#17212e' }, textColor: '#8b98a9', fontSize: 11 },
      grid: { vertLines: { color: '#1e2a38' }, horzLines: { color: '#1e2a38' } },
      rightPriceScale: { borderColor: '#233041' },
      timeScale: { borderColor: '#233041', timeVisible: true, secondsVisible: seconds },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      borderVisible: false,
      priceFormat: { type: 'price', precision: decimals, minMove: 10 ** -decimals },
    });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });
    // On its own scale in the bottom fifth, under the candles.
    this.volume = this.chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: '', lastValueVisible: false });
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  }

  render(series: CandleSeries): void {
    const ch = series.take();
    if (ch.reset) {
      this.candles.setData(ch.candles.map(candle));
      this.volume.setData(ch.candles.map(volume));
    } else {
      for (const c of ch.updates) {
        this.candles.update(candle(c));
        this.volume.update(volume(c));
      }
    }
    this.bars = series.length;
  }

  destroy(): void {
    this.chart.remove();
  }
}
