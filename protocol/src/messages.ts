import type { ErrorCode } from './errors.js';
import type { Tick } from './ticks.js';

/**
 * Protocol v1 messages. docs/protocol.md is the normative description; these types mirror it.
 * Every message is a map with an `op` field.
 */

/**
 * A resume point: the epoch and seq of the last tick the client processed and, when the gateway
 * gave them, that tick's upstream position (`src`, `off`), which another instance can find.
 */
export interface SinceEntry {
  epoch: string;
  seq: number;
  src?: string;
  off?: number;
}

/** Client → server. `id` is a client-chosen integer echoed in the reply. */
export type ClientMessage =
  | { op: 'sub'; id: number; topics: string[]; since?: Record<string, SinceEntry> }
  | { op: 'unsub'; id: number; topics: string[] }
  | { op: 'ping'; id: number };

/** Server → client. */
export type ServerMessage =
  | { op: 'ack'; id: number; topics: string[] }
  | { op: 'err'; id?: number; code: ErrorCode; msg: string; topics?: string[] }
  /** The topic's last tick; always the first message of that topic on a connection. */
  | { op: 'snap'; topic: string; seq: number; epoch: string; data: Tick; resync?: true; src?: string; off?: number }
  /** Consecutive ticks; `seq` is the sequence number of data[0]; `off` the upstream offset of the last one. */
  | { op: 'upd'; topic: string; seq: number; data: Tick[]; off?: number }
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
  if (!Array.isArray(topics) || topics.length === 0)
    return withId({ code: 'bad_request', msg: '"topics" must be a non-empty array of strings' });
  if (topics.length > maxTopics) return withId({ code: 'too_many_topics', msg: `at most ${maxTopics} topics per request` });
  if (!topics.every((t) => typeof t === 'string')) return withId({ code: 'bad_request', msg: '"topics" must contain only strings' });
  if (op === 'unsub' || !Object.hasOwn(v, 'since') || v.since === undefined || v.since === null) return { op, id, topics: topics };
  const since = validateSince(v.since, topics);
  if (typeof since === 'string') return withId({ code: 'bad_request', msg: since });
  return { op, id, topics: topics, since };
}

/** Longest `src` accepted in `since`: the gateway's own are far shorter (cluster id, topic, partition). */
const MAX_SRC_LENGTH = 512;

/**
 * `since` maps topics to `{epoch, seq, src?, off?}`. Only entries for topics of the request are
 * kept (others are ignored, as documented), so a client cannot make the server read an
 * unbounded map. `src` and `off` come together or not at all.
 */
function validateSince(since: unknown, topics: string[]): Record<string, SinceEntry> | string {
  if (typeof since !== 'object' || Array.isArray(since) || since instanceof Uint8Array)
    return '"since" must be a map of topic to {epoch, seq}';
  const s = since as Record<string, unknown>;
  const out: Record<string, SinceEntry> = {};
  for (const topic of topics) {
    if (!Object.hasOwn(s, topic)) continue;
    const p = s[topic] as Record<string, unknown> | null;
    const what = `"since" entry for ${JSON.stringify(topic.slice(0, 64))}`;
    if (typeof p !== 'object' || p === null || typeof p.epoch !== 'string' || !Number.isSafeInteger(p.seq) || (p.seq as number) < 0) {
      return `${what} must be {epoch: string, seq: non-negative integer}`;
    }
    const src = Object.hasOwn(p, 'src') && p.src !== null ? p.src : undefined;
    const off = Object.hasOwn(p, 'off') && p.off !== null ? p.off : undefined;
    if (src === undefined && off === undefined) {
      out[topic] = { epoch: p.epoch, seq: p.seq as number };
      continue;
    }
    if (typeof src !== 'string' || src.length === 0 || src.length > MAX_SRC_LENGTH || !Number.isSafeInteger(off) || (off as number) < 0) {
      return `${what}: "src" (a string of at most ${MAX_SRC_LENGTH} characters) and "off" (a non-negative integer) go together`;
    }
    out[topic] = { epoch: p.epoch, seq: p.seq as number, src, off: off as number };
  }
  return out;
}

export function isProtocolError(v: ClientMessage | ProtocolError): v is ProtocolError {
  return 'code' in v;
}
