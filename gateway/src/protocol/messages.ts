import type { ErrorCode } from './errors.js';
import type { Tick } from './ticks.js';

/**
 * Protocol v1 messages. docs/protocol.md is the normative description; these types mirror it.
 * Every message is a map with an `op` field.
 */

/** Client → server. `id` is a client-chosen integer echoed in the reply. */
export type ClientMessage =
  | { op: 'sub'; id: number; topics: string[] }
  | { op: 'unsub'; id: number; topics: string[] }
  | { op: 'ping'; id: number };

/** Server → client. */
export type ServerMessage =
  | { op: 'ack'; id: number; topics: string[] }
  | { op: 'err'; id?: number; code: ErrorCode; msg: string; topics?: string[] }
  /** The topic's last tick; always the first message of that topic on a connection. */
  | { op: 'snap'; topic: string; seq: number; epoch: string; data: Tick }
  /** Consecutive ticks; `seq` is the sequence number of data[0]. */
  | { op: 'upd'; topic: string; seq: number; data: Tick[] }
  | { op: 'hb'; ts: number }
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
  return { op, id, topics: topics as string[] };
}

export function isProtocolError(v: ClientMessage | ProtocolError): v is ProtocolError {
  return 'code' in v;
}
