/**
 * @tickwire/protocol: the wire contract of tickwire protocol v1, shared by the gateway, the SDKs,
 * feeds and bench. Browser-safe: nothing here imports Node, uWS, kafkajs or pino
 * (protocol/test/browser-safe.test.ts bundles this file for the browser and fails otherwise).
 *
 * Node-side tooling is imported by path instead: `record.js` (the Kafka record format, on
 * Buffers), `fixtures.js` (wire fixtures generator) and `asyncapi.js` (the AsyncAPI document).
 */
export type { ComputedTick, EventPayload, Payload, QuoteTick, SourcePosition, Tick, TradeTick } from './ticks.js';
export {
  assertNever,
  isTopicKind,
  KINDS,
  kindSpec,
  semanticsOf,
  SYMBOL_PATTERN,
  TOPIC_KINDS,
  type KindSemantics,
  type KindSpec,
  type PayloadOf,
  type TopicKind,
  type TopicParts,
  type Validated,
  type ValidationContext,
} from './kinds.js';
export {
  ANNOUNCE_TOPIC,
  isMarketKind,
  isValidTopic,
  MARKET_KINDS,
  MAX_TOPIC_LENGTH,
  parseSubscription,
  parseTopic,
  THROTTLE_INTERVALS,
  TOPIC_PATTERN,
  USER_TOPIC_PATTERN,
  type ParsedSubscription,
  type ParsedTopic,
} from './topics.js';
export {
  isProtocolError,
  validateClientMessage,
  type ClientMessage,
  type ProtocolError,
  type ServerMessage,
  type SinceEntry,
} from './messages.js';
export * from './errors.js';
export {
  ACCEPTED_SUBPROTOCOLS,
  CODEC_SPECS,
  codecId,
  negotiateSubprotocol,
  subprotocolList,
  type CodecName,
  type Subprotocol,
} from './subprotocols.js';
export {
  createCodecs,
  deflateFrame,
  dictionaryDeflateFrame,
  dictionaryInflateFrame,
  inflateFrame,
  jsonCodec,
  msgpackCodec,
  negotiate,
  createSharedDeflateCodec,
  type RawDeflate,
  type WireCodec,
} from './codec.js';
export {
  DEFLATE_DICTIONARIES,
  DEFLATE_DICTIONARIES_HEX,
  DICTIONARY_IDS,
  dictionaryOf,
  type DictionaryName,
} from './deflate-dictionaries.js';
export { checkPayload, payloadLimits, type PayloadLimits, type PayloadProblem } from './payload.js';
export { REJECT_REASONS, TS_MAX, TS_MIN, type RejectReason, type Rejection } from './validate.js';
export {
  Book,
  BOOK_DEPTHS,
  bookChecksum,
  ChangeMerger,
  CHECKSUM_LEVELS,
  crc32Ascii,
  DEFAULT_BOOK_UNITS,
  toUnits,
  windowDiff,
  type BookChange,
  type BookDepth,
  type BookSnapshot,
  type BookUnits,
  type Level,
} from './book.js';
export {
  CANDLE_FIELDS,
  CANDLE_INTERVAL_NAMES,
  CANDLE_INTERVALS,
  isCandleInterval,
  STATS_FIELDS,
  type CandleInterval,
  type CandleTick,
  type StatsTick,
} from './candle.js';
