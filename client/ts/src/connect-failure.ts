/**
 * Why a connection attempt failed before the socket opened, in words a user can act on. The
 * WebSocket API hides the HTTP answer of a refused upgrade (browsers report only 1006), so the
 * details come from what the implementation exposes: `ws` (Node) reports the TCP error code and,
 * through `unexpected-response`, the HTTP status and body; browsers only the close code.
 */

/**
 * `refused`: nothing listens; `not_tickwire`: an HTTP server that is not a tickwire endpoint;
 * `auth`: the gateway refused the credentials or origin; `timeout`: no answer; `failed`: anything
 * else (another 4xx is terminal, a lost socket or 5xx is not).
 */
export type ConnectFailureKind = 'refused' | 'not_tickwire' | 'auth' | 'timeout' | 'failed';

export interface ConnectFailure {
  kind: ConnectFailureKind;
  message: string;
  /** Retrying the same request cannot succeed (wrong path, credentials refused). */
  terminal: boolean;
  /** HTTP status of a refused upgrade. */
  status?: number;
  /** WebSocket close code the attempt ended with, when it ended with one. */
  closeCode?: number;
}

/** The SDK error code ({@link TickwireError.code}) of a failed first connect, per kind. */
export const CONNECT_ERROR_CODES: Readonly<Record<ConnectFailureKind, string>> = {
  refused: 'connect_refused',
  not_tickwire: 'not_tickwire',
  auth: 'auth_refused',
  timeout: 'connect_timeout',
  failed: 'connect_failed',
};

const MAX_BODY = 300;

/** A non-101 answer to the upgrade. The body is quoted only when it is short plain text (the gateway's reason), never HTML. */
export function httpFailure(url: string, status: number, contentType: string | undefined, body: string): ConnectFailure {
  const text = /html/i.test(contentType ?? '') || /^\s*</.test(body) ? '' : body.replace(/\s+/g, ' ').trim().slice(0, MAX_BODY);
  if (status === 401 || status === 403) {
    return { kind: 'auth', status, terminal: true, message: `authentication refused at ${url} (HTTP ${status})${text ? `: ${text}` : ''}` };
  }
  // Overload or a gateway still starting behind a proxy: worth another attempt.
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'failed', status, terminal: false, message: `HTTP ${status} from ${url}${text ? `: ${text}` : ''}` };
  }
  // What a web server answers for a page (200, a redirect, 404, 405): not the WebSocket endpoint.
  if (status < 400 || status === 404 || status === 405) {
    const message = `HTTP ${status} from ${url} is not a tickwire endpoint; the path is /v1`;
    return { kind: 'not_tickwire', status, terminal: true, message };
  }
  // Another 4xx is the gateway refusing this request (e.g. 400: a subprotocol it does not speak).
  return { kind: 'failed', status, terminal: true, message: `upgrade refused at ${url} (HTTP ${status})${text ? `: ${text}` : ''}` };
}

/** The socket closed before opening; `error` is what its `error` event carried (`ws` puts the Node error in `.error`). */
export function closeFailure(url: string, code: number, reason: string, error: unknown): ConnectFailure {
  const e = (error as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const errno = typeof e?.code === 'string' ? e.code : undefined;
  if (errno === 'ECONNREFUSED') return { kind: 'refused', terminal: false, closeCode: code, message: `connection refused at ${url}` };
  if (errno === 'ETIMEDOUT') {
    return { kind: 'timeout', terminal: false, closeCode: code, message: `no answer from ${url} (TCP connect timed out)` };
  }
  const detail = typeof e?.message === 'string' && e.message ? `: ${e.message}` : '';
  return { kind: 'failed', terminal: false, closeCode: code, message: `connection failed (${code}${reason ? ` ${reason}` : ''})${detail}` };
}

/** One attempt was not open after `connectTimeoutMs` (connect() words its own rejection). */
export function timeoutFailure(ms: number): ConnectFailure {
  return { kind: 'timeout', terminal: false, message: `connect timeout after ${ms} ms` };
}
