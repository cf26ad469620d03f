import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { encodeMsgpack } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway, waitForMetric } from './support/gateway.js';
import { rawUpgrade } from './support/upgrade.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 13 point 11: slow consumers closed past slowTimeoutMs must see the 4008 close frame, not a
 * 1006. The close used to be sent at once, behind a full send buffer; uWS then gave the client only
 * a short close timeout to read all of it, and cut the socket (frame lost) for clients that resumed
 * later. Now the gateway stops sending, waits for the buffer to drain, then sends the close.
 *
 * The clients are raw TCP sockets that walk the frame headers without decoding payloads: each has
 * megabytes of backlog (kernel buffers) to read after it resumes, too much to decode for 100.
 */
const N = 100;
const TOPICS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'].flatMap((s) => [`trade.${s}`, `quote.${s}`]);

/** A WebSocket client on a raw socket: counts server frames and keeps the close code (0 for none). */
class RawClient {
  frames = 0;
  closeCode: number | undefined;
  private buf = Buffer.alloc(0);
  private skip = 0;
  private readonly ended: Promise<number>;
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    this.ended = new Promise((resolve) => socket.once('close', () => resolve(this.closeCode ?? 1006)));
  }

  /** A masked client frame (RFC 6455 §5.3) carrying one msgpack message. */
  send(msg: unknown): void {
    const payload = encodeMsgpack(msg);
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x82, 0x80 | len]) : Buffer.from([0x82, 0x80 | 126, len >> 8, len & 0xff]);
    const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  /** The close code it ends with (1006 when the socket ends without a close frame). */
  closed(timeoutMs: number): Promise<number> {
    return Promise.race([this.ended, sleep(timeoutMs).then(() => -1)]);
  }

  private onData(d: Buffer): void {
    if (this.skip >= d.length) {
      this.skip -= d.length;
      return;
    }
    this.buf = Buffer.concat([this.buf, d.subarray(this.skip)]);
    this.skip = 0;
    for (;;) {
      if (this.buf.length < 2) return;
      const op = (this.buf[0] as number) & 0x0f;
      let len = (this.buf[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (op === 8) {
        if (this.buf.length < at + 2) return;
        this.closeCode = this.buf.readUInt16BE(at);
        this.socket.destroy();
        return;
      }
      this.frames++;
      if (this.buf.length >= at + len) {
        this.buf = this.buf.subarray(at + len);
        continue;
      }
      this.skip = at + len - this.buf.length;
      this.buf = Buffer.alloc(0);
      return;
    }
  }
}

describe(`${N} slow consumers past slowTimeoutMs (issue 13 point 11)`, () => {
  let gw: Gateway;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    gw = await startTestGateway({
      feedRate: 40_000,
      flushIntervalMs: 2,
      slowSoftBytes: 16 * 1024,
      slowTimeoutMs: 300,
      connectRatePerIp: 1_000_000,
      maxConnectionsPerIp: 100_000,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await gw?.stop();
  });

  it('every one gets close 4008 slow_consumer when it reads again, even long after the close was decided', async () => {
    for (let i = 0; i < N; i++) {
      const r = await rawUpgrade({ port: gw.port, headers: { 'Sec-WebSocket-Protocol': 'tickwire.v1.msgpack' } });
      if (r.status !== 101 || !r.socket) throw new Error(`upgrade ${i}: ${r.status} ${r.error ?? ''}`);
      clients.push(new RawClient(r.socket));
    }
    for (const [i, c] of clients.entries()) c.send({ op: 'sub', id: i + 1, topics: TOPICS });
    // The ack, snaps and then upds: the subscription is live once frames keep coming.
    await waitFor(() => clients.every((c) => c.frames >= 20), { what: 'the subscriptions to go live', timeoutMs: 30_000 });
    // Clients that stop reading: the socket is paused, so the kernel buffers fill, then uWS's.
    for (const c of clients) c.socket.pause();
    const t0 = Date.now();
    await waitForMetric(gw.port, 'tickwire_slow_consumer_closes_total', N, `not all ${N} stalled clients were closed`, 90_000);
    const t1 = Date.now();
    // The sleep is the scenario: the clients stay away after the gateway decided to close them,
    // longer than the 16 s uWS leaves a socket to flush after a close is sent (idleTimeoutSec 120),
    // and shorter than slowCloseGraceMs (30 s).
    await sleep(20_000);
    for (const c of clients) c.socket.resume();
    const codes = await Promise.all(clients.map((c) => c.closed(60_000)));
    const tally = new Map<number, number>();
    for (const code of codes) tally.set(code, (tally.get(code) ?? 0) + 1);
    console.log(`closes decided ${t1 - t0} ms after the pause; close codes after resuming: ${JSON.stringify(Object.fromEntries(tally))}`);
    expect(Object.fromEntries(tally)).toEqual({ 4008: N });
    expect(metricValue((await httpGet(gw.port, '/metrics')).body, 'tickwire_connections')).toBe(0);
  }, 180_000);
});
