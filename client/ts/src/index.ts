/**
 * tickwire client SDK (protocol v1). Browser and Node; ESM; no Node-only imports.
 *
 * @packageDocumentation
 */
export { TickwireClient, type TickwireClientOptions, type ConnectOptions, type TopicState, type StatusStream } from './client.js';
export { CONNECT_ERROR_CODES, type ConnectFailure, type ConnectFailureKind } from './connect-failure.js';
export { Subscription, type SubscriptionListener } from './subscription.js';
export { ERROR_CODES, TickwireError } from './errors.js';
export { CLOSE_CODES, CLOSE_CODE_RANGES, STANDARD_CLOSE_CODES, closeAction, closeCodeReconnects, type CloseAction } from './close-codes.js';
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export type { ReconnectPolicy } from './connection.js';
export { SseSocket, sseEndpointOf, type FetchLike, type SseSocketOptions } from './sse-socket.js';
export { snapshotEndpointOf, type Snapshot, type TopicSnapshot } from './snapshot.js';
/**
 * Order books: `client.book(symbol, { depth, throttle })` returns an {@link OrderBook}, kept from
 * the topic's snapshots and change sets and verified by checksum ({@link bookChecksum}, the
 * protocol's) after each, resyncing by itself on a mismatch.
 */
export {
  OrderBook,
  bookTopic,
  bookChecksum,
  BOOK_DEPTHS,
  BOOK_THROTTLES,
  CHECKSUM_LEVELS,
  MAX_CHECKSUM_RESYNCS,
  type BookOptions,
  type BookThrottle,
  type BookEvent,
  type BookSnapshotReason,
  type BookChange,
  type BookDepth,
  type BookSnapshot,
  type BookUnits,
  type Level,
} from './book.js';
/**
 * Candles: `client.candles(topic, { history })` returns a {@link CandleStream}, closed history from
 * `GET /v1/candles` then live updates, ordered across the seam; `client.candleHistory` is the single request.
 */
export {
  CandleStream,
  CANDLE_INTERVALS,
  MAX_REPAIR_CANDLES,
  candleInterval,
  type Candle,
  type CandleEvent,
  type CandleInterval,
  type CandlesOptions,
} from './candles.js';
export {
  SUBPROTOCOLS,
  offeredSubprotocols,
  encodeClientMessage,
  decodeServerFrame,
  parseServerMessage,
  inflateRawStream,
  FrameError,
  type InflateRaw,
} from './codec.js';
export type * from './types.js';
