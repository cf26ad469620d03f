import { SignJWT } from 'jose';

/** The HS256 secret of the tests' gateways in `authMode: 'jwt'` (at least 32 bytes, as the config requires). */
export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

/** A token signed with TEST_JWT_SECRET carrying `claims`, expiring `expSec` seconds from now (negative: already expired). */
export function testJwt(claims: Record<string, unknown>, expSec = 600): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSec)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}
