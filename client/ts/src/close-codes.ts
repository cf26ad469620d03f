/**
 * Whether a WebSocket close code means "reconnect" or "stop": the protocol's one close-code
 * policy (docs/protocol.md, "Close codes"), re-exported so that the SDK never keeps a copy of it.
 * The Python SDK follows the same policy through the generated protocol.json.
 */
export {
  CLOSE_CODES,
  CLOSE_CODE_RANGES,
  STANDARD_CLOSE_CODES,
  closeAction,
  closeCodeReconnects,
  type CloseAction,
  type CloseName,
} from '../../../protocol/src/errors.js';
