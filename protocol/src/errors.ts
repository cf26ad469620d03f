/**
 * The one table of protocol error codes (sent in `err` frames) and WebSocket close codes.
 *
 * `reconnect: true` means a well-behaved client should reconnect (with backoff, resuming its
 * subscriptions); `false` means reconnecting with the same request or credentials will fail
 * again, so the client must change something first. `docs/protocol.md` mirrors this table and a
 * test (gateway/test/docs.test.ts) fails when the two disagree. Both SDKs follow {@link closeAction}
 * (the Python SDK through the generated protocol.json, see protocol-json.ts).
 */

export interface ErrorSpec {
  /** Whether the client should retry (the request for err codes, the connection for close codes). */
  readonly reconnect: boolean;
  readonly description: string;
}

/** Codes carried by `{op:"err", code}`. The connection stays open after an `err`. */
export const ERROR_CODES = {
  bad_frame: {
    reconnect: false,
    description:
      'The frame could not be decoded in the negotiated encoding (invalid msgpack or JSON, or not a map/object), or it was of ' +
      'the wrong frame type (text on msgpack, binary on JSON).',
  },
  bad_request: {
    reconnect: false,
    description:
      'The frame decoded but a field is missing or has the wrong type (for example a non-integer `id` or `topics` not an array ' +
      'of strings).',
  },
  unknown_op: { reconnect: false, description: 'The `op` field names no client operation.' },
  bad_topic: {
    reconnect: false,
    description: 'A topic name does not match the topic grammar; the `topics` field of the `err` lists the offending names.',
  },
  too_many_topics: { reconnect: false, description: 'One request named more topics than the per-request limit.' },
  forbidden: {
    reconnect: false,
    description:
      "The connection is not entitled to these topics (the token's topics claim, anonymousTopics, or another user's private " +
      'channel); `topics` lists them. The other topics of the request are acknowledged.',
  },
  unknown_symbol: {
    reconnect: false,
    description:
      "The symbol of a market topic is not in the gateway's symbol directory (GET /v1/symbols); `topics` lists those topics, " +
      'and `msg` suggests a close match when there is one. The other topics of the request are acknowledged. ' +
      'Without a directory every symbol is accepted.',
  },
  too_many_subscriptions: {
    reconnect: false,
    description: 'The connection reached maxSubscriptionsPerConnection; `topics` lists those not subscribed.',
  },
  too_many_waiting: {
    reconnect: false,
    description:
      'The topics listed have no data yet, and subscriptions waiting for a first tick reached maxWaitingPerConnection, ' +
      'maxWaitingPerIp or maxWaitingTotal; they were not subscribed. Unsubscribe from topics that never get data, or retry once ' +
      'the topics exist.',
  },
  rate_limited: {
    reconnect: true,
    description:
      'More than maxMessagesPerSec client messages per second (a sub/unsub naming more than topicsPerMessage topics counts once ' +
      'per started group of topicsPerMessage): this message was dropped. Slow down; persisting closes the connection with 4029.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * WebSocket close codes the gateway sends. 1000–1015 are RFC 6455 codes used with their standard
 * meaning; 4000–4999 are tickwire's own (the range RFC 6455 reserves for applications), and each
 * one's `reconnect` must agree with its range in {@link CLOSE_CODE_RANGES}.
 */
export const CLOSE_CODES = {
  normal: { code: 1000, reconnect: false, description: 'The client asked to close, or the server closed a connection it no longer needs.' },
  going_away: {
    code: 1001,
    reconnect: true,
    description: 'The gateway is shutting down (graceful drain). Reconnect, possibly to another instance.',
  },
  message_too_big: {
    code: 1009,
    reconnect: false,
    description:
      'An inbound frame was larger than `maxPayloadLength`. A frame over twice that limit is cut by the transport without a ' +
      'close frame, which clients report as 1006.',
  },
  token_expired: {
    code: 4001,
    reconnect: true,
    description: 'The token of the connection expired. Reconnect with a fresh token (and resume with since).',
  },
  max_lifetime: {
    code: 4002,
    reconnect: true,
    description: 'The connection reached maxConnectionLifetimeSec. Reconnect (possibly to another instance) and resume with since.',
  },
  slow_consumer: {
    code: 4008,
    reconnect: true,
    description:
      'The client read too slowly for too long: its send buffer passed maxBackpressureBytes, or it stayed conflated longer than ' +
      'slowTimeoutMs. Frames are never dropped silently; the connection is closed instead. Reconnect and resume with since.',
  },
  rate_limited: {
    code: 4029,
    reconnect: true,
    description: 'The client kept sending past maxMessagesPerSec after rate_limited errors. Reconnect after a backoff, and send less.',
  },
} as const satisfies Record<string, ErrorSpec & { code: number }>;

export type CloseName = keyof typeof CLOSE_CODES;

export function closeCode(name: CloseName): number {
  return CLOSE_CODES[name].code;
}

/**
 * RFC 6455 codes the gateway does not send itself but that a client still sees (from its own
 * WebSocket library, a proxy, or a lost link). The client-fault ones (1002, 1003, 1007, 1008,
 * 1010) say the client broke the protocol: reconnecting with the same client fails the same way.
 */
export const STANDARD_CLOSE_CODES = {
  protocol_error: { code: 1002, reconnect: false, description: 'The peer broke the WebSocket protocol.' },
  unsupported_data: { code: 1003, reconnect: false, description: 'A frame of a type the peer cannot accept.' },
  no_status: { code: 1005, reconnect: true, description: 'The close frame carried no code.' },
  abnormal: { code: 1006, reconnect: true, description: 'The link was lost without a close frame.' },
  invalid_payload: { code: 1007, reconnect: false, description: 'A frame whose data was inconsistent with its type (e.g. invalid UTF-8).' },
  policy_violation: { code: 1008, reconnect: false, description: 'The peer violated a policy.' },
  mandatory_extension: { code: 1010, reconnect: false, description: 'The server did not negotiate an extension the client requires.' },
  internal_error: { code: 1011, reconnect: true, description: 'The server hit an unexpected condition.' },
  service_restart: { code: 1012, reconnect: true, description: 'The server is restarting.' },
  try_again_later: { code: 1013, reconnect: true, description: 'The server is overloaded for now.' },
  bad_gateway: { code: 1014, reconnect: true, description: 'A proxy got an invalid answer from upstream.' },
} as const satisfies Record<string, ErrorSpec & { code: number }>;

/**
 * tickwire's application codes by range (as Centrifugo's disconnect codes are): a code the
 * client does not know is decided by its range, so a new code added to a range later needs no
 * SDK release. Today's codes (4001, 4002, 4008, 4029) are all in the reconnect range.
 */
export const CLOSE_CODE_RANGES = [
  { first: 4000, last: 4499, reconnect: true, description: 'Transient: reconnect with backoff and resume with since.' },
  {
    first: 4500,
    last: 4999,
    reconnect: false,
    description: 'Terminal: connecting again the same way fails the same way; change something first.',
  },
] as const satisfies readonly (ErrorSpec & { first: number; last: number })[];

export type CloseAction = 'reconnect' | 'stop';

const KNOWN_CLOSE_CODES: ReadonlyMap<number, boolean> = new Map(
  [...Object.values(CLOSE_CODES), ...Object.values(STANDARD_CLOSE_CODES)].map((c) => [c.code, c.reconnect]),
);

/**
 * The one close-code policy both SDKs follow: a code in {@link CLOSE_CODES} or
 * {@link STANDARD_CLOSE_CODES} by its entry, a code in 4000–4999 by its range, and anything else
 * (other RFC 6455 or registered codes, codes of proxies) `reconnect`: a lost link is the normal
 * case for reconnecting, and backoff bounds the cost of retrying a code nobody specified.
 */
export function closeAction(code: number): CloseAction {
  const known = KNOWN_CLOSE_CODES.get(code);
  if (known !== undefined) return known ? 'reconnect' : 'stop';
  const range = CLOSE_CODE_RANGES.find((r) => code >= r.first && code <= r.last);
  return range === undefined || range.reconnect ? 'reconnect' : 'stop';
}

/** {@link closeAction} as a boolean: true when a connection closed with `code` should be re-established (with backoff). */
export function closeCodeReconnects(code: number): boolean {
  return closeAction(code) === 'reconnect';
}
