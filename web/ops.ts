/**
 * The operator view (served at `/ops`): the gateway's own Prometheus metrics, polled every
 * second from /metrics, with rates from counter deltas. `?token=<adminToken>` is sent as a bearer
 * token when the gateway protects /metrics (metricsPublic=false).
 *
 * `window.__tickwireOps` exposes the latest values for the browser tests.
 */
import { rate, ratesByLabel, Scrape } from './prom.js';
import { COLORS, drawSparkline } from './spark.js';

const POLL_MS = 1000;
const HISTORY = 120;

export interface OpsState {
  polls: number;
  error: string | null;
  /** Latest value of every card, by card id (undefined until known; rates need two polls). */
  values: Record<string, number | undefined>;
  /** Totals by label of the labelled counters, by table id. */
  tables: Record<string, Record<string, number>>;
}

declare global {
  interface Window {
    __tickwireOps: OpsState;
  }
}

const state: OpsState = { polls: 0, error: null, values: {}, tables: {} };
window.__tickwireOps = state;

type Fmt = (v: number) => string;
const int: Fmt = (v) => Math.round(v).toLocaleString('en-US');
const perSec: Fmt = (v) => (v >= 100 ? int(v) : v.toFixed(1));
const bytes: Fmt = (v) => {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
};

interface Ctx {
  cur: Scrape;
  prev: Scrape | undefined;
}

interface Card {
  id: string;
  label: string;
  unit?: string;
  value: (c: Ctx) => number | undefined;
  format: Fmt;
  /** A line under the value. */
  sub?: (c: Ctx) => string;
  spark?: boolean;
  /** 'warn' or 'note' styling for a value. */
  level?: (v: number) => '' | 'warn' | 'note';
  hint: string;
}

const g = (name: string) => (c: Ctx) => c.cur.value(name);
const r = (name: string) => (c: Ctx) => rate(c.prev, c.cur, name);
const show = (v: number | undefined, f: Fmt) => (v === undefined ? '—' : f(v));

const CARDS: Card[] = [
  {
    id: 'connections',
    label: 'connections',
    value: g('tickwire_connections'),
    format: int,
    spark: true,
    sub: (c) => `opened ${show(r('tickwire_connections_opened_total')(c), perSec)}/s`,
    hint: 'tickwire_connections',
  },
  {
    id: 'subscriptions',
    label: 'subscriptions',
    value: g('tickwire_subscriptions'),
    format: int,
    sub: (c) => `${show(g('tickwire_topics')(c), int)} topics`,
    hint: 'tickwire_subscriptions, tickwire_topics',
  },
  {
    id: 'ticks_in',
    label: 'ticks in',
    unit: '/s',
    value: r('tickwire_ticks_in_total'),
    format: perSec,
    spark: true,
    sub: (c) => `flushed ${show(r('tickwire_ticks_flushed_total')(c), perSec)}/s`,
    hint: 'rate(tickwire_ticks_in_total)',
  },
  {
    id: 'frames_out',
    label: 'frames out',
    unit: '/s',
    value: r('tickwire_frames_out_total'),
    format: perSec,
    spark: true,
    sub: (c) =>
      `deliveries ${show(r('tickwire_deliveries_total')(c), perSec)}/s · encoded ${show(r('tickwire_frames_encoded_total')(c), perSec)}/s`,
    hint: 'rate(tickwire_frames_out_total)',
  },
  {
    id: 'bytes_out',
    label: 'bytes out',
    unit: '/s',
    value: r('tickwire_bytes_out_total'),
    format: bytes,
    spark: true,
    hint: 'rate(tickwire_bytes_out_total)',
  },
  {
    id: 'slow_consumers',
    label: 'slow consumers',
    value: g('tickwire_slow_consumers'),
    format: int,
    level: (v) => (v > 0 ? 'warn' : ''),
    sub: (c) =>
      `${show(r('tickwire_slow_consumer_events_total')(c), perSec)} conflations/s · ` +
      `${show(g('tickwire_slow_consumer_closes_total')(c), int)} closed (4008)`,
    hint: 'tickwire_slow_consumers, tickwire_slow_consumer_events_total, tickwire_slow_consumer_closes_total',
  },
  {
    id: 'resyncs',
    label: 'resyncs',
    unit: '/s',
    value: r('tickwire_resyncs_total'),
    format: perSec,
    spark: true,
    level: (v) => (v > 0 ? 'note' : ''),
    sub: (c) => `${show(g('tickwire_resyncs_total')(c), int)} total · resumes ${show(r('tickwire_resumes_total')(c), perSec)}/s`,
    hint: 'rate(tickwire_resyncs_total)',
  },
  {
    id: 'ingest_lag',
    label: 'ingest lag',
    unit: 'records',
    value: g('tickwire_ingest_lag_records'),
    format: int,
    spark: true,
    level: (v) => (v > 1000 ? 'warn' : ''),
    sub: (c) => {
      const ready = c.cur.value('tickwire_ready') === 1 ? 'ready' : 'NOT ready';
      return `source ${ready} · ${show(g('tickwire_source_outages_total')(c), int)} outages`;
    },
    hint: 'tickwire_ingest_lag_records (Kafka)',
  },
  {
    id: 'backpressure',
    label: 'buffered for slow readers',
    value: g('tickwire_backpressure_bytes'),
    format: bytes,
    sub: (c) => `${show(r('tickwire_backpressure_events_total')(c), perSec)} backpressure events/s`,
    hint: 'tickwire_backpressure_bytes',
  },
  {
    id: 'uws_native',
    label: 'uWebSockets.js',
    value: g('tickwire_uws_native'),
    format: (v) => (v === 1 ? 'native' : 'JS fallback'),
    level: (v) => (v === 1 ? '' : 'warn'),
    hint: 'tickwire_uws_native',
  },
  {
    id: 'rss',
    label: 'memory (RSS)',
    value: g('tickwire_process_resident_memory_bytes'),
    format: bytes,
    spark: true,
    sub: (c) => `heap ${show(g('tickwire_nodejs_heap_size_used_bytes')(c), bytes)}`,
    hint: 'tickwire_process_resident_memory_bytes',
  },
  {
    id: 'cpu',
    label: 'CPU',
    unit: '%',
    value: (c) => {
      const v = r('tickwire_process_cpu_seconds_total')(c);
      return v === undefined ? undefined : v * 100;
    },
    format: (v) => v.toFixed(1),
    spark: true,
    sub: (c) => `event loop p99 ${show(g('tickwire_nodejs_eventloop_lag_p99_seconds')(c), (v) => (v * 1000).toFixed(1))} ms`,
    hint: 'rate(tickwire_process_cpu_seconds_total)',
  },
];

interface Table {
  id: string;
  title: string;
  metric: string;
  label: string;
  empty: string;
}

const TABLES: Table[] = [
  {
    id: 'rejected',
    title: 'Rejected records by reason',
    metric: 'tickwire_ingest_rejected_total',
    label: 'reason',
    empty: 'no rejected records',
  },
  {
    id: 'refused',
    title: 'Upgrades refused by reason',
    metric: 'tickwire_upgrades_refused_total',
    label: 'reason',
    empty: 'no refused upgrades',
  },
  { id: 'errors', title: 'Protocol errors by code', metric: 'tickwire_errors_total', label: 'code', empty: 'no protocol errors' },
];

// --- DOM ---------------------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

const cardEls = new Map<
  string,
  { root: HTMLElement; value: HTMLElement; sub: HTMLElement; spark: HTMLCanvasElement | undefined; history: number[] }
>();
const tableEls = new Map<string, HTMLTableSectionElement>();

function build(): void {
  const grid = document.getElementById('cards') as HTMLElement;
  for (const card of CARDS) {
    const root = el('section', 'card');
    root.title = card.hint;
    root.appendChild(el('h2', '', card.label));
    const line = root.appendChild(el('div', 'value'));
    const value = line.appendChild(el('span', '', '—'));
    value.dataset.metric = card.id;
    if (card.unit) line.appendChild(el('small', '', ` ${card.unit}`));
    const sub = root.appendChild(el('div', 'sub'));
    const spark = card.spark ? root.appendChild(el('canvas', 'spark')) : undefined;
    grid.appendChild(root);
    cardEls.set(card.id, { root, value, sub, spark, history: [] });
  }
  const tables = document.getElementById('tables') as HTMLElement;
  for (const t of TABLES) {
    const section = el('section', 'card table-card');
    section.appendChild(el('h2', '', t.title));
    const table = section.appendChild(el('table', 'labels'));
    const head = table.appendChild(el('thead')).appendChild(el('tr'));
    for (const h of [t.label, 'total', 'per second']) head.appendChild(el('th', h === t.label ? '' : 'num', h));
    const body = table.appendChild(el('tbody'));
    body.dataset.table = t.id;
    tables.appendChild(section);
    tableEls.set(t.id, body);
  }
}

function render(ctx: Ctx): void {
  for (const card of CARDS) {
    const e = cardEls.get(card.id)!;
    const v = card.value(ctx);
    state.values[card.id] = v;
    e.value.textContent = show(v, card.format);
    e.root.dataset.level = v === undefined ? '' : (card.level?.(v) ?? '');
    e.sub.textContent = card.sub?.(ctx) ?? '';
    if (e.spark && v !== undefined) {
      e.history.push(v);
      if (e.history.length > HISTORY) e.history.shift();
      drawSparkline(e.spark, e.history, { color: COLORS.accent, capacity: HISTORY, zeroBased: true });
    }
  }
  for (const t of TABLES) {
    const body = tableEls.get(t.id)!;
    const totals = ctx.cur.byLabel(t.metric, t.label);
    const rates = ratesByLabel(ctx.prev, ctx.cur, t.metric, t.label);
    state.tables[t.id] = Object.fromEntries(totals);
    body.replaceChildren();
    if (totals.size === 0) {
      const tr = body.appendChild(el('tr'));
      tr.appendChild(el('td', 'empty', t.empty)).colSpan = 3;
      continue;
    }
    for (const [k, total] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
      const tr = body.appendChild(el('tr', total > 0 ? 'nonzero' : ''));
      tr.appendChild(el('td', 'key', k || '(none)'));
      tr.appendChild(el('td', 'num', int(total)));
      tr.appendChild(el('td', 'num', show(rates.get(k), perSec)));
    }
  }
}

// --- polling -----------------------------------------------------------------------------------

const token = new URLSearchParams(location.search).get('token');
let prev: Scrape | undefined;

function setStatus(ok: boolean, text: string): void {
  const s = document.getElementById('status') as HTMLElement;
  s.dataset.state = ok ? 'open' : 'reconnecting';
  (document.getElementById('status-text') as HTMLElement).textContent = text;
}

async function poll(): Promise<void> {
  const started = performance.now();
  try {
    const res = await fetch(new URL('metrics', location.href), {
      cache: 'no-store',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (res.status === 401) throw new Error('/metrics needs the admin token: open /ops?token=<adminToken>');
    if (!res.ok) throw new Error(`/metrics answered HTTP ${res.status}`);
    const cur = Scrape.parse(await res.text(), performance.now());
    if (!cur.has('tickwire_ticks_in_total')) throw new Error('/metrics has no tickwire metrics');
    render({ cur, prev });
    prev = cur;
    state.polls++;
    state.error = null;
    setStatus(true, `live · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    state.error = e instanceof Error ? e.message : String(e);
    setStatus(false, state.error.startsWith('/metrics') ? state.error : `gateway unreachable (${state.error})`);
  }
  setTimeout(() => void poll(), Math.max(0, POLL_MS - (performance.now() - started)));
}

build();
void poll();
