import { canRead } from '../auth/identity.js';
import type { SymbolCheck } from '../symbols/directory.js';
import type { ErrorCode } from '../../../protocol/src/errors.js';
import type { CandleTick } from '../../../protocol/src/ticks.js';
import { parseTopic } from '../../../protocol/src/topics.js';
import { identify, isRefusal, type AuthSetup } from './gate.js';
import { unknownSymbolErrors } from './topic-errors.js';

/** Candles one request returns by default, and at most. */
export const CANDLES_DEFAULT_LIMIT = 500;
export const CANDLES_MAX_LIMIT = 1000;

/**
 * Where the candles come from: the history store itself, or (in a worker thread) a request to
 * the primary's, which may not answer (undefined: 503).
 */
export interface CandleSource {
  query(topic: string, limit: number, before?: number): CandleTick[] | Promise<CandleTick[] | undefined>;
}

export interface CandlesDeps {
  history: CandleSource;
  auth: AuthSetup;
  symbols: SymbolCheck | undefined;
}

/** What GET /v1/candles asks, read before the handler returns. */
export interface CandlesRequest {
  topic: string;
  /** The raw query values ('' when absent). */
  limit: string;
  before: string;
  authz: string;
  queryToken: string;
  now: number;
}

/** The answer: closed candles, oldest first. A contract the SDKs code against (docs/protocol.md#candle-history). */
export interface CandlesAnswer {
  topic: string;
  candles: CandleTick[];
}

export interface CandlesRefusal {
  status: string;
  body: { op: 'err'; code: ErrorCode | 'unauthorized' | 'unavailable'; msg: string };
}

/**
 * GET /v1/candles?topic=candle.1m.BTC-USD&limit=500[&before=<t>]: closed candles of one topic with
 * t < before, the newest `limit` of them, oldest first. Same token sources, entitlements and
 * directory as a WebSocket `sub` (and GET /v1/snapshot).
 */
export function answerCandles(
  deps: CandlesDeps,
  r: CandlesRequest,
): CandlesAnswer | CandlesRefusal | Promise<CandlesAnswer | CandlesRefusal> {
  const parsed = parseTopic(r.topic);
  if (parsed?.kind !== 'candle') return refusal('400 Bad Request', 'bad_topic', 'topic=candle.<1s|1m|5m|15m|1h|1d>.<SYMBOL> is required');
  const limit = r.limit === '' ? CANDLES_DEFAULT_LIMIT : Number(r.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > CANDLES_MAX_LIMIT) {
    return refusal('400 Bad Request', 'bad_request', `limit must be an integer from 1 to ${CANDLES_MAX_LIMIT}`);
  }
  const before = r.before === '' ? undefined : Number(r.before);
  if (before !== undefined && !Number.isFinite(before)) return refusal('400 Bad Request', 'bad_request', 'before must be epoch ms');
  const who = identify(deps.auth, r);
  if (isRefusal(who)) return { status: who.status, body: { op: 'err', code: 'unauthorized', msg: who.body } };
  if (!canRead(who, r.topic)) return refusal('403 Forbidden', 'forbidden', 'not entitled to this topic');
  const suggestion = deps.symbols?.unknown(r.topic);
  if (suggestion !== undefined) {
    const e = unknownSymbolErrors(0, [{ topic: r.topic, suggestion }])[0];
    return refusal('404 Not Found', 'unknown_symbol', e?.msg ?? 'unknown symbol');
  }
  const candles = deps.history.query(r.topic, limit, before);
  if (Array.isArray(candles)) return { topic: r.topic, candles };
  return candles.then((c) =>
    c === undefined
      ? { status: '503 Service Unavailable', body: { op: 'err', code: 'unavailable', msg: 'candle history did not answer in time' } }
      : { topic: r.topic, candles: c },
  );
}

function refusal(status: string, code: ErrorCode, msg: string): CandlesRefusal {
  return { status, body: { op: 'err', code, msg } };
}

export function isCandlesRefusal(a: CandlesAnswer | CandlesRefusal): a is CandlesRefusal {
  return 'status' in a;
}
