import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, TestClient } from './support/client.js';
import { httpGet, metricValue, sleep, startTestGateway } from './support/gateway.js';
import { spawnGateway, stopAll } from './support/process.js';
import { prng, rawPing, rawUpgrade, waves, type AbortAt, type UpgradeResult } from './support/upgrade.js';

/**
 * Thousands of authenticated upgrades, many abandoned by the client at a random moment (touching
 * a uWS response after its client went away crashes the process natively). Every token is unique,
 * so each one is really verified (synchronously, inside the upgrade handler).
 */
const SECRET = 'upgrade-stress-secret-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
const SEED = Number(process.env.STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BUSY = 'quote.BTC-USD';

let serial = 0;
/** Sockets this file is closing itself (a close of any other held socket came from the server). */
const ending = new WeakSet<Socket>();
const release = (t: Tally) => {
  for (const s of t.held) {
    ending.add(s);
    s.destroy();
  }
};
/** Held sockets still open on the client side. */
const stillOpen = (t: Tally) => t.held.filter((s) => !s.destroyed).length;
/** A valid HS256 token no other upgrade uses (unique jti and sub). */
const token = (exp = Math.floor(Date.now() / 1000) + 600) =>
  new SignJWT({ sub: `u${serial++}`, topics: ['*'], jti: randomUUID() })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
/** Unique and well-formed, but signed with another key: refused with 401. */
const badToken = () =>
  new SignJWT({ sub: `x${serial++}`, topics: ['*'], jti: randomUUID() })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode('another-secret-that-is-32-bytes-or-more'));

type Plan = { valid: boolean; abortAt: AbortAt; delayMs: number; reset: boolean };

/** About half of the attempts are abandoned at a random moment; 15 % carry a bad token. */
function plan(n: number, rand: () => number): Plan[] {
  return Array.from({ length: n }, () => {
    const valid = rand() >= 0.15;
    const r = rand();
    const abortAt: AbortAt = r < 0.5 ? 'never' : r < 0.7 ? 'after_write' : r < 0.9 ? 'after_delay' : 'after_response';
    return { valid, abortAt, delayMs: Math.floor(rand() * 6), reset: rand() < 0.3 };
  });
}

interface Tally {
  ok101: number;
  refused401: number;
  aborted: number;
  failures: string[];
  /** Upgraded sockets the client keeps open. */
  held: Socket[];
  /** Held sockets the server closed although the client did nothing (see the bug test below). */
  dropped: number;
}

async function storm(port: number, n: number, concurrency: number, rand: () => number): Promise<Tally> {
  const plans = plan(n, rand);
  const tokens = await Promise.all(plans.map((p) => (p.valid ? token() : badToken())));
  expect(new Set(tokens).size).toBe(n);
  const t: Tally = { ok101: 0, refused401: 0, aborted: 0, failures: [], held: [], dropped: 0 };
  // In waves of `concurrency` started together: a burst of upgrades, with clients leaving mid-way.
  await waves(n, concurrency, async (i) => {
    const p = plans[i]!;
    const r: UpgradeResult = await rawUpgrade({ port, token: tokens[i], abortAt: p.abortAt, delayMs: p.delayMs, reset: p.reset });
    if (r.socket) {
      t.held.push(r.socket);
      r.socket.once('close', () => {
        if (!ending.has(r.socket!)) t.dropped++;
      });
    }
    if (p.abortAt !== 'never' && p.abortAt !== 'after_response') {
      t.aborted++;
      // Whatever arrived before the client left must still be right.
      if (r.status !== undefined && r.status !== (p.valid ? 101 : 401)) t.failures.push(`#${i} (${p.abortAt}) got ${r.status}`);
      return;
    }
    if (p.valid && r.status === 101 && r.acceptOk) t.ok101++;
    else if (!p.valid && r.status === 401 && /signature/.test(r.body ?? '')) t.refused401++;
    else
      t.failures.push(
        `#${i} valid=${p.valid} ${p.abortAt}: status ${r.status} accept ${r.acceptOk} ${r.error ?? ''} ${r.body ?? ''}`.trim(),
      );
  });
  return t;
}

/** A well-behaved client with a fresh token: subscribes, gets a gap-free stream, and a pong. */
async function healthyClient(port: number): Promise<TestClient> {
  const c = await TestClient.connect(port, { headers: { authorization: `Bearer ${await token()}` } });
  c.send({ op: 'sub', id: 1, topics: [BUSY] });
  await c.waitFor((m) => m.op === 'ack' && m.id === 1);
  await c.waitUntil(() => c.topicMessages(BUSY).length >= 20, 20_000);
  expect(checkTopicStream(c.topicMessages(BUSY))).toBeGreaterThan(0);
  c.send({ op: 'ping', id: 99 });
  expect(await c.waitFor((m) => m.op === 'pong')).toMatchObject({ op: 'pong', id: 99 });
  return c;
}

async function connectionsGauge(port: number, expected: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let v = NaN;
  while (Date.now() < deadline) {
    v = metricValue((await httpGet(port, '/metrics')).body, 'tickwire_connections');
    if (v === expected) return v;
    await sleep(100);
  }
  return v;
}

describe('authenticated upgrade storm with clients aborting mid-way (in-process gateway)', () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    // Per-IP limits out of the way: everything comes from 127.0.0.1 here.
    gw = await startTestGateway({
      authMode: 'jwt',
      jwtSecret: SECRET,
      feedRate: 3000,
      connectRatePerIp: 1_000_000,
      maxConnectionsPerIp: 100_000,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('3 000 upgrades with unique tokens, ~half abandoned: no crash, right answers, none cut after 101, gauge exact', async () => {
    const rand = prng(SEED);
    const bystander = await healthyClient(gw.port);
    clients.push(bystander);
    const t0 = Date.now();
    const t = await storm(gw.port, 3000, 200, rand);
    const elapsed = Date.now() - t0;
    try {
      console.log(
        `upgrade storm (seed ${SEED}): 3000 attempts in ${elapsed} ms: ${t.ok101} upgraded (held open), ${t.refused401} refused ` +
          `401, ${t.aborted} abandoned mid-way, ${t.failures.length} failures, ${t.dropped} cut by the server`,
      );
      expect(t.failures.slice(0, 10)).toEqual([]);
      expect(t.ok101).toBeGreaterThan(1000);
      expect(t.refused401).toBeGreaterThan(100);
      expect((await httpGet(gw.port, '/healthz')).status).toBe(200);

      const m = (await httpGet(gw.port, '/metrics')).body;
      expect(metricValue(m, 'tickwire_upgrades_refused_total{reason="bad_signature"}')).toBeGreaterThanOrEqual(t.refused401);
      // Upgrades complete synchronously: the server never cuts a connection it has just opened.
      expect(t.dropped).toBe(0);
      // The gauge counts exactly the upgraded connections still open, plus the bystander.
      const open = stillOpen(t) + 1;
      expect(await connectionsGauge(gw.port, open)).toBe(open);
    } finally {
      release(t);
    }
    expect(await connectionsGauge(gw.port, 1)).toBe(1);

    // Still healthy: a fresh client streams gap-free and gets a pong; the bystander never noticed.
    clients.push(await healthyClient(gw.port));
    expect(bystander.closeCode).toBeUndefined();
    expect(checkTopicStream(bystander.topicMessages(BUSY))).toBeGreaterThan(0);
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
    expect(await connectionsGauge(gw.port, 2)).toBe(2);
  }, 60_000);
});

describe('the same storm against the built gateway as a child process', () => {
  afterAll(stopAll);

  it('1 000 upgrades, ~half abandoned: the process survives (no native crash) and exits 0 on SIGTERM', async () => {
    const gw = await spawnGateway([
      '--auth-mode',
      'jwt',
      '--jwt-secret',
      SECRET,
      '--feed-rate',
      '2000',
      '--connect-rate-per-ip',
      '1000000',
      '--max-connections-per-ip',
      '100000',
    ]);
    const t = await storm(gw.port, 1000, 200, prng(SEED + 1));
    try {
      console.log(
        `child storm (seed ${SEED + 1}): ${t.ok101} upgraded, ${t.refused401} refused, ${t.aborted} ` +
          `abandoned, ${t.failures.length} failures, ${t.dropped} cut by the server`,
      );
      expect(t.failures.slice(0, 10)).toEqual([]);
      expect(gw.child.exitCode).toBeNull();
      expect(gw.child.signalCode).toBeNull();
      expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
      expect(t.dropped).toBe(0);
      const open = stillOpen(t);
      expect(await connectionsGauge(gw.port, open)).toBe(open);
    } finally {
      release(t);
    }
    expect(await connectionsGauge(gw.port, 0)).toBe(0);
    (await healthyClient(gw.port)).close();
    expect(gw.child.exitCode).toBeNull();
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(gw.stderr()).not.toMatch(/Segmentation|Assertion|abort/i);
  }, 60_000);
});

// Found by this file: a handshake with `Connection: close` (no `upgrade` token) whose token was
// verified asynchronously had its WebSocket closed right after the 101 by this uWS build, and
// crashed the process (SIGSEGV) when the upgrade was not corked: the bug fixed upstream in
// uNetworking/uWebSockets PR #1929. Upgrades are now synchronous, and the gateway also refuses such
// handshakes (RFC 6455 requires the `upgrade` token); well-formed ones stay open on every path.
describe('malformed Connection headers are refused; well-formed upgrades stay open', () => {
  let jwtGw: Gateway;
  let openGw: Gateway;
  beforeAll(async () => {
    jwtGw = await startTestGateway({ authMode: 'jwt', jwtSecret: SECRET, feedRate: 0 });
    openGw = await startTestGateway({ feedRate: 0 });
  });
  afterAll(async () => {
    await jwtGw?.stop();
    await openGw?.stop();
  });

  /** Upgrades; returns the status and whether the server cut the connection before answering a ping. */
  const attempt = async (port: number, tok: string | undefined, connection: string) => {
    const r = await rawUpgrade({ port, ...(tok ? { token: tok } : {}), connection });
    if (r.status !== 101) return { status: r.status, cut: true };
    const s = r.socket!;
    const kept = await rawPing(s);
    s.destroy();
    return { status: 101, cut: !kept };
  };

  it('Connection: close is refused with 400 on every path; well-formed upgrades stay open after the 101', async () => {
    expect((await attempt(openGw.port, undefined, 'close')).status).toBe(400);
    expect((await attempt(jwtGw.port, await token(), 'close')).status).toBe(400);
    expect((await attempt(jwtGw.port, await token(), 'keep-alive')).status).toBe(400);
    for (let i = 0; i < 20; i++) expect(await attempt(jwtGw.port, await token(), 'Upgrade')).toEqual({ status: 101, cut: false });
    expect(await attempt(jwtGw.port, await token(), 'keep-alive, Upgrade')).toEqual({ status: 101, cut: false });
    expect((await httpGet(jwtGw.port, '/healthz')).status).toBe(200);
    expect(await httpGet(jwtGw.port, '/metrics').then((r) => r.body)).toMatch(
      /tickwire_upgrades_refused_total\{reason="handshake"\} [1-9]/,
    );
  });
});
