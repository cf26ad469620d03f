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
  return httpEndpointOf(wsUrl, 'snapshot');
}

/**
 * An HTTP endpoint next to a WebSocket URL (`ws(s)://H/v1?access_token=T` → `http(s)://H/v1/<name>`),
 * with the URL's `access_token` as `Authorization: Bearer`: what every one-shot request of the SDK uses.
 */
export function httpEndpointOf(wsUrl: string, name: string): { url: string; headers: Record<string, string> } {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  const token = u.searchParams.get('access_token');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${name}`;
  u.search = '';
  u.hash = '';
  return { url: u.toString(), headers: token ? { authorization: `Bearer ${token}` } : {} };
}

/** An error body of the gateway's HTTP endpoints (`{op: 'err', code, msg}`), or anything else that parsed. */
type ErrorBody = { code?: string; msg?: string };

/**
 * GETs `url` as JSON. Resolves with the status and parsed body; rejects with `protocol_error`
 * when the body is not JSON (a proxy's page, say).
 */
export async function getJson(
  fetch: FetchLike,
  endpoint: { url: string; headers: Record<string, string> },
  query: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown; text: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(`${endpoint.url}?${query}`, {
    headers: { accept: 'application/json', ...endpoint.headers },
    signal,
    cache: 'no-store',
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown, text };
  } catch {
    throw new TickwireError('protocol_error', `GET ${endpoint.url}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
}

/** The error of a refused request: the server's code (`unauthorized`, `bad_topic`, …) or `http_<status>`. */
export function httpError(endpointUrl: string, status: number, body: unknown, text: string, topics: readonly string[]): TickwireError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as ErrorBody;
  return new TickwireError(
    typeof b.code === 'string' ? b.code : `http_${status}`,
    `GET ${endpointUrl}: HTTP ${status}: ${typeof b.msg === 'string' ? b.msg : text.slice(0, 200)}`,
    topics,
  );
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
  const { status, body, text } = await getJson(fetch, endpoint, `topics=${topics.map(encodeURIComponent).join(',')}`, timeoutMs);
  const b = body as { snaps?: Record<string, TopicSnapshot & { op?: string }>; errors?: Snapshot['errors'] };
  if (status !== 200 || typeof b?.snaps !== 'object' || b.snaps === null) throw httpError(endpoint.url, status, body, text, topics);
  const snaps: Record<string, TopicSnapshot> = {};
  for (const [topic, s] of Object.entries(b.snaps)) {
    const { op: _op, ...snap } = s;
    snaps[topic] = snap;
  }
  return { snaps, errors: b.errors ?? {} };
}
