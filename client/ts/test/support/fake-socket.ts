import { encode } from '@msgpack/msgpack';
import type { WebSocketConstructor, WebSocketLike } from '../../src/types.js';

/**
 * An in-memory WebSocket for deterministic unit tests: the test plays the server by calling
 * `serverOpen`, `serverSend` and `serverClose`.
 */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  protocol = '';
  binaryType = 'blob';
  readonly sent: Array<string | Uint8Array> = [];
  closeCalls: Array<{ code?: number; reason?: string }> = [];
  terminated = false;
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState < 2) this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }

  serverOpen(protocol = this.protocols[0] ?? ''): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.onopen?.({});
  }
  /** Delivers one msgpack message as a binary frame (ArrayBuffer). */
  serverSend(msg: unknown): void {
    const u = encode(msg);
    this.onmessage?.({ data: u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** Decoded client frames (msgpack or JSON). */
  get sentMessages(): Array<Record<string, any>> {
    return this.sent.map((d) => (typeof d === 'string' ? JSON.parse(d) : (decodeMsgpack(d) as Record<string, any>)));
  }
}

import { decode as decodeMsgpack } from '@msgpack/msgpack';

/** A WebSocket constructor producing FakeSockets, and the list of sockets it made. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols]);
      sockets.push(this);
    }
  };
  return { WebSocket, sockets };
}
