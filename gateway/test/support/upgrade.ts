import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * Raw WebSocket upgrades over `net`: full control of when the client goes away (before the
 * request is answered, a few ms later, or right after the response), which no WebSocket library
 * offers. Loopback only.
 */

export type AbortAt = 'never' | 'after_write' | 'after_delay' | 'after_response';

export interface UpgradeResult {
  /** HTTP status of the response, when one arrived before the client went away. */
  status?: number;
  /** The 101's Sec-WebSocket-Accept is right for the key sent (RFC 6455 §4.2.2). */
  acceptOk?: boolean;
  /** Response body start (refusals carry a plain-text reason). */
  body?: string;
  /** The upgraded socket, when abortAt is 'never' and the answer was 101; the caller destroys it. */
  socket?: Socket;
  error?: string;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface UpgradeOptions {
  port: number;
  token?: string;
  headers?: Record<string, string>;
  abortAt?: AbortAt;
  delayMs?: number;
  /** Abort with a TCP RST instead of a FIN. */
  reset?: boolean;
  timeoutMs?: number;
  path?: string;
  /** The Connection header (default "Upgrade"). */
  connection?: string;
  /** Source address (another loopback address, 127.0.0.2, looks like another client). */
  localAddress?: string;
}

export function rawUpgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const abortAt = o.abortAt ?? 'never';
  const key = randomBytes(16).toString('base64');
  const expectAccept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  const lines = [
    `GET ${o.path ?? '/v1'} HTTP/1.1`,
    `Host: 127.0.0.1:${o.port}`,
    'Upgrade: websocket',
    `Connection: ${o.connection ?? 'Upgrade'}`,
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...(o.token ? [`Authorization: Bearer ${o.token}`] : []),
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  const request = lines.join('\r\n') + '\r\n\r\n';

  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    let buf = Buffer.alloc(0);
    let result: UpgradeResult = {};
    let settled = false;
    const kill = () => (o.reset ? s.resetAndDestroy() : s.destroy());
    const finish = (r: UpgradeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      kill();
      finish({ ...result, error: result.error ?? 'timeout' });
    }, o.timeoutMs ?? 10_000);
    s.on('error', (e) => {
      // A client that resets its own socket sees nothing worth reporting.
      if (abortAt === 'never') result.error = e.message;
    });
    s.on('close', () => finish(result));
    s.on('connect', () => {
      s.write(request);
      if (abortAt === 'after_write') {
        kill();
        finish(result);
      } else if (abortAt === 'after_delay') {
        setTimeout(() => {
          kill();
          finish(result);
        }, o.delayMs ?? 0);
      }
    });
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN);
      const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(head)?.[1];
      result = { status, ...(status === 101 ? { acceptOk: accept === expectAccept } : { body: buf.subarray(end + 4).toString('utf8') }) };
      s.off('data', onData);
      s.resume(); // whatever follows (WebSocket frames) is read and dropped
      if (abortAt === 'after_response' || (abortAt === 'never' && status !== 101)) {
        kill();
        finish(result);
      } else if (abortAt === 'never') {
        result.socket = s;
        finish(result);
      }
    };
    s.on('data', onData);
  });
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return out;
}

/** Runs `task` for 0..count-1 in waves of `size` started together (at most `size` in flight). */
export async function waves<T>(count: number, size: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let w = 0; w < count; w += size)
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - w) }, (_, k) => task(w + k)))));
  return out;
}

/** A small seeded PRNG (mulberry32), so a run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A WebSocket-level ping on an upgraded raw socket (masked, empty, RFC 6455 §5.5.2); resolves
 * true at the pong, false if the socket closes first. The barrier for "the server kept the
 * connection": a cut it decided before handling the ping comes before the pong.
 */
export function rawPing(socket: Socket, timeoutMs = 15_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(false);
    const done = (v: boolean | Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const onData = (d: Buffer) => {
      if (d.includes(Buffer.from([0x8a, 0x00]))) done(true);
    };
    const onClose = () => done(false);
    const timer = setTimeout(() => done(new Error(`no pong within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(Buffer.from([0x89, 0x80, 1, 2, 3, 4]));
  });
}
