import type { Identity } from './identity.js';

/**
 * Verified tokens, by their exact text. A reconnecting client presents the same token again, and
 * a cache hit lets the upgrade complete synchronously, without the asynchronous upgrade path of
 * uWS (which has known crash reports) and without redoing the signature check. Entries are only
 * used before the token's own expiry; the cache is bounded (oldest entries go first).
 */
export class TokenCache {
  private readonly map = new Map<string, Identity>();
  constructor(private readonly max: number) {}

  get(token: string, now: number): Identity | undefined {
    const id = this.map.get(token);
    if (id === undefined) return undefined;
    if (id.expiresAt !== undefined && id.expiresAt <= now) {
      this.map.delete(token);
      return undefined;
    }
    return id;
  }

  set(token: string, id: Identity): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(token, id);
  }

  get size(): number {
    return this.map.size;
  }
}
