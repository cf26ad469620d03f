/**
 * Whether a WebSocket close code means "reconnect" or "stop". Mirrors the gateway's close-code
 * table (docs/protocol.md, "Close codes"); a test checks this table equals the gateway's.
 */

/** The close codes the tickwire gateway sends, with its reconnect advice. */
export const CLOSE_CODES = {
  normal: { code: 1000, reconnect: false },
  going_away: { code: 1001, reconnect: true },
  message_too_big: { code: 1009, reconnect: false },
  token_expired: { code: 4001, reconnect: true },
  max_lifetime: { code: 4002, reconnect: true },
  slow_consumer: { code: 4008, reconnect: true },
  rate_limited: { code: 4029, reconnect: true },
} as const;

/**
 * RFC 6455 codes the gateway does not send but that say the client itself is at fault
 * (protocol error, unsupported data, invalid payload, policy violation, missing extension):
 * reconnecting with the same client would fail the same way.
 */
const CLIENT_FAULT_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1010]);

const BY_CODE: ReadonlyMap<number, boolean> = new Map(Object.values(CLOSE_CODES).map((c) => [c.code, c.reconnect]));

/**
 * True when a connection closed with `code` should be re-established (with backoff).
 *
 * - Codes in {@link CLOSE_CODES}: the gateway's advice (1001, 4001, 4002, 4008, 4029 yes; 1000
 *   and 1009 no).
 * - 1002, 1003, 1007, 1008, 1010 (the client is at fault): no.
 * - Anything else, notably 1006 (connection lost without a close frame), 1005, 1011–1014 and
 *   application codes this SDK does not know: yes. A lost link is the normal case for a
 *   reconnect, and backoff bounds the cost of retrying an unknown code.
 */
export function closeCodeReconnects(code: number): boolean {
  const known = BY_CODE.get(code);
  if (known !== undefined) return known;
  return !CLIENT_FAULT_CODES.has(code);
}
