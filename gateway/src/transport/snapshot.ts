import { canRead } from '../auth/identity.js';
import type { Hub } from '../hub/hub.js';
import type { SymbolCheck } from '../symbols/directory.js';
import type { ErrorCode } from '../../../protocol/src/errors.js';
import type { ServerMessage } from '../../../protocol/src/messages.js';
import { parseSubscription } from '../../../protocol/src/topics.js';
import { identify, isRefusal, type AuthSetup, type Refusal } from './gate.js';
import { topicError, unknownSymbolErrors } from './topic-errors.js';

export interface SnapshotDeps {
  hub: Pick<Hub<never>, 'snapshot'>;
  auth: AuthSetup;
  symbols: SymbolCheck | undefined;
  maxTopicsPerRequest: number;
}

/** What GET /v1/snapshot asks: the query and the credentials, read before the handler returns. */
export interface SnapshotRequest {
  topics: string;
  authz: string;
  queryToken: string;
  now: number;
}

type Snap = Extract<ServerMessage, { op: 'snap' }>;
/** `no_data`: the topic exists in no hub yet (no tick seen); only this endpoint says so, the stream waits instead. */
export type SnapshotErrorCode = ErrorCode | 'no_data';

export interface SnapshotAnswer {
  /** By topic: the snap a `sub` would get now (seq, epoch, and src/off when known: continue with `since`). */
  snaps: Record<string, Snap>;
  /** By topic: why it has no snap. */
  errors: Record<string, { code: SnapshotErrorCode; msg: string }>;
}

/** A whole-request refusal: status and an `err`-shaped body (counted like the stream's errors). */
export interface SnapshotRefusal {
  status: string;
  body: { op: 'err'; code: ErrorCode | 'unauthorized'; msg: string };
}

/**
 * GET /v1/snapshot?topics=a,b: each topic's current snap, under the rules of a WebSocket `sub`
 * (the same token sources, entitlements, directory and per-request topic limit). Problems with
 * single topics are answered per topic; only a missing/refused token, an empty list or one over
 * the limit refuse the request.
 */
export function answerSnapshot(deps: SnapshotDeps, r: SnapshotRequest): SnapshotAnswer | SnapshotRefusal {
  const names = [
    ...new Set(
      r.topics
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  if (names.length === 0) return refusal('400 Bad Request', 'bad_request', 'topics=<topic>,<topic>,... is required');
  if (names.length > deps.maxTopicsPerRequest) {
    return refusal('400 Bad Request', 'too_many_topics', `at most ${deps.maxTopicsPerRequest} topics per request`);
  }
  const who = identify(deps.auth, r);
  if (isRefusal(who)) return unauthorized(who);
  const answer: SnapshotAnswer = { snaps: {}, errors: {} };
  const fail = (e: Extract<ServerMessage, { op: 'err' }>): void => {
    for (const t of e.topics ?? []) answer.errors[t] = { code: e.code, msg: e.msg };
  };
  const unknown: { topic: string; suggestion: string }[] = [];
  for (const name of names) {
    if (!parseSubscription(name)) fail(topicError(undefined, 'bad_topic', [name]));
    else if (!canRead(who, name)) fail(topicError(undefined, 'forbidden', [name]));
    else {
      const suggestion = deps.symbols?.unknown(name);
      if (suggestion !== undefined) unknown.push({ topic: name, suggestion });
      else snapOf(deps, name, answer);
    }
  }
  for (const e of unknownSymbolErrors(0, unknown)) fail(e);
  return answer;
}

function snapOf(deps: SnapshotDeps, name: string, answer: SnapshotAnswer): void {
  const s = deps.hub.snapshot(name);
  if (!s) {
    answer.errors[name] = { code: 'no_data', msg: 'no tick on this topic yet' };
    return;
  }
  answer.snaps[name] = { op: 'snap', topic: name, seq: s.seq, epoch: s.epoch, data: s.data as Snap['data'], ...pos(s) };
}

const pos = (s: { src?: string; off?: number }): { src?: string; off?: number } =>
  s.src === undefined ? {} : { src: s.src, ...(s.off === undefined ? {} : { off: s.off }) };

function refusal(status: string, code: ErrorCode, msg: string): SnapshotRefusal {
  return { status, body: { op: 'err', code, msg } };
}

function unauthorized(r: Refusal): SnapshotRefusal {
  return { status: r.status, body: { op: 'err', code: 'unauthorized', msg: r.body } };
}

export function isSnapshotRefusal(a: SnapshotAnswer | SnapshotRefusal): a is SnapshotRefusal {
  return 'status' in a;
}
