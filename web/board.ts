/**
 * The live market board (served at `/`): one row per symbol of the gateway, fed by the tickwire
 * TypeScript SDK in msgpack mode. Listeners only update plain state; one requestAnimationFrame
 * loop renders whatever changed, so a busy feed never floods the DOM.
 *
 * Clicking a row opens the symbol's detail panel (detail.ts: depth ladder, depth chart, candles);
 * the change columns show the gateway's 24 h statistics (`stats.<SYMBOL>`) or say there are none.
 *
 * `window.__tickwire` exposes the page's counters (status, ticks, gaps, resyncs, latency) and the
 * panel's state for the browser tests and for anyone curious in the devtools console.
 */
import {
  TickwireClient,
  type QuoteTick,
  type Status,
  type Subscription,
  type SubscriptionEvent,
  type TradeTick,
  type TransportKind,
} from '../client/ts/src/index.js';
import { createRow, decimalsOf, fmt, isStats, renderRow, type Row, type RowPrices, type StatsState } from './board-rows.js';
import { DetailPanel, emptyDetail, type DetailState } from './detail.js';
import { drawSparkline } from './spark.js';
import { formatAge, Watchlist } from './watchlist.js';

/** Ticks over which the latency median and p99 are computed. */
const LATENCY_WINDOW = 1000;
/** Sparkline: the last price every SPARK_EVERY_MS, the last SPARK_POINTS of them (30 s). */
const SPARK_POINTS = 120;
const SPARK_EVERY_MS = 250;
/** The age column turns amber past this: a symbol that stopped moving. */
const STALE_AGE_MS = 10_000;
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
  /** The symbols on the board, sorted. */
  symbols: string[];
  /** `gateway`: the board shows every symbol the gateway has; `custom`: the user's own list (saved). */
  watchlist: 'gateway' | 'custom';
  rows: Record<
    string,
    RowPrices & {
      updatedAt?: number;
      resyncs: number;
      /** 24 h statistics (`stats.<SYMBOL>`): `unavailable` when the gateway refused the topic. */
      stats: StatsState;
      /** The 24 h change and change % the row shows, when `stats` is `ok`. */
      chg24?: number;
      chgPct24?: number;
    }
  >;
  /** The detail panel (depth ladder, depth chart, candles) of the selected symbol. */
  detail: DetailState;
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
  watchlist: 'gateway',
  rows: {},
  detail: emptyDetail('1m'),
};
window.__tickwire = state;

// --- helpers ---------------------------------------------------------------------------------

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

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

interface Watched {
  row: Row;
  subs: Subscription[];
}
const rows = new Map<string, Watched>();
const tbody = (): HTMLTableSectionElement => $<HTMLTableSectionElement>('rows');
const watchlist = new Watchlist(storage());
/** Every symbol the gateway has data for (GET /v1/topics), for discovery and the add box. */
const discovered = new Set<string>();

function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined; // disabled (privacy mode, sandboxed frame): the board still works, unsaved
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

/** The selected symbol's panel; it reads precision and statistics from the symbol's row. */
const detail = new DetailPanel(
  client,
  (symbol) => {
    const row = rows.get(symbol)?.row;
    return row && { decimals: row.decimals, sizeDecimals: Math.max(row.sizeDecimals, 2), stats: row.stats };
  },
  storage(),
  (symbol) => {
    for (const { row } of rows.values()) {
      row.tr.classList.toggle('selected', row.symbol === symbol);
      row.tr.setAttribute('aria-selected', String(row.symbol === symbol));
    }
  },
);
state.detail = detail.state;

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
  row.updatedAt = state.rows[row.symbol]!.updatedAt = Date.now();
  row.dirty = true;
  return ev.tick;
}

function watch(symbol: string): void {
  const row = createRow(tbody(), symbol);
  const info = (state.rows[symbol] = { resyncs: 0, stats: 'waiting' } as BoardState['rows'][string]);
  row.tr.tabIndex = 0;
  row.tr.addEventListener('click', (ev) => {
    if (!(ev.target as HTMLElement).closest('button')) detail.toggle(symbol);
  });
  row.tr.addEventListener('keydown', (ev) => {
    if (ev.target === row.tr && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      detail.toggle(symbol);
    }
  });
  row.remove.addEventListener('click', () => {
    watchlist.remove(symbol, state.symbols);
    sync();
  });
  const trade = client.subscribe(`trade.${symbol}`, (ev) => {
    const t = onEvent(row, ev);
    if (!t) return;
    row.last = info.last = t.px;
    row.qty = info.qty = t.qty;
    row.decimals = Math.max(row.decimals, decimalsOf(t.px));
    row.sizeDecimals = Math.max(row.sizeDecimals, decimalsOf(t.qty, 4));
  });
  const quote = client.subscribe(`quote.${symbol}`, (ev) => {
    const q = onEvent(row, ev);
    if (!q) return;
    row.bid = info.bid = q.bid;
    row.ask = info.ask = q.ask;
    row.bsz = info.bsz = q.bsz;
    row.asz = info.asz = q.asz;
    row.decimals = Math.max(row.decimals, decimalsOf(q.bid), decimalsOf(q.ask));
    row.sizeDecimals = Math.max(row.sizeDecimals, decimalsOf(q.bsz, 4), decimalsOf(q.asz, 4));
  });
  // Statistics are not part of the tick counters and continuity check above: one message a second.
  const stats = client.subscribe(`stats.${symbol}`, (ev) => {
    if (ev.type !== 'snap' && ev.type !== 'tick' && ev.type !== 'resync') return;
    if (!isStats(ev.tick)) return;
    row.stats = ev.tick;
    row.statsState = info.stats = 'ok';
    info.chg24 = ev.tick.chg;
    info.chgPct24 = ev.tick.chgPct;
    row.dirty = true;
  });
  // A gateway without 24 h statistics refuses the topic: the change columns say so.
  stats.ready.catch((e: Error) => {
    row.statsState = info.stats = 'unavailable';
    row.statsNote = `${stats.topic}: ${e.message}`;
    row.dirty = true;
  });
  for (const sub of [trade, quote]) sub.ready.catch((e: Error) => showError(`${sub.topic}: ${e.message}`));
  rows.set(symbol, { row, subs: [trade, quote, stats] as Subscription[] });
}

function unwatch(symbol: string): void {
  const w = rows.get(symbol);
  if (!w) return;
  rows.delete(symbol);
  delete state.rows[symbol];
  if (detail.symbol === symbol) detail.close();
  w.row.tr.remove();
  for (const sub of w.subs) {
    lastSeq.delete(sub.topic);
    sub.unsubscribe().catch(() => {}); // a closed connection has nothing left to unsubscribe
  }
}

/** Makes the rows match the watchlist: what the user chose, or everything the gateway has. */
function sync(): void {
  const want = watchlist.symbols([...discovered]);
  for (const s of [...rows.keys()]) if (!want.includes(s)) unwatch(s);
  for (const s of want) if (!rows.has(s)) watch(s);
  state.symbols = want;
  state.watchlist = watchlist.isCustom ? 'custom' : 'gateway';
  $('empty').hidden = want.length > 0;
  $('empty-text').textContent = watchlist.isCustom ? 'no symbols: add one above, or show all' : 'waiting for topics…';
  $('show-all').hidden = !watchlist.isCustom;
  const list = $('symbol-list');
  list.replaceChildren(
    ...[...discovered]
      .filter((s) => !rows.has(s))
      .sort()
      .map((s) => Object.assign(document.createElement('option'), { value: s })),
  );
}

function showError(text: string): void {
  const e = $('add-error');
  e.textContent = text;
  e.hidden = text === '';
}

function setUpAddForm(): void {
  const form = $<HTMLFormElement>('add-form');
  const input = $<HTMLInputElement>('add-symbol');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = watchlist.add(input.value, state.symbols);
    if (!r.ok) return showError(r.reason);
    showError('');
    input.value = '';
    sync();
  });
  input.addEventListener('input', () => showError(''));
  $('show-all').addEventListener('click', () => {
    watchlist.reset();
    sync();
  });
}

/** Symbols from GET /v1/topics (every `trade.X` / `quote.X` with data). */
async function discover(): Promise<void> {
  let next = TOPICS_POLL_MS;
  try {
    const res = await fetch(new URL('v1/topics', location.href), { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { topics: { topic: string }[] };
    for (const t of body.topics) {
      const s = /^(?:trade|quote)\.([^@]+)$/.exec(t.topic)?.[1];
      if (s) discovered.add(s);
    }
    sync();
    if (discovered.size === 0) next = TOPICS_RETRY_MS;
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
  if (s.state === 'open') detail = state.subprotocol = s.subprotocol;
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

/** The age column, from the wall clock (Date.now(), as the rows' updatedAt). */
function renderAges(): void {
  const wall = Date.now();
  for (const { row } of rows.values()) {
    const age = row.updatedAt === undefined ? undefined : wall - row.updatedAt;
    row.cells.age.textContent = age === undefined ? 'no data' : formatAge(age);
    row.cells.age.classList.toggle('stale-age', age === undefined || age > STALE_AGE_MS);
  }
}

function frame(now: number): void {
  for (const { row } of rows.values()) if (row.dirty) renderRow(row, now);
  detail.render();
  // The trend samples only while live: a reconnect shows as a pause, not as a flat line.
  if (now - lastSpark >= SPARK_EVERY_MS && state.status === 'open') {
    lastSpark = now;
    for (const { row } of rows.values()) {
      if (row.last === undefined) continue;
      row.points.push(row.last);
      if (row.points.length > SPARK_POINTS) row.points.shift();
      drawSparkline(row.spark, row.points);
    }
  }
  if (now - lastHeader >= 250) {
    lastHeader = now;
    renderHeader(now);
    renderAges();
  }
  requestAnimationFrame(frame);
}

setUpAddForm();
sync();
void client.connect();
void discover();
requestAnimationFrame(frame);
