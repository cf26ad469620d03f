import { decode, encode } from '@msgpack/msgpack';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { deflateRawSync } from 'node:zlib';
import { WebSocketServer, type WebSocket } from 'ws';
import { WAIT_MS } from '../../../../gateway/test/support/wait.js';

export type Msg = Record<string, any>;

const KNOWN = ['tickwire.v1.msgpack', 'tickwire.v1.json', 'tickwire.v1.msgpack+deflate'];

/**
 * A scripted protocol-v1 server for client tests: a `ws` WebSocketServer on 127.0.0.1:0 that
 * does nothing by itself. The test reads what the client sent and writes, frame by frame, what
 * the server answers.
 */
export class FakeServer {
  readonly conns: FakeConn[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
    private readonly httpServer?: Server,
  ) {
    wss.on('connection', (ws, req) => {
      this.conns.push(new FakeConn(ws, ws.protocol, req.url ?? ''));
      this.wake();
    });
  }

  /**
   * `accept`: the subprotocols this server knows (default all three); it picks the first offered one it knows.
   * `http`: answers plain HTTP requests on the same port (the gateway's /v1/snapshot, /v1/candles, …).
   */
  static start(opts: { accept?: string[]; http?: (req: IncomingMessage, res: ServerResponse) => void } = {}): Promise<FakeServer> {
    const accept = opts.accept ?? KNOWN;
    return new Promise((resolve, reject) => {
      const handleProtocols = (offered: Set<string>): string | false => {
        for (const p of offered) if (accept.includes(p)) return p;
        return false;
      };
      if (opts.http) {
        const server = createServer(opts.http);
        const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols });
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(new FakeServer(wss, (server.address() as { port: number }).port, server)));
        return;
      }
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols });
      wss.once('error', reject);
      wss.once('listening', () => resolve(new FakeServer(wss, (wss.address() as { port: number }).port)));
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1`;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The `i`-th connection (0-based), waiting for it to arrive. */
  async connection(i: number, timeoutMs = WAIT_MS): Promise<FakeConn> {
    const deadline = Date.now() + timeoutMs;
    while (this.conns.length <= i) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for connection #${i} (have ${this.conns.length})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.conns[i] as FakeConn;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    const http = this.httpServer;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
  }
}

export class FakeConn {
  readonly received: Msg[] = [];
  /** Raw client frames: whether each was binary. */
  readonly binary: boolean[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    readonly ws: WebSocket,
    readonly protocol: string,
    readonly path: string,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.binary.push(isBinary);
      this.received.push((isBinary ? decode(data) : JSON.parse(data.toString('utf8'))) as Msg);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first received message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: Msg) => boolean, timeoutMs = WAIT_MS, from = 0): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.received.length; i++) if (pred(this.received[i] as Msg)) return this.received[i] as Msg;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a client message; got ${JSON.stringify(this.received)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Woken by the socket's close event (like `waitFor` by messages), not by polling. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the client to close');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.closed;
  }

  /**
   * Sends one message in the connection's encoding. On msgpack+deflate, `compress` picks the
   * framing: true → 0x01 + raw DEFLATE, false → 0x00 + msgpack (default: compress when smaller,
   * like the gateway).
   */
  send(msg: unknown, opts: { compress?: boolean } = {}): void {
    if (this.protocol === 'tickwire.v1.json') return this.ws.send(JSON.stringify(msg));
    const body = Buffer.from(encode(msg));
    if (this.protocol !== 'tickwire.v1.msgpack+deflate') return this.ws.send(body, { binary: true });
    this.ws.send(deflateFrame(body, opts.compress), { binary: true });
  }

  sendRaw(data: Buffer | string, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }
}

/** A `tickwire.v1.msgpack+deflate` frame for msgpack bytes. */
export function deflateFrame(msgpack: Uint8Array, compress?: boolean): Buffer {
  const deflated = deflateRawSync(msgpack);
  const useDeflate = compress ?? deflated.length < msgpack.length;
  return useDeflate ? Buffer.concat([Buffer.from([0x01]), deflated]) : Buffer.concat([Buffer.from([0x00]), msgpack]);
}
