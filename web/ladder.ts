/**
 * The depth ladder of the detail panel: asks above bids with the spread in between, each level
 * with its size and the cumulative size from the touch, drawn as a bar. `ladderModel` is the pure
 * part (unit-tested); `Ladder` keeps a fixed pool of rows and rewrites only their text and bars.
 */
import type { Level } from '../protocol/src/book.js';
import { fmt } from './board-rows.js';

export interface LadderLevel {
  px: number;
  qty: number;
  /** Size from the best level of the side up to and including this one. */
  cum: number;
  /** cum relative to the larger side's total over the shown levels, 0..1: the bar's width. */
  frac: number;
}

export interface LadderModel {
  /** Asks as displayed top to bottom: the worst shown ask first, the best ask last (next to the spread). */
  asks: LadderLevel[];
  /** Bids best first (the best bid next to the spread). */
  bids: LadderLevel[];
  /** Best ask − best bid, when both sides have a level. */
  spread?: number;
  /** Spread in basis points of the mid. */
  spreadBps?: number;
}

function cumulative(levels: readonly Level[], depth: number): LadderLevel[] {
  let cum = 0;
  return levels.slice(0, depth).map(([px, qty]) => ({ px, qty, cum: (cum += qty), frac: 0 }));
}

/** The ladder for levels given best first per side, `depth` levels per side at most. */
export function ladderModel(bids: readonly Level[], asks: readonly Level[], depth: number): LadderModel {
  const b = cumulative(bids, depth);
  const a = cumulative(asks, depth);
  // One scale for both sides, so bar lengths compare across the spread.
  const max = Math.max(b.at(-1)?.cum ?? 0, a.at(-1)?.cum ?? 0);
  for (const l of [...a, ...b]) l.frac = max > 0 ? l.cum / max : 0;
  const model: LadderModel = { asks: a.reverse(), bids: b };
  const bestBid = bids[0]?.[0];
  const bestAsk = asks[0]?.[0];
  if (bestBid !== undefined && bestAsk !== undefined) {
    model.spread = bestAsk - bestBid;
    model.spreadBps = (model.spread / ((bestAsk + bestBid) / 2)) * 10_000;
  }
  return model;
}

interface RowEls {
  tr: HTMLElement;
  px: HTMLElement;
  qty: HTMLElement;
  cum: HTMLElement;
  bar: HTMLElement;
}

function row(side: 'bid' | 'ask'): RowEls {
  const tr = document.createElement('div');
  tr.className = `lrow ${side}`;
  const bar = tr.appendChild(document.createElement('span'));
  bar.className = 'lbar';
  const cell = (cls: string) => {
    const c = tr.appendChild(document.createElement('span'));
    c.className = cls;
    return c;
  };
  return { tr, bar, px: cell('lpx'), qty: cell('lqty'), cum: cell('lcum') };
}

/**
 * The ladder's DOM, created once: `depth` ask rows, the spread line, `depth` bid rows. Each side
 * scrolls on its own; the asks are laid out bottom-up (best ask next to the spread) so that a
 * short box shows the levels around the spread first.
 */
export class Ladder {
  /** Ask rows best first (the box shows them reversed), bid rows best first. */
  private readonly asks: RowEls[] = [];
  private readonly bids: RowEls[] = [];
  private readonly spread: HTMLElement;
  /** Rows showing a level after the last render (both sides). */
  shownRows = 0;

  constructor(
    container: HTMLElement,
    private readonly depth: number,
  ) {
    const head = document.createElement('div');
    head.className = 'lrow lhead';
    for (const t of ['Price', 'Size', 'Total']) head.appendChild(document.createElement('span')).textContent = t;
    const side = (cls: string, rows: RowEls[]) => {
      const box = document.createElement('div');
      box.className = `lside ${cls}`;
      box.append(...rows.map((r) => r.tr));
      return box;
    };
    for (let i = 0; i < depth; i++) this.asks.push(row('ask'));
    for (let i = 0; i < depth; i++) this.bids.push(row('bid'));
    this.spread = document.createElement('div');
    this.spread.className = 'lspread';
    container.replaceChildren(head, side('lasks', this.asks), this.spread, side('lbids', this.bids));
  }

  render(m: LadderModel, decimals: number, sizeDecimals: number): void {
    const n = m.asks.length;
    this.asks.forEach((r, i) => fill(r, m.asks[n - 1 - i], decimals, sizeDecimals));
    this.bids.forEach((r, i) => fill(r, m.bids[i], decimals, sizeDecimals));
    this.spread.textContent = m.spread === undefined ? 'spread —' : `spread ${fmt(m.spread, decimals)} · ${fmt(m.spreadBps, 2)} bps`;
    this.shownRows = m.asks.length + m.bids.length;
  }
}

function fill(r: RowEls, l: LadderLevel | undefined, d: number, sd: number): void {
  r.tr.hidden = l === undefined;
  r.px.textContent = l ? fmt(l.px, d) : '';
  r.qty.textContent = l ? fmt(l.qty, sd) : '';
  r.cum.textContent = l ? fmt(l.cum, sd) : '';
  r.bar.style.width = l ? `${(l.frac * 100).toFixed(1)}%` : '0';
}
