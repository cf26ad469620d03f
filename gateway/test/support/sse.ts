import { WAIT_MS } from './wait.js';

/**
 * A Server-Sent Events test client on Node's fetch, with its own small event-stream parser (not
 * tickwire code), so the tests check the wire as an independent client sees it.
 */
export interface SseEvent {
  event: string;
  /** The `data` field, JSON-parsed. */
  data: Record<string, any>;
  /** The `id` field when the event had one. */
  id: string | undefined;
}

export class SseTestClient {
  readonly events: SseEvent[] = [];
  /** The stream ended (server end or client close). */
  ended = false;
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly controller: AbortController,
    readonly status: number,
    readonly headers: Headers,
  ) {}

  /** Opens `/v1/sse?<query>`. Resolves once the response headers arrived (any status). */
  static async open(port: number, query: string, headers: Record<string, string> = {}): Promise<SseTestClient & { body?: string }> {
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/v1/sse?${query}`, { headers, signal: controller.signal });
    const c = new SseTestClient(controller, res.status, res.headers) as SseTestClient & { body?: string };
    if (res.status !== 200) {
      c.body = await res.text();
      c.ended = true;
      return c;
    }
    void c.read(res.body!);
    return c;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    let ev: { event: string; data: string[]; id: string | undefined } = { event: 'message', data: [], id: undefined };
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (ev.data.length) this.events.push({ event: ev.event, data: JSON.parse(ev.data.join('\n')), id: ev.id });
            ev = { event: 'message', data: [], id: undefined };
            this.wake();
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') ev.event = value;
          else if (field === 'data') ev.data.push(value);
          else if (field === 'id') ev.id = value;
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first event (from index `from`) matching `pred`. */
  async waitFor(pred: (e: SseEvent) => boolean, timeoutMs = WAIT_MS, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.events.length; i++) if (pred(this.events[i] as SseEvent)) return this.events[i] as SseEvent;
      if (this.ended) throw new Error(`stream ended while waiting; last events: ${JSON.stringify(this.events.slice(-3)).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; last events: ${JSON.stringify(this.events.slice(-3)).slice(0, 500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Woken by the end of the body (like `waitFor` by events), not by polling. */
  async waitEnded(timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the stream to end');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The snap/upd messages of one topic, as WebSocket messages (for checkTopicStream). */
  topicMessages(topic: string): Record<string, any>[] {
    return this.events.filter((e) => e.data.topic === topic).map((e) => e.data);
  }

  /** The id of the last event that had one. */
  get lastId(): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.id !== undefined) return this.events[i]!.id;
    return undefined;
  }

  close(): void {
    this.controller.abort();
  }
}
