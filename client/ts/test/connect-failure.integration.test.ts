import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { TickwireClient, type ConnectOptions, type TickwireClientOptions } from '../src/client.js';
import { TickwireError } from '../src/errors.js';
import type { Status } from '../src/types.js';
import { waitUntil } from './support/util.js';

/**
 * Issue 17 point 2: connecting to nothing (or to the wrong thing) settles with a clear reason
 * instead of hanging. Each case is bounded: a connect that is still pending after BOUND_MS is a
 * failure of its own ("still pending"), so the old behaviour (retrying forever) fails fast too.
 */

const BOUND_MS = 8_000;
const clients: TickwireClient[] = [];

function client(url: string, opts: Partial<TickwireClientOptions> = {}): { c: TickwireClient; statuses: Status[] } {
  const c = new TickwireClient({ url, WebSocket, reconnect: { initialDelayMs: 20, maxDelayMs: 100 }, ...opts });
  clients.push(c);
  const statuses: Status[] = [];
  c.onStatus((s) => statuses.push(s));
  return { c, statuses };
}

/** The rejection of `connect(opts)`, or a "still pending" error after BOUND_MS. */
async function failure(c: TickwireClient, opts?: ConnectOptions): Promise<TickwireError> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), BOUND_MS)));
  const outcome = await Promise.race([
    c.connect(opts).then(
      () => 'open' as const,
      (e: unknown) => e,
    ),
    pending,
  ]);
  clearTimeout(timer);
  if (outcome === 'pending') throw new Error(`connect() still pending after ${BOUND_MS} ms`);
  if (outcome === 'open') throw new Error('connect() resolved');
  expect(outcome).toBeInstanceOf(TickwireError);
  return outcome as TickwireError;
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const servers: (HttpServer | TcpServer)[] = [];
async function listen<S extends HttpServer | TcpServer>(srv: S): Promise<number> {
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as { port: number }).port;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe('connect() to nothing', () => {
  it('rejects with "connection refused" within timeoutMs, retrying meanwhile, and closes the client', async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/v1`;
    const { c, statuses } = client(url);
    const t0 = Date.now();
    const err = await failure(c, { timeoutMs: 1500 });
    expect(err.code).toBe('connect_refused');
    expect(err.message).toBe(`connection refused at ${url} (gave up after 1500 ms)`);
    expect(Date.now() - t0).toBeLessThan(BOUND_MS);
    expect(statuses.filter((s) => s.state === 'connecting').length).toBeGreaterThan(1); // refused is transient: retried
    expect(c.status.current.state).toBe('closed');
  });

  it('rejects at once with "connection refused" when reconnecting is off (no timeout given)', async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/v1`;
    const { c } = client(url, { reconnect: false });
    const err = await failure(c);
    expect([err.code, err.message]).toEqual(['connect_refused', `connection refused at ${url}`]);
  });

  it('rejects with "no answer within N ms" when the peer accepts TCP but never answers', async () => {
    const sockets: Socket[] = [];
    const srv = createTcpServer((s) => sockets.push(s)); // swallows the upgrade request
    const port = await listen(srv);
    const url = `ws://127.0.0.1:${port}/v1`;
    const { c } = client(url, { transport: 'websocket' });
    const err = await failure(c, { timeoutMs: 600 });
    expect([err.code, err.message]).toEqual(['connect_timeout', `no answer within 600 ms from ${url}`]);
    for (const s of sockets) s.destroy();
  });
});

describe('connect() to the wrong thing', () => {
  let gw: Gateway;
  let jwtGw: Gateway;
  beforeAll(async () => {
    [gw, jwtGw] = await Promise.all([
      startTestGateway({ feedRate: 100 }),
      startTestGateway({ feedRate: 100, authMode: 'jwt', jwtSecret: 'test-secret-that-is-at-least-32-bytes-long!' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gw.stop(), jwtGw.stop()]);
  });

  it("wrong path (the gateway's root): fails fast with the HTTP status, never the page's HTML", async () => {
    const url = `ws://127.0.0.1:${gw.port}/`;
    const { c, statuses } = client(url);
    const err = await failure(c, { timeoutMs: 60_000 }); // fails on the first answer, long before the timeout
    expect(err.code).toBe('not_tickwire');
    expect(err.message).toBe(`HTTP 200 from ${url} is not a tickwire endpoint; the path is /v1`);
    expect(err.message).not.toContain('<');
    expect(statuses.filter((s) => s.state === 'connecting')).toHaveLength(1);
    expect(c.status.current).toMatchObject({ state: 'closed', terminal: true, reason: err.message });
  });

  it('an HTTP server that is not tickwire: "HTTP 200 from … is not a tickwire endpoint; the path is /v1"', async () => {
    const page = '<!doctype html><html><body>board</body></html>';
    const srv = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
    const port = await listen(srv);
    const url = `ws://127.0.0.1:${port}/`;
    const { c } = client(url);
    const err = await failure(c);
    expect([err.code, err.message]).toEqual(['not_tickwire', `HTTP 200 from ${url} is not a tickwire endpoint; the path is /v1`]);
  });

  it("auth refused: rejects at once with the gateway's reason (HTTP 401 body)", async () => {
    const url = `ws://127.0.0.1:${jwtGw.port}/v1`;
    const { c, statuses } = client(url);
    const err = await failure(c, { timeoutMs: 60_000 });
    expect(err.code).toBe('auth_refused');
    expect(err.message.startsWith(`authentication refused at ${url} (HTTP 401): a token is required`)).toBe(true);
    expect(statuses.filter((s) => s.state === 'connecting')).toHaveLength(1);
  });

  it("retry: 'forever' keeps retrying a terminal answer until close()", async () => {
    const url = `ws://127.0.0.1:${jwtGw.port}/v1`;
    const { c, statuses } = client(url, { transport: 'websocket' });
    const connected = c.connect({ retry: 'forever', timeoutMs: 100 });
    const outcome = connected.then(
      () => 'open',
      (e: TickwireError) => e,
    );
    await waitUntil(() => statuses.filter((s) => s.state === 'reconnecting').length >= 3, BOUND_MS, 'three retries');
    const last = statuses.filter((s) => s.state === 'reconnecting').at(-1);
    expect(last).toMatchObject({ reason: expect.stringMatching(/^authentication refused at .* \(HTTP 401\)/) });
    await c.close();
    expect(await outcome).toMatchObject({ code: 'closed' });
  });
});
