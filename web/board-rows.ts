/**
 * The board's rows: one per symbol, its cells, and how a row is drawn from its state. The page
 * (board.ts) writes prices into a Row from the SDK's listeners and marks it dirty; the render
 * loop calls renderRow, so the DOM changes at most once per animation frame.
 */
import type { Stats } from '../client/ts/src/index.js';

const formats = new Map<string, Intl.NumberFormat>();
export function fmt(x: number | undefined, decimals: number, signed = false): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  const key = `${decimals}${signed}`;
  let f = formats.get(key);
  if (!f) {
    const opts: Intl.NumberFormatOptions = {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
      signDisplay: signed ? 'exceptZero' : 'auto',
    };
    formats.set(key, (f = new Intl.NumberFormat('en-US', opts)));
  }
  return f.format(x);
}

/** Decimals a number is quoted with (at most `max`), so a column keeps one consistent precision. */
export function decimalsOf(x: number, max = 5): number {
  const s = String(x);
  const dot = s.indexOf('.');
  return dot < 0 || s.includes('e') ? 0 : Math.min(max, s.length - dot - 1);
}

/** A price cell flashes at most this often. */
const FLASH_MIN_MS = 300;

function flash(cell: HTMLElement, up: boolean): void {
  const from = up ? 'rgba(34, 197, 94, 0.38)' : 'rgba(239, 68, 68, 0.38)';
  cell.animate([{ backgroundColor: from }, { backgroundColor: 'rgba(0, 0, 0, 0)' }], { duration: 500, easing: 'ease-out' });
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

export type StatsState = 'waiting' | 'ok' | 'unavailable';

/** A payload with the fields the change columns show. */
export function isStats(x: unknown): x is Stats {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (['last', 'open', 'high', 'low', 'chg', 'chgPct'] as const).every((k) => typeof r[k] === 'number');
}

/**
 * The change columns: the 24 h change from `stats.*` when the gateway has it; otherwise they say
 * so ("n/a", with the reason as a tooltip) rather than show a number from another baseline.
 */
export function changeCells(
  stats: Stats | undefined,
  state: StatsState,
  note: string,
  decimals: number,
): { chg: string; pct: string; dir: 'up' | 'down' | 'flat' | 'na'; title: string } {
  if (stats === undefined || state !== 'ok') {
    const title = state === 'unavailable' ? `no 24 h statistics for this symbol: ${note}` : 'waiting for 24 h statistics';
    return { chg: 'n/a', pct: 'n/a', dir: 'na', title };
  }
  const dir = stats.chg > 0 ? 'up' : stats.chg < 0 ? 'down' : 'flat';
  return {
    chg: fmt(stats.chg, decimals, true),
    pct: `${fmt(stats.chgPct, 2, true)}%`,
    dir,
    title: `24 h: open ${fmt(stats.open, decimals)}, high ${fmt(stats.high, decimals)}, low ${fmt(stats.low, decimals)}`,
  };
}

type PriceKey = 'last' | 'bid' | 'ask';
type SizeKey = 'qty' | 'bsz' | 'asz';
type CellKey = PriceKey | SizeKey | 'chg' | 'pct' | 'spread' | 'age' | 'resync';

/** A symbol's last trade (`last`, its size `qty`) and quote (`bid`/`bsz`, `ask`/`asz`); a field is absent until one arrived. */
export type RowPrices = Partial<Record<PriceKey | SizeKey, number>>;

export interface Row extends RowPrices {
  symbol: string;
  tr: HTMLTableRowElement;
  cells: Record<CellKey, HTMLElement>;
  spark: HTMLCanvasElement;
  remove: HTMLButtonElement;
  /** 24 h statistics (`stats.<SYMBOL>`): the change columns show them, and only them. */
  stats?: Stats;
  /** `waiting`: subscribed, nothing yet; `unavailable`: the gateway refused the topic (statsNote says why). */
  statsState: StatsState;
  statsNote: string;
  /** Date.now() of the last tick or quote (snapshots included): the age column. */
  updatedAt?: number;
  /** What the DOM shows, to flash only real changes. */
  shown: RowPrices;
  flashedAt: Record<PriceKey, number>;
  flashedUp: Record<PriceKey, boolean>;
  decimals: number;
  sizeDecimals: number;
  points: number[];
  resyncs: number;
  resyncNote: string;
  resyncPending: boolean;
  dirty: boolean;
}

/** Column labels, also shown inside each cell on narrow screens (the table becomes cards there). */
const LABELS: Record<string, string> = {
  last: 'Last',
  qty: 'Size',
  chg: '24h chg',
  pct: '24h %',
  bsz: 'Bid size',
  bid: 'Bid',
  ask: 'Ask',
  asz: 'Ask size',
  spread: 'Spread',
  age: 'Age',
};

/** A new row for `symbol`, inserted into `tbody` in symbol order. */
export function createRow(tbody: HTMLTableSectionElement, symbol: string): Row {
  const tr = el('tr');
  tr.dataset.symbol = symbol;
  const td = (cls: string, text = '') => {
    const cell = tr.appendChild(el('td', cls, text));
    const key = cls.split(' ').at(-1) ?? '';
    if (LABELS[key]) cell.dataset.label = LABELS[key];
    return cell;
  };
  td('sym', symbol);
  const cells = {} as Record<CellKey, HTMLElement>;
  for (const k of ['last', 'qty', 'chg', 'pct', 'bsz', 'bid', 'ask', 'asz', 'spread'] as const) cells[k] = td(`num ${k}`, '—');
  cells.age = td('num age', 'no data');
  const spark = el('canvas', 'spark');
  td('trend').appendChild(spark);
  cells.resync = el('span', 'badge resync-badge');
  cells.resync.hidden = true;
  td('flags').appendChild(cells.resync);
  const remove = el('button', 'remove', '×');
  remove.type = 'button';
  remove.title = `remove ${symbol} from the board`;
  remove.setAttribute('aria-label', `remove ${symbol}`);
  td('actions').appendChild(remove);
  const after = Array.from(tbody.querySelectorAll<HTMLTableRowElement>('tr[data-symbol]')).find(
    (r) => (r.dataset.symbol as string) > symbol,
  );
  tbody.insertBefore(tr, after ?? null);
  return {
    symbol,
    tr,
    cells,
    spark,
    remove,
    shown: {},
    flashedAt: { last: 0, bid: 0, ask: 0 },
    flashedUp: { last: false, bid: false, ask: false },
    decimals: 2,
    sizeDecimals: 0,
    points: [],
    resyncs: 0,
    resyncNote: '',
    resyncPending: false,
    statsState: 'waiting',
    statsNote: '',
    dirty: true,
  };
}

/** Draws what changed in `row` since the last call. */
export function renderRow(row: Row, now: number): void {
  row.dirty = false;
  const { cells, decimals: d } = row;
  for (const k of ['last', 'bid', 'ask'] as const) {
    const v = row[k];
    const before = row.shown[k];
    if (v === before) continue;
    cells[k].textContent = fmt(v, d);
    if (v !== undefined && before !== undefined) {
      if (k === 'last') cells.last.className = `num last ${v > before ? 'up' : 'down'}`;
      // Throttled, except that a change of direction always shows at once.
      const up = v > before;
      if (now - row.flashedAt[k] >= FLASH_MIN_MS || up !== row.flashedUp[k]) {
        row.flashedAt[k] = now;
        row.flashedUp[k] = up;
        flash(cells[k], up);
      }
    }
    row.shown[k] = v;
  }
  for (const k of ['qty', 'bsz', 'asz'] as const) {
    if (row[k] === row.shown[k]) continue;
    cells[k].textContent = fmt(row[k], row.sizeDecimals);
    row.shown[k] = row[k];
  }
  const c = changeCells(row.stats, row.statsState, row.statsNote, d);
  cells.chg.textContent = c.chg;
  cells.pct.textContent = c.pct;
  cells.chg.className = `num chg ${c.dir}`;
  cells.pct.className = `num pct ${c.dir}`;
  cells.chg.title = cells.pct.title = c.title;
  cells.spread.textContent = row.bid !== undefined && row.ask !== undefined ? fmt(row.ask - row.bid, d) : '—';
  if (row.resyncPending) {
    row.resyncPending = false;
    cells.resync.hidden = false;
    cells.resync.textContent = `resynced ×${row.resyncs}`;
    cells.resync.title = row.resyncNote;
    row.tr.animate([{ backgroundColor: 'rgba(245, 158, 11, 0.38)' }, { backgroundColor: 'rgba(0, 0, 0, 0)' }], {
      duration: 1600,
      easing: 'ease-out',
    });
  }
}
