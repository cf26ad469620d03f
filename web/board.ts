/**
 * The live market board (served at `/`): one row per symbol of the gateway, fed by the tickwire
 * TypeScript SDK in msgpack mode. Listeners only update plain state; one requestAnimationFrame
 * loop renders whatever changed, so a busy feed never floods the DOM.
 *
 * `window.__tickwire` exposes the page's counters (status, ticks, gaps, resyncs, latency) for
 * the browser tests and for anyone curious in the devtools console.
 */
import { TickwireClient, type QuoteTick, type Status, type SubscriptionEvent, type TradeTick, type TransportKind } from '../client/ts/src/index.js';
import { drawSparkline } from './spark.js';

/** Ticks over which the latency median and p99 are computed. */
const LATENCY_WINDOW = 1000;
/** Sparkline: the last price every SPARK_EVERY_MS, the last SPARK_POINTS of them (30 s). */
const SPARK_POINTS = 120;
const SPARK_EVERY_MS = 250;
/** A price cell flashes at most this often. */
const FLASH_MIN_MS = 300;
const TOPICS_POLL_MS = 15_000;
const TOPICS_RETRY_MS = 2_000;
const PING_EVERY_MS = 5_000;

export interface BoardState {
  status: Status['state'];
  /** Every status the page went through, in order (consecutive repeats folded). */
  statusHistory: string[];
  subprotocol: string;
  /** The link in use (or being opened): `websocket`, or `sse` when the SDK fell back to Server-Sent Events. */
  transport: TransportKind | '';
  /** Live ticks received (snapshots excluded). */
  ticks: number;
  /** Sequence gaps the SDK reported (a correct gateway never causes one). */
  gaps: number;
  /** Resync events: the stream restarted from a snapshot (gateway restart, failed resume, conflation). */
  resyncs: number;
  /** The page's own check of the SDK: a `tick` whose seq is not the previous + 1. Must stay 0. */
  breaks: number;
  /** End-to-end latency (browser clock − tick.ts) over the last LATENCY_WINDOW ticks, ms. */
  latency: { p50: number | null; p99: number | null; samples: number };
  rttMs: number | null;
  symbols: string[];
  rows: Record<string, { last?: number; bid?: number; ask?: number; resyncs: number }>;
}

declare global {
  interface Window {
    __tickwire: BoardState;
  }
}

const state: BoardState = {
  status: 'idle',
  statusHistory: [],
  subprotocol: '',
  transport: '',
  ticks: 0,
  gaps: 0,
  resyncs: 0,
  breaks: 0,
  latency: { p50: null, p99: null, samples: 0 },
  rttMs: null,
  symbols: [],
  rows: {},
};
window.__tickwire = state;

// --- helpers ---------------------------------------------------------------------------------

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

const formats = new Map<string, Intl.NumberFormat>();
function fmt(x: number | undefined, decimals: number, signed = false): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  const key = `${decimals}${signed}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals, signDisplay: signed ? 'exceptZero' : 'auto' })));
  return f.format(x);
}

/** Decimals a price is quoted with (at most 5), so a row keeps one consistent precision. */
function decimalsOf(x: number): number {
  const s = String(x);
  const dot = s.indexOf('.');
  return dot < 0 || s.includes('e') ? 0 : Math.min(5, s.length - dot - 1);
}

function flash(cell: HTMLElement, up: boolean): void {
  cell.animate([{ backgroundColor: up ? 'rgba(34, 197, 94, 0.38)' : 'rgba(239, 68, 68, 0.38)' }, { backgroundColor: 'rgba(0, 0, 0, 0)' }], { duration: 500, easing: 'ease-out' });
}

/** A ring of the last `size` numbers, with percentiles. */
class Ring {
  private readonly buf: Float64Array;
  private n = 0;
  private i = 0;
  constructor(size: number) {
    this.buf = new Float64Array(size);
  }
  push(v: number): void {
    this.buf[this.i] = v;
    this.i = (this.i + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }
  get size(): number {
    return this.n;
  }
  percentiles(...ps: number[]): number[] {
    const sorted = this.buf.slice(0, this.n).sort();
    return ps.map((p) => sorted[Math.min(this.n - 1, Math.floor(p * this.n))] ?? NaN);
  }
}

// --- rows ------------------------------------------------------------------------------------

interface Row {
  symbol: string;
  tr: HTMLTableRowElement;
  cells: { last: HTMLElement; chg: HTMLElement; pct: HTMLElement; bid: HTMLElement; ask: HTMLElement; spread: HTMLElement; resync: HTMLElement };
  spark: HTMLCanvasElement;
  first?: number;
  last?: number;
  bid?: number;
  ask?: number;
  /** What the DOM shows, to flash only real changes. */
  shown: { last?: number; bid?: number; ask?: number };
  flashedAt: { last: number; bid: number; ask: number };
  flashedUp: { last: boolean; bid: boolean; ask: boolean };
  decimals: number;
  points: number[];
  resyncs: number;
  resyncNote: string;
  resyncPending: boolean;
  dirty: boolean;
}

const rows = new Map<string, Row>();
const tbody = (): HTMLTableSectionElement => $('rows') as HTMLTableSectionElement;

function addRow(symbol: string): Row {
  const tr = el('tr');
  tr.dataset.symbol = symbol;
  const td = (cls: string, text = '') => tr.appendChild(el('td', cls, text));
  td('sym', symbol);
  const last = td('num last', '—');
  const chg = td('num chg', '—');
  const pct = td('num pct', '—');
  const bid = td('num bid', '—');
  const ask = td('num ask', '—');
  const spread = td('num spread', '—');
  const spark = el('canvas', 'spark');
  td('trend').appendChild(spark);
  const resync = el('span', 'badge resync-badge');
  resync.hidden = true;
  td('flags').appendChild(resync);
  const row: Row = {
    symbol,
    tr,
    cells: { last, chg, pct, bid, ask, spread, resync },
    spark,
    shown: {},
    flashedAt: { last: 0, bid: 0, ask: 0 },
    flashedUp: { last: false, bid: false, ask: false },
    decimals: 2,
    points: [],
    resyncs: 0,
    resyncNote: '',
    resyncPending: false,
    dirty: true,
  };
  rows.set(symbol, row);
  state.rows[symbol] = { resyncs: 0 };
  // Keep the table sorted by symbol.
  const after = Array.from(tbody().querySelectorAll<HTMLTableRowElement>('tr[data-symbol]')).find((r) => (r.dataset.symbol as string) > symbol);
  tbody().insertBefore(tr, after ?? null);
  $('empty').hidden = true;
  return row;
}

function renderRow(row: Row, now: number): void {
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
  if (row.last !== undefined && row.first !== undefined) {
    const change = row.last - row.first;
    const dir = change > 0 ? 'up' : change < 0 ? 'down' : 'flat';
    cells.chg.textContent = fmt(change, d, true);
    cells.pct.textContent = `${fmt((change / row.first) * 100, 2, true)}%`;
    cells.chg.className = `num chg ${dir}`;
    cells.pct.className = `num pct ${dir}`;
  }
  cells.spread.textContent = row.bid !== undefined && row.ask !== undefined ? fmt(row.ask - row.bid, d) : '—';
  if (row.resyncPending) {
    row.resyncPending = false;
    cells.resync.hidden = false;
    cells.resync.textContent = `resynced ×${row.resyncs}`;
    cells.resync.title = row.resyncNote;
    row.tr.animate([{ backgroundColor: 'rgba(245, 158, 11, 0.38)' }, { backgroundColor: 'rgba(0, 0, 0, 0)' }], { duration: 1600, easing: 'ease-out' });
  }
}

// --- the client --------------------------------------------------------------------------------

function wsUrl(): string {
  const u = new URL('v1', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  const token = new URLSearchParams(location.search).get('access_token');
  if (token) u.searchParams.set('access_token', token);
  return u.toString();
}

const client = new TickwireClient({
  url: wsUrl(),
  format: 'msgpack',
  WebSocket: globalThis.WebSocket,
  // transport 'auto' (the default): falls back to SSE when WebSocket cannot connect, and back.
  // A live board should not wait 30 s for a gateway that is back.
  reconnect: { maxDelayMs: 5_000 },
});

const latency = new Ring(LATENCY_WINDOW);
/** Last seq per topic, for the page's own continuity check. */
const lastSeq = new Map<string, number>();

/** Bookkeeping common to both kinds of topic; returns the tick to apply, if any. */
function onEvent<T extends TradeTick | QuoteTick>(row: Row, ev: SubscriptionEvent<T>): T | undefined {
  if (ev.type === 'gap') {
    state.gaps++;
    return undefined;
  }
  if (ev.type === 'moved') {
    // Same stream on another instance, renumbered: the continuity check follows the new seq.
    lastSeq.set(ev.topic, ev.seq);
    return undefined;
  }
  if (ev.type === 'tick') {
    const prev = lastSeq.get(ev.topic);
    if (prev !== undefined && ev.seq !== prev + 1) state.breaks++;
    state.ticks++;
    latency.push(Date.now() - ev.tick.ts);
  } else if (ev.type === 'resync') {
    state.resyncs++;
    row.resyncs++;
    state.rows[row.symbol]!.resyncs = row.resyncs;
    row.resyncNote = `${ev.topic} resynced (${ev.reason}) at ${new Date().toLocaleTimeString()}: ${row.resyncs}× since the page loaded`;
    row.resyncPending = true;
  }
  lastSeq.set(ev.topic, ev.seq);
  row.dirty = true;
  return ev.tick;
}

function subscribe(symbol: string): void {
  const row = addRow(symbol);
  const info = state.rows[symbol]!;
  client.subscribe(`trade.${symbol}`, (ev) => {
    const t = onEvent(row, ev);
    if (!t) return;
    row.last = info.last = t.px;
    row.first ??= t.px;
    row.decimals = Math.max(row.decimals, decimalsOf(t.px));
  }).ready.catch((e: Error) => console.warn(`trade.${symbol}:`, e.message));
  client.subscribe(`quote.${symbol}`, (ev) => {
    const q = onEvent(row, ev);
    if (!q) return;
    row.bid = info.bid = q.bid;
    row.ask = info.ask = q.ask;
    row.decimals = Math.max(row.decimals, decimalsOf(q.bid), decimalsOf(q.ask));
  }).ready.catch((e: Error) => console.warn(`quote.${symbol}:`, e.message));
}

/** Symbols from GET /v1/topics (every `trade.X` / `quote.X` with data); new ones get a row. */
async function discover(): Promise<void> {
  let next = TOPICS_POLL_MS;
  try {
    const res = await fetch(new URL('v1/topics', location.href), { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { topics: { topic: string }[] };
    const found = new Set(body.topics.map((t) => /^(?:trade|quote)\.([^@]+)$/.exec(t.topic)?.[1]).filter((s): s is string => !!s));
    for (const s of [...found].sort()) {
      if (rows.has(s)) continue;
      state.symbols.push(s);
      subscribe(s);
    }
    if (rows.size === 0) next = TOPICS_RETRY_MS;
  } catch {
    next = TOPICS_RETRY_MS; // the gateway is restarting; the SDK reconnects by itself
  }
  setTimeout(() => void discover(), next);
}

function statusChanged(s: Status): void {
  state.status = s.state;
  if (state.statusHistory.at(-1) !== s.state) state.statusHistory.push(s.state);
  const pill = $('status');
  pill.dataset.state = s.state;
  $('status-text').textContent = s.state;
  // Which link carries the data: WebSocket, or SSE when a proxy blocks WebSocket ("open · sse").
  state.transport = s.state === 'open' || s.state === 'connecting' ? s.transport : '';
  pill.dataset.transport = state.transport;
  $('status-transport').textContent = state.transport;
  let detail = '';
  if (s.state === 'open') detail = (state.subprotocol = s.subprotocol);
  else if (s.state === 'reconnecting') detail = `attempt ${s.attempt}, retry in ${(s.delayMs / 1000).toFixed(1)} s · ${s.reason}`;
  else if (s.state === 'closed') detail = `${s.code} ${s.reason}`;
  $('status-detail').textContent = detail;
  document.body.classList.toggle('stale', s.state !== 'open');
}

client.onStatus(statusChanged);
client.onError((e) => console.warn('tickwire:', e.code, e.message));
statusChanged(client.status.current);

function ping(): void {
  if (client.status.current.state !== 'open') return;
  client.ping().then(
    (ms) => (state.rttMs = ms),
    () => {},
  );
}
client.onStatus((s) => s.state === 'open' && ping());
setInterval(ping, PING_EVERY_MS);

// --- render loop -------------------------------------------------------------------------------

let lastSpark = 0;
let lastHeader = 0;
let rateAt = performance.now();
let rateTicks = 0;

function renderHeader(now: number): void {
  if (latency.size > 0) {
    const [p50, p99] = latency.percentiles(0.5, 0.99) as [number, number];
    state.latency = { p50, p99, samples: latency.size };
    $('lat-p50').textContent = p50.toFixed(1);
    $('lat-p99').textContent = p99.toFixed(1);
  }
  if (now - rateAt >= 1000) {
    $('rate').textContent = fmt(((state.ticks - rateTicks) * 1000) / (now - rateAt), 0);
    rateAt = now;
    rateTicks = state.ticks;
  }
  $('rtt').textContent = state.rttMs === null ? '—' : state.rttMs.toFixed(1);
  $('gaps').textContent = String(state.gaps + state.breaks);
  $('gaps').parentElement!.classList.toggle('warn', state.gaps + state.breaks > 0);
  $('resyncs').textContent = String(state.resyncs);
  $('resyncs').parentElement!.classList.toggle('note', state.resyncs > 0);
}

function frame(now: number): void {
  for (const row of rows.values()) if (row.dirty) renderRow(row, now);
  // The trend samples only while live: a reconnect shows as a pause, not as a flat line.
  if (now - lastSpark >= SPARK_EVERY_MS && state.status === 'open') {
    lastSpark = now;
    for (const row of rows.values()) {
      if (row.last === undefined) continue;
      row.points.push(row.last);
      if (row.points.length > SPARK_POINTS) row.points.shift();
      drawSparkline(row.spark, row.points);
    }
  }
  if (now - lastHeader >= 250) {
    lastHeader = now;
    renderHeader(now);
  }
  requestAnimationFrame(frame);
}

void client.connect();
void discover();
requestAnimationFrame(frame);
