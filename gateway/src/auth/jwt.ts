import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import { compilePatterns, patternList, type Identity } from './identity.js';

/** Why a token was refused; the text goes into the HTTP 401 body. */
export class AuthError extends Error {
  constructor(
    readonly reason: 'missing' | 'expired' | 'not_yet_valid' | 'bad_signature' | 'bad_claims' | 'malformed' | 'bad_algorithm',
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}

/**
 * Builds the verifier for authMode=jwt from exactly one key source. The allowed algorithms
 * follow from the key (HS256 for a secret, RS256 or ES256 for a public key, both for a JWKS):
 * `alg: none` and algorithm confusion (an HS256 token signed with the RSA public key as secret)
 * are refused because the algorithm is never taken from the token. Throws naming the setting
 * when a key file cannot be read.
 */
export function createVerifier(cfg: Config): TokenVerifier {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  if (cfg.jwtSecret) {
    key = new TextEncoder().encode(cfg.jwtSecret);
    algorithms = ['HS256'];
  } else if (cfg.jwtPublicKeyFile) {
    const k = readKeyFile('jwtPublicKeyFile', cfg.jwtPublicKeyFile, (pem) => createPublicKey(pem));
    key = k;
    if (k.asymmetricKeyType === 'rsa') algorithms = ['RS256'];
    else if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithms = ['ES256'];
    else throw new Error(`jwtPublicKeyFile: unsupported key type ${k.asymmetricKeyType}; use an RSA (RS256) or P-256 EC (ES256) public key`);
  } else {
    key = readKeyFile('jwtJwksFile', cfg.jwtJwksFile, (text) => createLocalJWKSet(JSON.parse(text)));
    algorithms = ['RS256', 'ES256'];
  }
  const options = {
    algorithms,
    clockTolerance: cfg.jwtClockToleranceSec,
    ...(cfg.jwtIssuer ? { issuer: cfg.jwtIssuer } : {}),
    ...(cfg.jwtAudience ? { audience: cfg.jwtAudience } : {}),
  };
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], options));
      } catch (e) {
        throw toAuthError(e);
      }
      return identityFromClaims(payload);
    },
  };
}

function readKeyFile<T>(setting: string, path: string, parse: (text: string) => T): T {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${setting}: cannot load ${path}: ${(e as Error).message}`);
  }
}

/** `sub` (required, the user channel owner) and `topics` (entitlement patterns). */
export function identityFromClaims(p: JWTPayload): Identity {
  if (typeof p.sub !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(p.sub)) throw new AuthError('bad_claims', 'the token needs a sub claim of 1-64 characters [A-Za-z0-9_-]');
  const raw = (p as { topics?: unknown }).topics;
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

function toAuthError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof errors.JWTExpired) return new AuthError('expired', 'token expired');
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return new AuthError('not_yet_valid', 'token not valid yet (nbf)');
    return new AuthError('bad_claims', `token claim ${e.claim} rejected: ${e.reason}`);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return new AuthError('bad_signature', 'token signature does not verify');
  if (e instanceof errors.JOSEAlgNotAllowed) return new AuthError('bad_algorithm', 'token algorithm not accepted');
  if (e instanceof errors.JWKSNoMatchingKey) return new AuthError('bad_signature', 'no key matches the token');
  return new AuthError('malformed', 'malformed token');
}
