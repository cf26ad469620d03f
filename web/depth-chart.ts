/**
 * The depth chart of the detail panel: cumulative size against price, bids left of the spread and
 * asks right of it, as two stepped areas in an SVG. `depthGeometry` is the pure part (unit-tested).
 */
import type { Level } from '../protocol/src/book.js';
import { fmt } from './board-rows.js';

export interface DepthGeometry {
  /** SVG path data of the filled areas (empty when the side has no level). */
  bid: string;
  ask: string;
  /** The price range on the x axis and the largest cumulative size on the y axis. */
  minPx: number;
  maxPx: number;
  maxCum: number;
}

const r1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/**
 * Stepped areas for levels given best first per side, in a `w` × `h` box (y grows downwards).
 * Undefined when both sides are empty (nothing to scale to).
 */
export function depthGeometry(bids: readonly Level[], asks: readonly Level[], w: number, h: number): DepthGeometry | undefined {
  if (bids.length === 0 && asks.length === 0) return undefined;
  const all = [...bids, ...asks].map((l) => l[0]);
  let minPx = Math.min(...all);
  let maxPx = Math.max(...all);
  if (minPx === maxPx) {
    minPx -= 1;
    maxPx += 1;
  }
  const sum = (ls: readonly Level[]) => ls.reduce((s, l) => s + l[1], 0);
  const maxCum = Math.max(sum(bids), sum(asks)) || 1;
  const x = (px: number) => r1(((px - minPx) / (maxPx - minPx)) * w);
  const y = (cum: number) => r1(h - (cum / maxCum) * h);
  const area = (levels: readonly Level[]): string => {
    if (levels.length === 0) return '';
    // From the touch outwards: the size steps up at each level's price and holds until the next.
    let cum = 0;
    const parts = [`M${x(levels[0]![0])},${y(0)}`];
    for (const [px, qty] of levels) {
      parts.push(`L${x(px)},${y(cum)}`);
      cum += qty;
      parts.push(`L${x(px)},${y(cum)}`);
    }
    parts.push(`L${x(levels.at(-1)![0])},${y(0)}Z`);
    return parts.join('');
  };
  return { bid: area(bids), ask: area(asks), minPx, maxPx, maxCum };
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 400;
const H = 160;

/** The chart's SVG (a fixed viewBox, scaled to its box by CSS) and its axis labels. */
export class DepthChart {
  private readonly bid: SVGPathElement;
  private readonly ask: SVGPathElement;
  private readonly labels: { lo: HTMLElement; hi: HTMLElement; max: HTMLElement };

  constructor(container: HTMLElement) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'depth chart: cumulative bid and ask size by price');
    const path = (cls: string) => {
      const p = svg.appendChild(document.createElementNS(SVG, 'path'));
      p.setAttribute('class', cls);
      p.setAttribute('vector-effect', 'non-scaling-stroke');
      return p;
    };
    this.bid = path('dbid');
    this.ask = path('dask');
    const axis = document.createElement('div');
    axis.className = 'daxis';
    const span = (cls: string) => Object.assign(axis.appendChild(document.createElement('span')), { className: cls });
    this.labels = { lo: span('dlo'), max: span('dmax'), hi: span('dhi') };
    container.replaceChildren(svg, axis);
  }

  render(bids: readonly Level[], asks: readonly Level[], decimals: number, sizeDecimals: number): void {
    const g = depthGeometry(bids, asks, W, H);
    this.bid.setAttribute('d', g?.bid ?? '');
    this.ask.setAttribute('d', g?.ask ?? '');
    this.labels.lo.textContent = g ? fmt(g.minPx, decimals) : '';
    this.labels.hi.textContent = g ? fmt(g.maxPx, decimals) : '';
    this.labels.max.textContent = g ? `max ${fmt(g.maxCum, sizeDecimals)}` : 'no levels';
  }
}
