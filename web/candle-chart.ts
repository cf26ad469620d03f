/**
 * The candle chart of the detail panel, drawn by TradingView's lightweight-charts (Apache-2.0).
 * `render` takes what changed in a CandleSeries: everything on a reset (history arrived), else
 * the incremental updates the library accepts (the newest bar changed or a new one opened).
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  CrosshairMode,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts';
import type { Candle, CandleSeries } from './candles.js';

const bar = (c: Candle) => ({ time: (c.t / 1000) as UTCTimestamp, open: c.o, high: c.h, low: c.l, close: c.c });

export class CandleChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  /** Bars the chart holds (for the page's test hooks). */
  bars = 0;

  constructor(container: HTMLElement, seconds: boolean, decimals: number) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#121a24' }, textColor: '#8b98a9', fontSize: 11, attributionLogo: true },
      grid: { vertLines: { color: '#1b2633' }, horzLines: { color: '#1b2633' } },
      rightPriceScale: { borderColor: '#233041' },
      timeScale: { borderColor: '#233041', timeVisible: true, secondsVisible: seconds },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: '#22c55e',
      downColor: '#ef4444',
      wickUpColor: '#22c55e',
      wickDownColor: '#ef4444',
      borderVisible: false,
      priceFormat: { type: 'price', precision: decimals, minMove: 10 ** -decimals },
    });
  }

  render(series: CandleSeries): void {
    const ch = series.take();
    if (ch.reset) {
      this.candles.setData(ch.candles.map(bar));
      this.bars = ch.candles.length;
      return;
    }
    for (const c of ch.updates) this.candles.update(bar(c));
    this.bars = series.length;
  }

  destroy(): void {
    this.chart.remove();
  }
}
