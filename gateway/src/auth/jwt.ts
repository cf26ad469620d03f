import { createHmac, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { compilePatterns, patternList, type Identity } from './identity.js';
import { loadKeys, type JwtAlg, type KeySet, type VerifyKey } from './keys.js';

/** Why a token was refused; the text goes into the HTTP 401 body. */
export class AuthError extends Error {
  constructor(
    readonly reason: 'missing' | 'expired' | 'not_yet_valid' | 'bad_signature' | 'bad_claims' | 'malformed' | 'bad_algorithm',
    message: string,
  ) {
    super(message);
  }
}

/** The claims tickwire reads; anything else in the payload is ignored. */
export type JwtClaims = Record<string, unknown> & {
  sub?: unknown;
  exp?: unknown;
  nbf?: unknown;
  iat?: unknown;
  iss?: unknown;
  aud?: unknown;
};

export interface TokenVerifier {
  /**
   * Synchronous on purpose: the WebSocket upgrade completes inside uWS's upgrade handler. An
   * upgrade answered later (after an awaited check) is the path on which this uWS build closes
   * fresh connections with 1006 (issue 13 point 9). Throws AuthError.
   */
  verify(token: string, nowMs: number): Identity;
}

/** Longest token accepted (bytes); larger ones are refused before any decoding. */
const MAX_TOKEN = 16 * 1024;
const B64URL = /^[A-Za-z0-9_-]*$/;
const HMAC_HASH: Partial<Record<JwtAlg, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * Builds the verifier for authMode=jwt from exactly one key source (see keys.ts). The algorithm a
 * key verifies follows from the key's type, never from the token: `alg: none` and algorithm
 * confusion (an HS256 token signed with the RSA public key as its secret) are refused.
 */
export function createVerifier(cfg: Config): TokenVerifier {
  return verifierFor(loadKeys(cfg), {
    leewaySec: cfg.jwtClockToleranceSec,
    issuer: cfg.jwtIssuer || undefined,
    audience: cfg.jwtAudience || undefined,
  });
}

export interface ClaimRules {
  leewaySec: number;
  issuer: string | undefined;
  audience: string | undefined;
}

export function verifierFor(keys: KeySet, rules: ClaimRules): TokenVerifier {
  return { verify: (token, nowMs) => identityFromClaims(verifyJwt(token, keys, rules, nowMs)) };
}

/** Checks the signature and the time and issuer/audience claims; returns the payload. */
export function verifyJwt(token: string, keys: KeySet, rules: ClaimRules, nowMs: number): JwtClaims {
  if (token.length > MAX_TOKEN) throw new AuthError('malformed', 'malformed token (too long)');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || !parts[0] || !parts[1]) {
    throw new AuthError('malformed', 'malformed token');
  }
  const [h, p, s] = parts as [string, string, string];
  const header = jsonPart(h);
  const alg = header.alg;
  if (typeof alg !== 'string') throw new AuthError('malformed', 'malformed token (no alg)');
  // A critical extension this verifier does not implement (b64: false, ...) must not be ignored.
  if (header.crit !== undefined) throw new AuthError('malformed', 'malformed token (unsupported crit header)');
  const candidates = keysFor(keys, alg, header.kid);
  const input = Buffer.from(`${h}.${p}`, 'latin1');
  const sig = Buffer.from(s, 'base64url');
  if (!candidates.some((k) => signatureOk(alg as JwtAlg, k, input, sig))) {
    throw new AuthError('bad_signature', 'token signature does not verify');
  }
  const claims = jsonPart(p) as JwtClaims;
  checkClaims(claims, rules, nowMs);
  return claims;
}

/** The keys that may verify a token with this alg (and kid, for a JWKS); refuses unknown algorithms. */
function keysFor(set: KeySet, alg: string, kid: unknown): VerifyKey[] {
  const byAlg = set.keys.filter((k) => k.algs.has(alg as JwtAlg));
  if (byAlg.length === 0) throw new AuthError('bad_algorithm', `token algorithm ${alg.slice(0, 16)} not accepted`);
  if (!set.jwks || kid === undefined) return byAlg;
  const byKid = byAlg.filter((k) => k.kid === kid);
  if (byKid.length === 0) throw new AuthError('bad_signature', 'no key matches the token (kid)');
  return byKid;
}

function signatureOk(alg: JwtAlg, k: VerifyKey, input: Buffer, sig: Buffer): boolean {
  try {
    const hash = HMAC_HASH[alg];
    if (hash) {
      const mac = createHmac(hash, k.key).update(input).digest();
      return mac.length === sig.length && timingSafeEqual(mac, sig);
    }
    if (alg === 'RS256') return verifySignature('sha256', input, k.key, sig);
    // JWS carries ECDSA signatures as r||s (IEEE P1363), not DER.
    if (alg === 'ES256') return sig.length === 64 && verifySignature('sha256', input, { key: k.key, dsaEncoding: 'ieee-p1363' }, sig);
    if (alg === 'EdDSA') return verifySignature(null, input, k.key, sig);
  } catch {
    // A signature node:crypto cannot even parse is simply not valid.
  }
  return false;
}

function jsonPart(part: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('malformed', 'malformed token');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AuthError('malformed', 'malformed token');
  return v as Record<string, unknown>;
}

/** exp/nbf with the leeway, then iss and aud when configured (RFC 7519 §4.1). */
function checkClaims(c: JwtClaims, rules: ClaimRules, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const v = c[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new AuthError('bad_claims', `token claim ${name} rejected: not a number`);
    }
  }
  if (typeof c.exp === 'number' && c.exp <= now - rules.leewaySec) throw new AuthError('expired', 'token expired');
  if (typeof c.nbf === 'number' && c.nbf > now + rules.leewaySec) throw new AuthError('not_yet_valid', 'token not valid yet (nbf)');
  if (rules.issuer !== undefined && c.iss !== rules.issuer) {
    throw new AuthError('bad_claims', 'token claim iss rejected: unexpected issuer');
  }
  if (rules.audience !== undefined) {
    const aud = c.aud;
    const ok = aud === rules.audience || (Array.isArray(aud) && aud.includes(rules.audience));
    if (!ok) throw new AuthError('bad_claims', 'token claim aud rejected: unexpected audience');
  }
}

/** `sub` (required, the user channel owner) and `topics` (entitlement patterns). */
export function identityFromClaims(p: JwtClaims): Identity {
  if (typeof p.sub !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(p.sub)) {
    throw new AuthError('bad_claims', 'the token needs a sub claim of 1-64 characters [A-Za-z0-9_-]');
  }
  const raw = p.topics;
  let patterns: string[];
  if (raw === undefined) patterns = [];
  else if (typeof raw === 'string') patterns = patternList(raw);
  else if (Array.isArray(raw) && raw.every((t) => typeof t === 'string')) patterns = raw;
  else throw new AuthError('bad_claims', 'the topics claim must be a list of topic patterns');
  let markets;
  try {
    markets = compilePatterns(patterns);
  } catch (e) {
    throw new AuthError('bad_claims', (e as Error).message);
  }
  return { sub: p.sub, markets, expiresAt: typeof p.exp === 'number' ? p.exp * 1000 : undefined };
}
