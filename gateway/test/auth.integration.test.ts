import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { httpGet, startTestGateway } from './support/gateway.js';

const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';
const ADMIN = 'admin-token-0123456789abcdef';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

async function hs(
  claims: Record<string, unknown>,
  opts: { exp?: number; nbf?: number; aud?: string; iss?: string; secret?: Uint8Array } = {},
): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (opts.exp !== undefined) jwt = jwt.setExpirationTime(opts.exp);
  if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
  if (opts.aud) jwt = jwt.setAudience(opts.aud);
  if (opts.iss) jwt = jwt.setIssuer(opts.iss);
  return jwt.sign(opts.secret ?? key);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Connects with a token in the Authorization header (or the query); resolves the client or the HTTP refusal. */
async function connect(
  port: number,
  token?: string,
  via: 'header' | 'query' = 'header',
): Promise<TestClient | { status: number; body: string }> {
  const path = token && via === 'query' ? `/v1?access_token=${encodeURIComponent(token)}` : '/v1';
  try {
    return await TestClient.connect(port, {
      path,
      ...(token && via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
  } catch (e) {
    const err = e as { status?: number; body?: string };
    if (err.status) return { status: err.status, body: err.body ?? '' };
    throw e;
  }
}
const isClient = (c: unknown): c is TestClient => c instanceof TestClient;

describe('JWT authentication (HS256)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      authMode: 'jwt',
      jwtSecret: SECRET,
      jwtAudience: 'tickwire',
      jwtIssuer: 'https://auth.example',
      adminToken: ADMIN,
      feedRate: 2000,
    });
  });
  afterAll(() => gw.stop());
  const good = (claims: Record<string, unknown> = { sub: 'alice', topics: ['trade.*'] }, o = {}) =>
    hs(claims, { exp: now() + 600, aud: 'tickwire', iss: 'https://auth.example', ...o });

  it.each([
    ['no token', async () => undefined, /token is required/],
    ['an expired token', async () => good(undefined, { exp: now() - 60 }), /expired/],
    ['a token not valid yet', async () => good(undefined, { nbf: now() + 600 }), /not valid yet/],
    ['a bad signature', async () => (await good()).slice(0, -4) + 'AAAA', /signature/],
    [
      'a token signed with another key',
      async () => good(undefined, { secret: new TextEncoder().encode('another-secret-of-at-least-32-bytes!!') }),
      /signature/,
    ],
    [
      'alg: none',
      async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', topics: ['*'], aud: 'tickwire', iss: 'https://auth.example', exp: now() + 600 })}.`,
      /algorithm|malformed/,
    ],
    ['the wrong audience', async () => good(undefined, { aud: 'someone-else' }), /aud/],
    ['the wrong issuer', async () => good(undefined, { iss: 'https://evil.example' }), /iss/],
    ['no sub claim', async () => good({ topics: ['*'] }), /sub claim/],
    ['an invalid topics pattern', async () => good({ sub: 'alice', topics: ['trade.**'] }), /pattern/],
    ['garbage', async () => 'not.a.jwt', /malformed/],
  ])('refuses %s with HTTP 401 and a reason, before any WebSocket opens', async (_name, make, reason) => {
    const r = await connect(gw.port, await make());
    expect(isClient(r)).toBe(false);
    if (isClient(r)) return;
    expect(r.status).toBe(401);
    expect(r.body).toMatch(reason);
  });

  it('accepts a valid token in the Authorization header and in ?access_token=', async () => {
    for (const via of ['header', 'query'] as const) {
      const c = await connect(gw.port, await good(), via);
      if (!isClient(c)) throw new Error(`refused: ${c.status} ${c.body}`);
      c.send({ op: 'ping', id: 1 });
      await c.waitFor((m) => m.op === 'pong');
      c.close();
    }
    const m = (await httpGet(gw.port, '/metrics')).body;
    expect(m).toMatch(/tickwire_upgrades_refused_total\{reason="expired"\} [1-9]/);
    expect(m).toMatch(/tickwire_upgrades_refused_total\{reason="bad_signature"\} [1-9]/);
  });

  it('entitlements: sub to entitled topics is acked, the rest get err forbidden', async () => {
    const c = await connect(gw.port, await good({ sub: 'alice', topics: ['trade.*', 'quote.AAPL'] }));
    if (!isClient(c)) throw new Error('refused');
    c.send({ op: 'sub', id: 1, topics: ['trade.BTC-USD', 'quote.BTC-USD', 'quote.AAPL', 'quote.ETH-USD@100ms', 'trade.ETH-USD@100ms'] });
    const err = await c.waitFor((m) => m.op === 'err');
    expect(err).toMatchObject({ id: 1, code: 'forbidden', topics: ['quote.BTC-USD', 'quote.ETH-USD@100ms'] });
    expect(await c.waitFor((m) => m.op === 'ack')).toMatchObject({ id: 1, topics: ['trade.BTC-USD', 'quote.AAPL', 'trade.ETH-USD@100ms'] });
    await c.waitFor((m) => m.op === 'snap' && m.topic === 'trade.BTC-USD');
    // Barrier: an entitled topic moved on, so a forbidden topic's frames would be here by now.
    await c.waitUntil(() => c.topicMessages('trade.BTC-USD').length > 5);
    expect(c.topicMessages('quote.BTC-USD')).toEqual([]);
    c.close();
  });

  it('private channels: only the token with that sub reads user.<sub>.*, by any spelling', async () => {
    const alice = await connect(gw.port, await good({ sub: 'alice', topics: ['*'] }));
    const bob = await connect(gw.port, await good({ sub: 'bob', topics: [] }));
    if (!isClient(alice) || !isClient(bob)) throw new Error('refused');
    alice.send({ op: 'sub', id: 1, topics: ['user.alice.orders', 'user.bob.orders', 'user.Bob.orders', 'user.bob.fills'] });
    expect(await alice.waitFor((m) => m.op === 'err' && m.code === 'forbidden')).toMatchObject({
      topics: ['user.bob.orders', 'user.Bob.orders', 'user.bob.fills'],
    });
    await alice.waitFor((m) => m.op === 'ack' && m.id === 1);
    // Other spellings are not topics at all.
    alice.send({
      op: 'sub',
      id: 2,
      topics: [
        'USER.bob.orders',
        'user.bob.Orders',
        'user.bob..orders',
        'user.bob.orders@100ms',
        'user.bob.orders ',
        'user.b\u043eb.orders',
        'user.bob.orders.x',
        'user.%62ob.orders',
      ],
    });
    const bad = await alice.waitFor((m) => m.op === 'err' && m.id === 2);
    expect(bad.code).toBe('bad_topic');
    expect(bad.topics).toHaveLength(8);
    bob.send({ op: 'sub', id: 1, topics: ['user.bob.orders', 'trade.BTC-USD'] });
    expect(await bob.waitFor((m) => m.op === 'err')).toMatchObject({ code: 'forbidden', topics: ['trade.BTC-USD'] });
    await bob.waitFor((m) => m.op === 'ack');

    const publish = (topic: string, data: unknown) =>
      fetch(`http://127.0.0.1:${gw.port}/v1/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topic, data }),
      });
    expect((await publish('user.bob.orders', { id: 'o-1', status: 'filled', px: 65000 })).status).toBe(202);
    expect((await publish('user.alice.orders', { id: 'o-2', status: 'new' })).status).toBe(202);
    const bobs = await bob.waitFor((m) => m.topic === 'user.bob.orders');
    expect(bobs).toMatchObject({ op: 'snap', seq: 1, data: { id: 'o-1', status: 'filled', px: 65000 } });
    const alices = await alice.waitFor((m) => m.topic === 'user.alice.orders');
    expect(alices.data).toEqual({ id: 'o-2', status: 'new' });
    // Barrier: publishes are delivered in order, so once alice has a later one, a leak of bob's would be here.
    expect((await publish('user.alice.orders', { id: 'o-3', status: 'new' })).status).toBe(202);
    await alice.waitFor((m) => m.topic === 'user.alice.orders' && m.op === 'upd');
    expect(alice.messages.filter((m) => typeof m.topic === 'string' && m.topic.startsWith('user.bob'))).toEqual([]);
    alice.close();
    bob.close();
  });

  it('sys.announce reaches every connection without subscribing', async () => {
    const a = await connect(gw.port, await good());
    const b = await connect(gw.port, await good({ sub: 'bob' }));
    if (!isClient(a) || !isClient(b)) throw new Error('refused');
    const r = await fetch(`http://127.0.0.1:${gw.port}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ topic: 'sys.announce', data: { msg: 'maintenance at 22:00 UTC' } }),
    });
    expect(r.status).toBe(202);
    for (const c of [a, b])
      expect((await c.waitFor((m) => m.topic === 'sys.announce')).data).toEqual([{ msg: 'maintenance at 22:00 UTC' }]);
    a.close();
    b.close();
  });

  it('admin publish needs the admin token and only takes user and sys topics', async () => {
    const post = (body: unknown, auth?: string) =>
      fetch(`http://127.0.0.1:${gw.port}/v1/publish`, {
        method: 'POST',
        headers: auth ? { authorization: `Bearer ${auth}` } : {},
        body: JSON.stringify(body),
      });
    expect((await post({ topic: 'sys.announce', data: {} })).status).toBe(401);
    expect((await post({ topic: 'sys.announce', data: {} }, 'wrong-token-0123456789')).status).toBe(401);
    expect((await post({ topic: 'trade.BTC-USD', data: { px: 1 } }, ADMIN)).status).toBe(400);
    expect((await post({ topic: 'user.alice.orders', data: 'x' }, ADMIN)).status).toBe(400);
    expect(
      (
        await post(
          {
            messages: [
              { topic: 'user.alice.fills', data: { q: 1 } },
              { topic: 'user.bob.fills', data: { q: 2 } },
            ],
          },
          ADMIN,
        )
      ).status,
    ).toBe(202);
  });

  it('a connection whose token expires is closed with 4001', async () => {
    const c = await connect(
      gw.port,
      await hs({ sub: 'alice', topics: ['*'] }, { exp: now() + 2, aud: 'tickwire', iss: 'https://auth.example' }),
    );
    if (!isClient(c)) throw new Error('refused');
    expect(await c.waitClosed(6000)).toBe(4001);
    expect(c.closeReason).toMatch(/expired/);
  });
});

describe('anonymous access and other key types', () => {
  it('anonymousTopics lets token-less clients read only those topics', async () => {
    const gw = await startTestGateway({ authMode: 'jwt', jwtSecret: SECRET, anonymousTopics: 'quote.*', feedRate: 2000 });
    try {
      const c = await connect(gw.port);
      if (!isClient(c)) throw new Error('refused');
      c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD', 'trade.BTC-USD', 'user.anyone.orders'] });
      expect(await c.waitFor((m) => m.op === 'err')).toMatchObject({ code: 'forbidden', topics: ['trade.BTC-USD', 'user.anyone.orders'] });
      expect(await c.waitFor((m) => m.op === 'ack')).toMatchObject({ topics: ['quote.BTC-USD'] });
      c.close();
    } finally {
      await gw.stop();
    }
  });

  it('RS256 public key: accepts RS256, refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'tw-auth-'));
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    writeFileSync(join(dir, 'pub.pem'), pem);
    const gw = await startTestGateway({ authMode: 'jwt', jwtPublicKeyFile: join(dir, 'pub.pem') });
    try {
      const rs = await new SignJWT({ sub: 'alice', topics: ['*'] })
        .setProtectedHeader({ alg: 'RS256' })
        .setExpirationTime(now() + 600)
        .sign(privateKey);
      const ok = await connect(gw.port, rs);
      expect(isClient(ok)).toBe(true);
      if (isClient(ok)) ok.close();
      const confused = await hs({ sub: 'alice', topics: ['*'] }, { exp: now() + 600, secret: new TextEncoder().encode(pem) });
      const r = await connect(gw.port, confused);
      expect(isClient(r) ? 101 : r.status).toBe(401);
    } finally {
      await gw.stop();
    }
  });

  it('ES256 via a JWKS file, chosen by kid', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(join(tmpdir(), 'tw-jwks-'));
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const gw = await startTestGateway({ authMode: 'jwt', jwtJwksFile: join(dir, 'jwks.json') });
    try {
      const es = await new SignJWT({ sub: 'bob', topics: 'trade.* quote.*' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setExpirationTime(now() + 600)
        .sign(privateKey);
      const ok = await connect(gw.port, es);
      expect(isClient(ok)).toBe(true);
      if (isClient(ok)) ok.close();
      const unknownKid = await new SignJWT({ sub: 'bob' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k2' })
        .setExpirationTime(now() + 600)
        .sign(privateKey);
      const r = await connect(gw.port, unknownKid);
      expect(isClient(r) ? 101 : r.status).toBe(401);
    } finally {
      await gw.stop();
    }
  });

  it('/metrics can require the admin token', async () => {
    const gw = await startTestGateway({ metricsPublic: false, adminToken: ADMIN });
    try {
      expect((await httpGet(gw.port, '/metrics')).status).toBe(401);
      const r = await fetch(`http://127.0.0.1:${gw.port}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/tickwire_connections/);
    } finally {
      await gw.stop();
    }
  });
});
