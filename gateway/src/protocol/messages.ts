import type { ErrorCode } from './errors.js';
import type { Tick } from './ticks.js';

/**
 * Protocol v1 messages. docs/protocol.md is the normative description; these types mirror it.
 * Every message is a map with an `op` field.
 */

/** Client → server. `id` is a client-chosen integer echoed in the reply. */
export type ClientMessage =
  | { op: 'sub'; id: number; topics: string[]; since?: Record<string, { epoch: string; seq: number }> }
  | { op: 'unsub'; id: number; topics: string[] }
  | { op: 'ping'; id: number };

/** Server → client. */
export type ServerMessage =
  | { op: 'ack'; id: number; topics: string[] }
  | { op: 'err'; id?: number; code: ErrorCode; msg: string; topics?: string[] }
  /** The topic's last tick; always the first message of that topic on a connection. */
  | { op: 'snap'; topic: string; seq: number; epoch: string; data: Tick; resync?: true }
  /** Consecutive ticks; `seq` is the sequence number of data[0]. */
  | { op: 'upd'; topic: string; seq: number; data: Tick[] }
  | { op: 'hb'; ts: number }
  /** The gateway is about to close every connection (graceful drain): reconnect elsewhere now. */
  | { op: 'shutdown'; ts: number; msg: string }
  | { op: 'pong'; id: number };

export type ProtocolError = { code: ErrorCode; msg: string; id?: number };

/**
 * Checks a decoded client frame. Returns the message, or the error to answer with (carrying the
 * request's `id` whenever the frame had a usable one). Unknown extra fields are ignored so that
 * clients written for a later minor version keep working.
 */
export function validateClientMessage(value: unknown, maxTopics: number): ClientMessage | ProtocolError {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    return { code: 'bad_frame', msg: 'a client frame must be a map with an "op" field' };
  }
  const v = value as Record<string, unknown>;
  const rawId = Object.hasOwn(v, 'id') ? v.id : undefined;
  const id = Number.isSafeInteger(rawId) ? (rawId as number) : undefined;
  const withId = (e: Omit<ProtocolError, 'id'>): ProtocolError => (id === undefined ? e : { ...e, id });
  const op = Object.hasOwn(v, 'op') ? v.op : undefined;

  if (op !== 'sub' && op !== 'unsub' && op !== 'ping') {
    if (typeof op !== 'string') return withId({ code: 'bad_request', msg: '"op" must be a string' });
    return withId({ code: 'unknown_op', msg: `unknown op ${JSON.stringify(op.slice(0, 32))}; expected sub, unsub or ping` });
  }
  if (id === undefined) return { code: 'bad_request', msg: `"id" must be an integer (${op})` };
  if (op === 'ping') return { op, id };

  const topics = Object.hasOwn(v, 'topics') ? v.topics : undefined;
  if (!Array.isArray(topics) || topics.length === 0) return withId({ code: 'bad_request', msg: '"topics" must be a non-empty array of strings' });
  if (topics.length > maxTopics) return withId({ code: 'too_many_topics', msg: `at most ${maxTopics} topics per request` });
  if (!topics.every((t) => typeof t === 'string')) return withId({ code: 'bad_request', msg: '"topics" must contain only strings' });
  if (op === 'unsub' || !Object.hasOwn(v, 'since') || v.since === undefined || v.since === null) return { op, id, topics: topics as string[] };
  const since = validateSince(v.since, topics as string[]);
  if (typeof since === 'string') return withId({ code: 'bad_request', msg: since });
  return { op, id, topics: topics as string[], since };
}

/**
 * `since` maps topics to `{epoch, seq}`. Only entries for topics of the request are kept (others
 * are ignored, as documented), so a client cannot make the server read an unbounded map.
 */
function validateSince(since: unknown, topics: string[]): Record<string, { epoch: string; seq: number }> | string {
  if (typeof since !== 'object' || Array.isArray(since) || since instanceof Uint8Array) return '"since" must be a map of topic to {epoch, seq}';
  const s = since as Record<string, unknown>;
  const out: Record<string, { epoch: string; seq: number }> = {};
  for (const topic of topics) {
    if (!Object.hasOwn(s, topic)) continue;
    const p = s[topic] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || typeof p.epoch !== 'string' || !Number.isSafeInteger(p.seq) || (p.seq as number) < 0) {
      return `"since" entry for ${JSON.stringify(topic.slice(0, 64))} must be {epoch: string, seq: non-negative integer}`;
    }
    out[topic] = { epoch: p.epoch, seq: p.seq as number };
  }
  return out;
}

export function isProtocolError(v: ClientMessage | ProtocolError): v is ProtocolError {
  return 'code' in v;
}
