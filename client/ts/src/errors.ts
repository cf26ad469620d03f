/**
 * Errors the SDK hands to the application.
 */

/**
 * A request failed (`err` from the server: `code` is from the protocol's error table, e.g.
 * `bad_topic`), or the client could not complete it (`code` is one of the SDK's own:
 * `not_connected`, `connection_lost`, `closed`, `protocol_error`).
 */
export class TickwireError extends Error {
  override readonly name = 'TickwireError';
  constructor(
    /** Server error code (`bad_topic`, `bad_request`, …) or SDK code (`not_connected`, `connection_lost`, `closed`, `protocol_error`). */
    readonly code: string,
    message: string,
    /** The topics the error is about, when it is about topics. */
    readonly topics?: readonly string[],
    /** For `closed`: the WebSocket close code that ended the client. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/**
 * The gateway's `err` codes, each with whether sending the same request again can succeed
 * (docs/protocol.md, "Errors"): the protocol's table itself, not a copy.
 */
export { ERROR_CODES, type ErrorCode } from '../../../protocol/src/errors.js';
