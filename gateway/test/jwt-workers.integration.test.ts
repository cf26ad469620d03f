import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClient } from './support/client.js';
import { spawnGateway, stopAll } from './support/process.js';

/**
 * Issue 13 point 9. With authMode=jwt and several worker threads, a connection whose token its
 * worker had never seen used to be opened and then closed with 1006 before any message: the token
 * check made the upgrade asynchronous, and this uWS build sometimes drops a WebSocket upgraded
 * from outside its upgrade handler (cork after an asynchronous upgrade; upstream uWebSockets.js
 * PR #1929 area). Every token here is new, so none could ever be served from a cache.
 */
const SECRET = 'jwt-workers-secret-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
const N = 500;
const CONCURRENCY = 50;

const freshToken = (i: number) =>
  new SignJWT({ sub: `w${i}`, topics: ['*'], jti: randomUUID() })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key);

/** Connects, subscribes, waits for the ack; returns what went wrong, or undefined. */
async function ackedOnce(port: number, token: string, id: number): Promise<string | undefined> {
  let c: TestClient;
  try {
    c = await TestClient.connect(port, { headers: { authorization: `Bearer ${token}` } });
  } catch (e) {
    return `#${id} refused: ${(e as Error).message}`;
  }
  try {
    c.send({ op: 'sub', id, topics: ['trade.BTC-USD'] });
    await c.waitFor((m) => m.op === 'ack' && m.id === id, 15_000);
    return undefined;
  } catch (e) {
    return `#${id}: ${(e as Error).message} (close ${c.closeCode ?? 'none'})`;
  } finally {
    c.close();
  }
}

describe('JWT with 2 worker threads (issue 13 point 9)', () => {
  afterAll(stopAll);

  it(`${N} connections with never-seen tokens: every one is opened and acked (no 1006 after the 101)`, async () => {
    const gw = await spawnGateway(
      ['--auth-mode', 'jwt', '--jwt-secret', SECRET, '--feed-rate', '500', '--connect-rate-per-ip', '1000000'],
      { TICKWIRE_WORKERS: '2' },
    );
    try {
      const tokens = await Promise.all(Array.from({ length: N }, (_, i) => freshToken(i)));
      expect(new Set(tokens).size).toBe(N);
      const failures: string[] = [];
      let next = 0;
      // Bursts of concurrent attempts spread over both workers, as a deploy's reconnect wave would.
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < N) {
            const i = next++;
            const f = await ackedOnce(gw.port, tokens[i] as string, i + 1);
            if (f) failures.push(f);
          }
        }),
      );
      expect(failures).toEqual([]);
      expect(gw.child.exitCode).toBeNull();
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }, 120_000);
});
