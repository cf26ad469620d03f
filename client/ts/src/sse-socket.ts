/**
 * The SSE fallback link (`GET /v1/sse`, docs/protocol.md "Server-Sent Events") presented to
 * {@link Connection} as a WebSocket speaking the JSON subprotocol, so that the client's protocol
 * logic (continuity checks, resume, requests) is the same on both transports.
 *
 * SSE is one-way, so the client's requests are played locally: `sub`/`unsub` reopen the stream
 * with the new topic list, resuming every topic already streamed from the position of the last
 * event passed on (and new ones from the request's `since`), and are answered by the new stream's
 * `ack`; `ping` is a round trip to `/healthz`. Runs on `fetch` with a streaming body (browsers,
 * Node ≥ 18), so the token travels in the `Authorization` header, never in the URL.
 */
import type { ClientMessage, ResumePosition, WebSocketLike } from './types.js';

/** The subset of `fetch` the SSE link uses (the global one fits). */
export type FetchLike = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal; cache: 'no-store' },
) => Promise<{
  status: number;
  body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}>;

export interface SseSocketOptions {
  /** `http(s)://HOST:PORT/v1/sse` (without query). */
  url: string;
  fetch: FetchLike;
  /** Sent with every request (e.g. `Authorization: Bearer <jwt>`). */
  headers: Record<string, string>;
}

interface Request {
  id: number;
  op: 'sub' | 'unsub';
  topics: string[];
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The fields of a server event the socket reads itself (resume positions, acks, closes); the decoder checks the rest. */
interface SseEventBody {
  topic: string;
  epoch: ResumePosition['epoch'];
  seq: number;
  data?: unknown;
  topics?: string[];
  id?: unknown;
  code?: unknown;
  reason?: string;
}

export class SseSocket implements WebSocketLike {
  readonly protocol = 'tickwire.v1.json';
  binaryType = 'arraybuffer';
  readyState = CONNECTING;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  /** The stream's topics, in order. */
  private topics: string[] = [];
  /** Where the application stands per topic: the last snap/upd passed on. */
  private readonly positions = new Map<string, ResumePosition>();
  /** Resume points from `sub` requests, for topics not streamed yet. */
  private readonly requested = new Map<string, ResumePosition>();
  /** Requests waiting for a stream to be opened, and those the current opening will answer. */
  private waiting: Request[] = [];
  private answering: Request[] = [];
  private controller: AbortController | undefined;
  /** Bumped by every (re)open: events of an older stream are dropped. */
  private generation = 0;
  private reopenQueued = false;

  constructor(private readonly opts: SseSocketOptions) {
    this.open();
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error('SSE link is not open');
    const m = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as ClientMessage;
    if (m.op === 'ping') return this.ping(m.id);
    if (m.op === 'sub') {
      for (const t of m.topics) {
        if (!this.topics.includes(t)) this.topics.push(t);
        const since = m.since?.[t];
        if (since && !this.positions.has(t)) this.requested.set(t, since);
      }
    } else {
      this.topics = this.topics.filter((t) => !m.topics.includes(t));
      for (const t of m.topics) {
        this.positions.delete(t);
        this.requested.delete(t);
      }
    }
    this.waiting.push({ id: m.id, op: m.op, topics: m.topics });
    // Requests of one task (a resubscription split in chunks) share one reopen.
    if (!this.reopenQueued) {
      this.reopenQueued = true;
      queueMicrotask(() => {
        this.reopenQueued = false;
        if (this.readyState === OPEN) this.open();
      });
    }
  }

  close(code = 1000, reason = ''): void {
    this.closed(code, reason);
  }

  /** (Re)opens the stream with the current topics and positions. */
  private open(): void {
    this.controller?.abort();
    const gen = ++this.generation;
    const controller = (this.controller = new AbortController());
    this.answering.push(...this.waiting.splice(0));
    const since: Record<string, ResumePosition> = {};
    for (const t of this.topics) {
      const p = this.positions.get(t) ?? this.requested.get(t);
      if (p) since[t] = p;
    }
    let url = `${this.opts.url}?topics=${this.topics.map(encodeURIComponent).join(',')}`;
    if (Object.keys(since).length) url += `&since=${encodeURIComponent(JSON.stringify(since))}`;
    this.opts
      .fetch(url, { headers: { accept: 'text/event-stream', ...this.opts.headers }, signal: controller.signal, cache: 'no-store' })
      .then(
        async (res) => {
          if (gen !== this.generation) return;
          if (res.status !== 200 || !res.body) return this.refused(res.status, await res.text().catch(() => ''), gen);
          if (this.readyState === CONNECTING) {
            this.readyState = OPEN;
            this.onopen?.({});
          }
          await this.read(res.body, gen);
        },
        (e: unknown) => {
          if (gen === this.generation) this.closed(1006, `SSE request failed: ${(e as Error)?.message ?? e}`);
        },
      );
  }

  /** A stream refused: topics the gateway named are answered as errors and the rest retried; anything else closes the link. */
  private refused(status: number, body: string, gen: number): void {
    let err: { op?: string; code?: string; msg?: string; topics?: string[] } | undefined;
    try {
      err = JSON.parse(body) as typeof err;
    } catch {
      // a plain-text refusal (auth, limits, origin)
    }
    const failed = err?.op === 'err' && Array.isArray(err.topics) ? err.topics : undefined;
    if (this.readyState !== OPEN || !failed || failed.length === 0 || (status !== 400 && status !== 403)) {
      return this.closed(1006, `HTTP ${status}${body ? `: ${body.trim().slice(0, 200)}` : ''}`);
    }
    this.topicErrors({ op: 'err', code: err!.code ?? 'bad_request', msg: err!.msg ?? '', topics: failed });
    if (gen === this.generation) this.open();
  }

  /** An `err` about topics: answered to the requests that asked for them, and those topics dropped. */
  private topicErrors(err: { op: 'err'; code: string; msg: string; topics: string[] }): void {
    const bad = new Set(err.topics);
    this.topics = this.topics.filter((t) => !bad.has(t));
    for (const t of bad) this.requested.delete(t);
    let told = false;
    for (const r of this.answering) {
      const mine = r.op === 'sub' ? r.topics.filter((t) => bad.has(t)) : [];
      if (mine.length === 0) continue;
      r.topics = r.topics.filter((t) => !bad.has(t));
      told = true;
      this.deliver({ ...err, id: r.id, topics: mine });
    }
    this.answering = this.answering.filter((r) => r.topics.length > 0);
    if (!told) this.deliver(err);
  }

  private async read(body: ReadableStream<Uint8Array>, gen: number): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let event = 'message';
    let data = '';
    let close: { code: number; reason: string } | undefined;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || gen !== this.generation) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0 && gen === this.generation) {
          const line = buf.charCodeAt(nl - 1) === 13 ? buf.slice(0, nl - 1) : buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (data !== '') close = this.dispatch(event, data) ?? close;
            event = 'message';
            data = '';
          } else if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line.startsWith('data: ') ? 6 : 5);
          // id: the gateway's resume id; this link resumes with explicit positions instead.
        }
      }
    } catch (e) {
      if (gen === this.generation) return this.closed(1006, `SSE stream failed: ${(e as Error)?.message ?? e}`);
    } finally {
      reader.releaseLock();
    }
    if (gen === this.generation) this.closed(close?.code ?? 1006, close?.reason ?? 'SSE stream ended');
  }

  /** One event; returns the close it announces, if any. */
  private dispatch(event: string, data: string): { code: number; reason: string } | undefined {
    let m: SseEventBody;
    try {
      m = JSON.parse(data) as SseEventBody;
    } catch {
      this.deliverRaw(data); // the decoder reports the broken frame and the link is dropped
      return undefined;
    }
    switch (event) {
      case 'snap':
        this.positions.set(m.topic, { epoch: m.epoch, seq: m.seq });
        break;
      case 'upd': {
        const p = this.positions.get(m.topic);
        if (p && Array.isArray(m.data)) this.positions.set(m.topic, { epoch: p.epoch, seq: m.seq + m.data.length - 1 });
        break;
      }
      case 'ack': {
        const accepted = new Set<string>(m.topics);
        for (const r of this.answering.splice(0)) {
          const topics = r.op === 'sub' ? r.topics.filter((t) => accepted.has(t)) : r.topics;
          if (topics.length) this.deliver({ op: 'ack', id: r.id, topics });
        }
        for (const t of accepted) this.requested.delete(t);
        return undefined;
      }
      case 'err':
        if (Array.isArray(m.topics) && m.id === undefined) {
          this.topicErrors(m as SseEventBody & { op: 'err'; code: string; msg: string; topics: string[] });
          return undefined;
        }
        break;
      case 'close':
        return { code: Number(m.code) || 1006, reason: String(m.reason ?? '') };
    }
    this.deliverRaw(data);
    return undefined;
  }

  private deliver(m: object): void {
    this.deliverRaw(JSON.stringify(m));
  }

  private deliverRaw(data: string): void {
    this.onmessage?.({ data });
  }

  private ping(id: number): void {
    const gen = this.generation;
    const controller = this.controller;
    this.opts
      .fetch(new URL('../healthz', this.opts.url).toString(), {
        headers: this.opts.headers,
        signal: (controller ?? new AbortController()).signal,
        cache: 'no-store',
      })
      .then(
        async (res) => {
          await res.text().catch(() => '');
          if (gen === this.generation && this.readyState === OPEN) this.deliver({ op: 'pong', id });
        },
        () => {},
      );
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.generation++;
    this.controller?.abort();
    this.controller = undefined;
    // Like a WebSocket, the close event comes after the call that caused it.
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

/**
 * The SSE endpoint and headers for a WebSocket URL: `ws(s)://H/v1?access_token=T` becomes
 * `http(s)://H/v1/sse` with `Authorization: Bearer T`.
 */
export function sseEndpointOf(wsUrl: string): { url: string; headers: Record<string, string> } {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  const token = u.searchParams.get('access_token');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/sse`;
  u.search = '';
  u.hash = '';
  return { url: u.toString(), headers: token ? { authorization: `Bearer ${token}` } : {} };
}
