import { decode } from '@msgpack/msgpack';
import { referenceExpand } from '../../../protocol/test/support/compact-reference.js';
import { inflateRawSync } from 'node:zlib';
import { inflateCompactFrame } from '../../src/codecs.js';
import WebSocket from 'ws';
import { WAIT_MS, waitFor } from './wait.js';

/**
 * A protocol-v1 test client built only on `ws` and a standard msgpack decoder (not on any
 * tickwire code), so the tests check the wire as an independent client sees it.
 */
export type Msg = Record<string, any>;

export class TestClient {
  readonly messages: Msg[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: Array<() => void> = [];
  /** Wire bytes received (after permessage-deflate, before tickwire's own framing). */
  bytes = 0;
  private constructor(
    readonly ws: WebSocket,
    readonly format: 'msgpack' | 'json' | 'msgpack+deflate' | 'msgpack-compact' | 'msgpack-compact+deflate',
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.bytes += data.length;
      if (format === 'msgpack+deflate') {
        // Shared-deflate framing (docs/protocol.md): flag byte, then msgpack or deflate-raw(msgpack).
        if (data[0] === 0x01) data = inflateRawSync(data.subarray(1));
        else if (data[0] === 0x00) data = data.subarray(1);
        else throw new Error(`bad flag byte ${data[0]}`);
      }
      // Compact with shared deflate: flag byte 0x00 (stored) or the number of the preset dictionary it was deflated with.
      if (format === 'msgpack-compact+deflate') data = Buffer.from(inflateCompactFrame(data));
      let msg = (isBinary ? decode(data) : JSON.parse(data.toString('utf8'))) as Msg;
      if (format.startsWith('msgpack-compact') && Array.isArray(msg.data) && typeof msg.data[0] === 'number') {
        // Compact columns (docs/protocol.md): expanded by the protocol's reference decoder; the scales kept for assertions.
        const scales = msg.data.slice(0, 2);
        msg = referenceExpand(msg) as Msg;
        msg.__scales = scales;
      }
      msg.__binary = isBinary;
      this.messages.push(msg);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  static connect(
    port: number,
    opts: {
      protocols?: string[];
      path?: string;
      perMessageDeflate?: boolean;
      headers?: Record<string, string>;
      localAddress?: string;
    } = {},
  ): Promise<TestClient> {
    // msgpack unless told otherwise, offered explicitly: a client that offers nothing gets JSON.
    const protocols = opts.protocols ?? ['tickwire.v1.msgpack'];
    const first = protocols[0];
    const format =
      first === undefined || first === 'tickwire.v1.json'
        ? 'json'
        : first === 'tickwire.v1.msgpack+deflate'
          ? 'msgpack+deflate'
          : first === 'tickwire.v1.msgpack-compact'
            ? 'msgpack-compact'
            : first === 'tickwire.v1.msgpack-compact+deflate.d1'
              ? 'msgpack-compact+deflate'
              : 'msgpack';
    const ws = new WebSocket(`ws://127.0.0.1:${port}${opts.path ?? '/v1'}`, protocols, {
      perMessageDeflate: opts.perMessageDeflate ?? false,
      ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TestClient(ws, format)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Stops reading from the socket (a stalled client); `resume` reads again. */
  pause(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  resume(): void {
    (this.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  /** Sends a message in the connection's encoding (or raw bytes/text as given). */
  send(msg: unknown): void {
    if (typeof msg === 'string' || Buffer.isBuffer(msg)) this.ws.send(msg);
    else if (this.format === 'json') this.ws.send(JSON.stringify(msg));
    else this.ws.send(encodeMsgpack(msg), { binary: true });
  }

  /** Resolves with the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: Msg) => boolean, timeoutMs = WAIT_MS, from = 0): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.messages.length; i++) if (pred(this.messages[i] as Msg)) return this.messages[i] as Msg;
      if (this.closeCode !== undefined) throw new Error(`connection closed (${this.closeCode} ${this.closeReason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; last messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitUntil(cond: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    await waitFor(cond, { what: 'condition', timeoutMs, intervalMs: 10 });
  }

  waitClosed(timeoutMs = WAIT_MS): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.ws.once('close', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }

  private pings = 0;
  /**
   * A ping/pong round trip, the barrier for "nothing (more) arrives" checks: a frame the gateway
   * sent before it handled the ping arrives before the pong, on the same ordered connection.
   */
  async roundTrip(timeoutMs = WAIT_MS): Promise<Msg> {
    const id = 900_000_000 + ++this.pings;
    const from = this.messages.length;
    this.send({ op: 'ping', id });
    return this.waitFor((m) => m.op === 'pong' && m.id === id, timeoutMs, from);
  }

  /** All messages about one topic, in arrival order. */
  topicMessages(topic: string): Msg[] {
    return this.messages.filter((m) => m.topic === topic);
  }
}

import { encode } from '@msgpack/msgpack';
export function encodeMsgpack(v: unknown): Buffer {
  const u = encode(v);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Checks the v1 stream invariant for one topic: first a snap, then upd frames whose seq continue
 * exactly from the previous message (snap seq + 1, then + data.length each). Returns the number
 * of ticks seen after the snap. Throws describing the first violation.
 */
export function checkTopicStream(msgs: Msg[], opts: { allowResync?: boolean } = {}): number {
  if (msgs.length === 0) return 0;
  const first = msgs[0] as Msg;
  if (first.op !== 'snap') throw new Error(`first message of ${first.topic} is ${first.op}, not snap`);
  let next = first.seq + 1;
  let ticks = 0;
  for (const m of msgs.slice(1)) {
    if (m.op === 'snap' && m.resync === true && opts.allowResync) {
      // An explicitly flagged reset: continuity restarts from here.
      if (m.seq < next - 1) throw new Error(`resync snap on ${m.topic} went back from ${next - 1} to ${m.seq}`);
      next = m.seq + 1;
      continue;
    }
    if (m.op !== 'upd') throw new Error(`unexpected ${m.op} after snap on ${m.topic}`);
    if (m.seq !== next) throw new Error(`gap on ${m.topic}: expected seq ${next}, got ${m.seq}`);
    if (!Array.isArray(m.data) || m.data.length === 0) throw new Error(`empty upd on ${m.topic}`);
    next += m.data.length;
    ticks += m.data.length;
  }
  return ticks;
}
