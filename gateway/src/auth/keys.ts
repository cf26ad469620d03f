import { createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';

/** The JWS algorithms tickwire verifies. Never `none`. */
export type JwtAlg = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'ES256' | 'EdDSA';

/** One verification key and the only algorithms it may be used with (fixed by its type, never by a token). */
export interface VerifyKey {
  readonly kid: string | undefined;
  readonly key: KeyObject;
  readonly algs: ReadonlySet<JwtAlg>;
}

export interface KeySet {
  readonly keys: readonly VerifyKey[];
  /** From a JWKS file: a token's `kid` selects among the keys. */
  readonly jwks: boolean;
}

const HS = new Set<JwtAlg>(['HS256', 'HS384', 'HS512']);

/**
 * Loads the configured key source once, at start, into node:crypto key objects, so that a token
 * is verified synchronously inside the upgrade handler. Throws naming the setting when a key
 * cannot be loaded or is of a type tickwire does not verify.
 */
export function loadKeys(cfg: Pick<Config, 'jwtSecret' | 'jwtPublicKeyFile' | 'jwtJwksFile'>): KeySet {
  if (cfg.jwtSecret) return { keys: [{ kid: undefined, key: createSecretKey(Buffer.from(cfg.jwtSecret, 'utf8')), algs: HS }], jwks: false };
  if (cfg.jwtPublicKeyFile) {
    const pem = readKeyFile('jwtPublicKeyFile', cfg.jwtPublicKeyFile);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new Error(`jwtPublicKeyFile: ${cfg.jwtPublicKeyFile} is not a PEM public key: ${(e as Error).message}`, { cause: e });
    }
    return { keys: [{ kid: undefined, key, algs: algsFor('jwtPublicKeyFile', key) }], jwks: false };
  }
  const text = readKeyFile('jwtJwksFile', cfg.jwtJwksFile);
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch (e) {
    throw new Error(`jwtJwksFile: ${cfg.jwtJwksFile} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const list = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error(`jwtJwksFile: ${cfg.jwtJwksFile} needs a "keys" array (a JSON Web Key Set)`);
  const keys: VerifyKey[] = [];
  for (const [i, jwk] of list.entries()) {
    const k = jwk as JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown };
    // Encryption keys may share a published set; they never verify a signature.
    if (k.use === 'enc') continue;
    if (k.kty === 'oct') {
      throw new Error(`jwtJwksFile: key ${i} is symmetric (oct); a JWKS holds public keys only (use jwtSecret for HS256)`);
    }
    if (k.d !== undefined) throw new Error(`jwtJwksFile: key ${i} contains a private key; publish only the public part`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: k, format: 'jwk' });
    } catch (e) {
      throw new Error(`jwtJwksFile: key ${i} cannot be loaded: ${(e as Error).message}`, { cause: e });
    }
    let algs = algsFor(`jwtJwksFile key ${i}`, key);
    if (k.alg !== undefined) {
      if (typeof k.alg !== 'string' || !algs.has(k.alg as JwtAlg)) {
        throw new Error(
          `jwtJwksFile: key ${i} says alg ${typeof k.alg === 'string' ? k.alg : JSON.stringify(k.alg)}, which does not fit its key type`,
        );
      }
      algs = new Set([k.alg as JwtAlg]);
    }
    keys.push({ kid: typeof k.kid === 'string' ? k.kid : undefined, key, algs });
  }
  if (keys.length === 0) throw new Error(`jwtJwksFile: ${cfg.jwtJwksFile} has no signature key`);
  return { keys, jwks: true };
}

/** The one algorithm a public key verifies: RS256 (RSA, ≥ 2048 bits), ES256 (P-256) or EdDSA (Ed25519). */
function algsFor(setting: string, key: KeyObject): ReadonlySet<JwtAlg> {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`${setting}: an RSA key of ${bits} bits is too short (at least 2048)`);
    return new Set(['RS256']);
  }
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return new Set(['ES256']);
  if (type === 'ed25519') return new Set(['EdDSA']);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const what = `${type}${curve ? ` (${curve})` : ''}`;
  throw new Error(`${setting}: unsupported key type ${what}; use RSA (RS256), P-256 EC (ES256) or Ed25519 (EdDSA)`);
}

function readKeyFile(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${setting}: cannot load ${path}: ${(e as Error).message}`, { cause: e });
  }
}
