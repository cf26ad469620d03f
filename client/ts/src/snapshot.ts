import { TickwireError } from './errors.js';
import type { FetchLike } from './sse-socket.js';
import type { Tick } from './types.js';

/** One topic's current snap, as GET /v1/snapshot answers it: continue on the stream with `since: {epoch, seq, src, off}`. */
export interface TopicSnapshot {
  topic: string;
  seq: number;
  epoch: string;
  data: Tick;
  /** Upstream position of the tick, when the gateway's source has one. */
  src?: string;
  off?: number;
}

/** The answer of {@link TickwireClient.snapshot}: snaps and per-topic errors, each keyed by topic. */
export interface Snapshot {
  snaps: Record<string, TopicSnapshot>;
  /** Topics without a snap and why: `bad_topic`, `forbidden`, `unknown_symbol`, `no_data` (no tick yet). */
  errors: Record<string, { code: string; msg: string }>;
}

/**
 * The snapshot endpoint and headers for a WebSocket URL: `ws(s)://H/v1?access_token=T` becomes
 * `http(s)://H/v1/snapshot` with `Authorization: Bearer T`.
 */
export function snapshotEndpointOf(wsUrl: string): { url: string; headers: Record<string, string> } {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  const token = u.searchParams.get('access_token');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/snapshot`;
  u.search = '';
  u.hash = '';
  return { url: u.toString(), headers: token ? { authorization: `Bearer ${token}` } : {} };
}

/**
 * GET /v1/snapshot for `topics`. A refused request (bad token, over the per-request limit)
 * rejects with a {@link TickwireError} carrying the server's code (`unauthorized`, `too_many_topics`, ...).
 */
export async function fetchSnapshot(
  fetch: FetchLike,
  endpoint: { url: string; headers: Record<string, string> },
  topics: readonly string[],
  timeoutMs: number,
): Promise<Snapshot> {
  const url = `${endpoint.url}?topics=${topics.map(encodeURIComponent).join(',')}`;
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { headers: { accept: 'application/json', ...endpoint.headers }, signal, cache: 'no-store' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new TickwireError('protocol_error', `GET ${endpoint.url}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  const b = body as { snaps?: Record<string, TopicSnapshot & { op?: string }>; errors?: Snapshot['errors']; code?: string; msg?: string };
  if (res.status !== 200 || typeof b.snaps !== 'object' || b.snaps === null) {
    throw new TickwireError(
      b.code ?? `http_${res.status}`,
      `GET ${endpoint.url}: HTTP ${res.status}: ${b.msg ?? text.slice(0, 200)}`,
      topics,
    );
  }
  const snaps: Record<string, TopicSnapshot> = {};
  for (const [topic, s] of Object.entries(b.snaps)) {
    const { op: _op, ...snap } = s;
    snaps[topic] = snap;
  }
  return { snaps, errors: b.errors ?? {} };
}
