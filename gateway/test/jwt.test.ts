import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthError, verifierFor, type ClaimRules, type TokenVerifier } from '../src/auth/jwt.js';
import { loadKeys } from '../src/auth/keys.js';

/** The synchronous verifier (issue 13 point 9), checked against tokens signed by jose. */
const SECRET = 'unit-test-secret-that-is-at-least-32-bytes';
const NOW = 1_800_000_000_000;
const sec = NOW / 1000;
const RULES: ClaimRules = { leewaySec: 5, issuer: undefined, audience: undefined };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const dir = mkdtempSync(join(tmpdir(), 'tw-jwt-'));
let files = 0;

function file(text: string): string {
  const p = join(dir, `k${files++}`);
  writeFileSync(p, text);
  return p;
}
const pemFile = (k: KeyObject) => file(k.export({ type: 'spki', format: 'pem' }) as string);
const keys = (o: { jwtSecret?: string; jwtPublicKeyFile?: string; jwtJwksFile?: string }) =>
  loadKeys({ jwtSecret: '', jwtPublicKeyFile: '', jwtJwksFile: '', ...o });

type Claims = Record<string, unknown>;
function sign(alg: string, key: KeyObject | Uint8Array, claims: Claims = {}, header: Claims = {}): Promise<string> {
  return new SignJWT({ sub: 'alice', topics: ['trade.*'], exp: sec + 600, ...claims }).setProtectedHeader({ alg, ...header }).sign(key);
}

/** The AuthError reason a verification ends with ('ok' when it passes). */
function outcome(v: TokenVerifier, token: string, now = NOW): string {
  try {
    v.verify(token, now);
    return 'ok';
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    return e.reason;
  }
}

const hsKey = new TextEncoder().encode(SECRET);
const hs = verifierFor(keys({ jwtSecret: SECRET }), RULES);

describe('synchronous JWT verification (node:crypto)', () => {
  it('accepts a valid HS256/HS384/HS512 token and returns its identity', async () => {
    for (const alg of ['HS256', 'HS384', 'HS512']) expect(outcome(hs, await sign(alg, hsKey))).toBe('ok');
    const id = hs.verify(await sign('HS256', hsKey, { sub: 'bob', topics: 'quote.*' }), NOW);
    expect(id.sub).toBe('bob');
    expect(id.markets('quote.AAPL')).toBe(true);
    expect(id.markets('trade.AAPL')).toBe(false);
    expect(id.expiresAt).toBe((sec + 600) * 1000);
  });

  it('exp and nbf with the leeway', async () => {
    expect(outcome(hs, await sign('HS256', hsKey, { exp: sec - 60 }))).toBe('expired');
    expect(outcome(hs, await sign('HS256', hsKey, { exp: sec - 3 }))).toBe('ok');
    expect(outcome(hs, await sign('HS256', hsKey, { exp: sec - 5 }))).toBe('expired');
    expect(outcome(hs, await sign('HS256', hsKey, { nbf: sec + 600 }))).toBe('not_yet_valid');
    expect(outcome(hs, await sign('HS256', hsKey, { nbf: sec + 4 }))).toBe('ok');
    expect(outcome(hs, await sign('HS256', hsKey, { exp: 'tomorrow' }))).toBe('bad_claims');
  });

  it('iss and aud when configured (aud as a string or a list)', async () => {
    const v = verifierFor(keys({ jwtSecret: SECRET }), { leewaySec: 0, issuer: 'https://auth.example', audience: 'tickwire' });
    expect(outcome(v, await sign('HS256', hsKey, { iss: 'https://auth.example', aud: 'tickwire' }))).toBe('ok');
    expect(outcome(v, await sign('HS256', hsKey, { iss: 'https://auth.example', aud: ['other', 'tickwire'] }))).toBe('ok');
    expect(outcome(v, await sign('HS256', hsKey, { iss: 'https://evil.example', aud: 'tickwire' }))).toBe('bad_claims');
    expect(outcome(v, await sign('HS256', hsKey, { iss: 'https://auth.example', aud: 'someone-else' }))).toBe('bad_claims');
    expect(outcome(v, await sign('HS256', hsKey, { iss: 'https://auth.example' }))).toBe('bad_claims');
  });

  it('refuses a bad signature, another key, alg none, and garbage', async () => {
    const good = await sign('HS256', hsKey);
    const [h, p, s] = good.split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[0]! ^= 1;
    expect(outcome(hs, `${h}.${p}.${flipped.toString('base64url')}`)).toBe('bad_signature');
    expect(outcome(hs, `${h}.${p}.`)).toBe('bad_signature');
    // Same signature, altered payload.
    expect(outcome(hs, `${h}.${b64({ sub: 'mallory', topics: ['*'], exp: sec + 600 })}.${s}`)).toBe('bad_signature');
    expect(outcome(hs, await sign('HS256', new TextEncoder().encode('another-secret-of-at-least-32-bytes!!')))).toBe('bad_signature');
    expect(outcome(hs, `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: sec + 600 })}.`)).toBe('bad_algorithm');
    expect(outcome(hs, `${b64({ alg: 'RS256' })}.${p}.${s}`)).toBe('bad_algorithm');
    const junks = ['', 'not.a.jwt', 'a.b', `${h}.${p}.${s}.x`, `${b64([1])}.${p}.${s}`, `${h}.${b64('str')}.${s}`, `${h}.${p}.s+/=`];
    junks.push('x'.repeat(20_000));
    for (const junk of junks) {
      expect(outcome(hs, junk)).toMatch(/malformed|bad_signature/);
    }
    // A critical header extension the verifier does not implement is never ignored.
    const crit = `${b64({ alg: 'HS256', crit: ['b64'], b64: false })}.${p}`;
    expect(outcome(hs, `${crit}.${createHmac('sha256', SECRET).update(crit).digest('base64url')}`)).toBe('malformed');
  });

  it('RS256 from a PEM key; no algorithm confusion with the public key as an HMAC secret', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const v = verifierFor(keys({ jwtPublicKeyFile: pemFile(publicKey) }), RULES);
    expect(outcome(v, await sign('RS256', privateKey))).toBe('ok');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(outcome(v, await sign('HS256', new TextEncoder().encode(pem)))).toBe('bad_algorithm');
    expect(outcome(v, await sign('PS256', privateKey))).toBe('bad_algorithm');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(outcome(v, await sign('RS256', other))).toBe('bad_signature');
  });

  it('ES256 (IEEE P1363 signatures) and EdDSA from PEM keys', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ev = verifierFor(keys({ jwtPublicKeyFile: pemFile(ec.publicKey) }), RULES);
    expect(outcome(ev, await sign('ES256', ec.privateKey))).toBe('ok');
    expect(outcome(ev, await sign('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey))).toBe('bad_signature');
    const ed = generateKeyPairSync('ed25519');
    const dv = verifierFor(keys({ jwtPublicKeyFile: pemFile(ed.publicKey) }), RULES);
    expect(outcome(dv, await sign('EdDSA', ed.privateKey))).toBe('ok');
    expect(outcome(dv, await sign('ES256', ec.privateKey))).toBe('bad_algorithm');
    expect(outcome(ev, await sign('EdDSA', ed.privateKey))).toBe('bad_algorithm');
  });

  it('JWKS: the token kid selects the key; an unknown kid is refused', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const c = generateKeyPairSync('ed25519');
    const jwks = {
      keys: [
        { ...(await exportJWK(a.publicKey)), kid: 'k-ec', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(b.publicKey)), kid: 'k-rsa', use: 'sig' },
        { ...(await exportJWK(c.publicKey)), kid: 'k-ed' },
        { ...(await exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)), kid: 'k-enc', use: 'enc' },
      ],
    };
    const set = keys({ jwtJwksFile: file(JSON.stringify(jwks)) });
    expect(set.keys.map((k) => k.kid)).toEqual(['k-ec', 'k-rsa', 'k-ed']);
    const v = verifierFor(set, RULES);
    expect(outcome(v, await sign('ES256', a.privateKey, {}, { kid: 'k-ec' }))).toBe('ok');
    expect(outcome(v, await sign('RS256', b.privateKey, {}, { kid: 'k-rsa' }))).toBe('ok');
    expect(outcome(v, await sign('EdDSA', c.privateKey, {}, { kid: 'k-ed' }))).toBe('ok');
    // Without a kid, the keys of the token's algorithm are tried.
    expect(outcome(v, await sign('ES256', a.privateKey))).toBe('ok');
    // A key is used only with its own algorithm, whatever kid the token names.
    expect(outcome(v, await sign('RS256', b.privateKey, {}, { kid: 'k-ec' }))).toBe('bad_signature');
    expect(outcome(v, await sign('ES256', a.privateKey, {}, { kid: 'k-unknown' }))).toBe('bad_signature');
    expect(outcome(v, await sign('HS256', hsKey, {}, { kid: 'k-ec' }))).toBe('bad_algorithm');
  });

  it('refuses at load: unsupported or weak keys, private or symmetric keys in a JWKS, an alg that does not fit its key', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    expect(() => keys({ jwtPublicKeyFile: pemFile(p384) })).toThrow(/jwtPublicKeyFile: unsupported key type ec/);
    expect(() => keys({ jwtPublicKeyFile: pemFile(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) })).toThrow(/too short/);
    expect(() => keys({ jwtPublicKeyFile: file('not a key') })).toThrow(/jwtPublicKeyFile/);
    expect(() => keys({ jwtPublicKeyFile: join(dir, 'missing.pem') })).toThrow(/jwtPublicKeyFile: cannot load/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = await exportJWK(ec.privateKey);
    const pub = await exportJWK(ec.publicKey);
    expect(() => keys({ jwtJwksFile: file(JSON.stringify({ keys: [priv] })) })).toThrow(/private key/);
    expect(() => keys({ jwtJwksFile: file(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })) })).toThrow(/symmetric/);
    expect(() => keys({ jwtJwksFile: file(JSON.stringify({ keys: [{ ...pub, alg: 'RS256' }] })) })).toThrow(/does not fit/);
    expect(() => keys({ jwtJwksFile: file(JSON.stringify({ keys: [] })) })).toThrow(/no signature key/);
    expect(() => keys({ jwtJwksFile: file('{') })).toThrow(/jwtJwksFile: .* not JSON/);
  });
});
