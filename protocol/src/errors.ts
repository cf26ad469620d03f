/**
 * The one table of protocol error codes (sent in `err` frames) and WebSocket close codes.
 *
 * `reconnect: true` means a well-behaved client should reconnect (with backoff, resuming its
 * subscriptions); `false` means reconnecting with the same request or credentials will fail
 * again, so the client must change something first. `docs/protocol.md` mirrors this table and a
 * test (gateway/test/errors-doc.test.ts) fails when the two disagree.
 */

export interface ErrorSpec {
  /** Whether the client should retry (the request for err codes, the connection for close codes). */
  readonly reconnect: boolean;
  readonly description: string;
}

/** Codes carried by `{op:"err", code}`. The connection stays open after an `err`. */
export const ERROR_CODES = {
  bad_frame: { reconnect: false, description: 'The frame could not be decoded in the negotiated encoding (invalid msgpack or JSON, or not a map/object), or it was of the wrong frame type (text on msgpack, binary on JSON).' },
  bad_request: { reconnect: false, description: 'The frame decoded but a field is missing or has the wrong type (for example a non-integer `id` or `topics` not an array of strings).' },
  unknown_op: { reconnect: false, description: 'The `op` field names no client operation.' },
  bad_topic: { reconnect: false, description: 'A topic name does not match the topic grammar; the `topics` field of the `err` lists the offending names.' },
  too_many_topics: { reconnect: false, description: 'One request named more topics than the per-request limit.' },
  forbidden: { reconnect: false, description: 'The connection is not entitled to these topics (the token\'s topics claim, anonymousTopics, or another user\'s private channel); `topics` lists them. The other topics of the request are acknowledged.' },
  too_many_subscriptions: { reconnect: false, description: 'The connection reached maxSubscriptionsPerConnection; `topics` lists those not subscribed.' },
  too_many_waiting: { reconnect: false, description: 'The topics listed have no data yet, and subscriptions waiting for a first tick reached maxWaitingPerConnection, maxWaitingPerIp or maxWaitingTotal; they were not subscribed. Unsubscribe from topics that never get data, or retry once the topics exist.' },
  rate_limited: { reconnect: true, description: 'More than maxMessagesPerSec client messages per second (a sub/unsub naming more than topicsPerMessage topics counts once per started group of topicsPerMessage): this message was dropped. Slow down; persisting closes the connection with 4029.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * WebSocket close codes. 1000–1015 are RFC 6455 codes used with their standard meaning; 4000–4999
 * are tickwire's own (the range RFC 6455 reserves for applications).
 */
export const CLOSE_CODES = {
  normal: { code: 1000, reconnect: false, description: 'The client asked to close, or the server closed a connection it no longer needs.' },
  going_away: { code: 1001, reconnect: true, description: 'The gateway is shutting down (graceful drain). Reconnect, possibly to another instance.' },
  message_too_big: { code: 1009, reconnect: false, description: 'An inbound frame was larger than `maxPayloadLength`. A frame over twice that limit is cut by the transport without a close frame, which clients report as 1006.' },
  token_expired: { code: 4001, reconnect: true, description: 'The token of the connection expired. Reconnect with a fresh token (and resume with since).' },
  max_lifetime: { code: 4002, reconnect: true, description: 'The connection reached maxConnectionLifetimeSec. Reconnect (possibly to another instance) and resume with since.' },
  slow_consumer: { code: 4008, reconnect: true, description: 'The client read too slowly for too long: its send buffer passed maxBackpressureBytes, or it stayed conflated longer than slowTimeoutMs. Frames are never dropped silently; the connection is closed instead. Reconnect and resume with since.' },
  rate_limited: { code: 4029, reconnect: true, description: 'The client kept sending past maxMessagesPerSec after rate_limited errors. Reconnect after a backoff, and send less.' },
} as const satisfies Record<string, ErrorSpec & { code: number }>;

export type CloseName = keyof typeof CLOSE_CODES;

export function closeCode(name: CloseName): number {
  return CLOSE_CODES[name].code;
}
