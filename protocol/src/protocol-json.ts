import { DEFLATE_DICTIONARIES_HEX, DICTIONARY_IDS, type DictionaryName } from './deflate-dictionaries.js';
import { CODEC_SPECS } from './subprotocols.js';
import { CLOSE_CODE_RANGES, CLOSE_CODES, ERROR_CODES, STANDARD_CLOSE_CODES } from './errors.js';
import { ANNOUNCE_TOPIC, MAX_TOPIC_LENGTH, THROTTLE_INTERVALS, TOPIC_PATTERN, USER_TOPIC_PATTERN } from './topics.js';

/**
 * protocol.json: the part of the wire contract an SDK written in another language needs (the
 * Python SDK loads it at import), generated from the protocol's own tables so that no SDK keeps
 * a hand-made copy. `npm run docs:protocol` writes it to client/python/tickwire/protocol.json (inside
 * the Python package, so that pip installs it); a test fails when the committed file differs.
 *
 * The regexes are given as their source: they use only syntax that JavaScript and Python's `re`
 * read the same way, and must be matched against the whole name (Python: `re.fullmatch`).
 */
export interface ProtocolJson {
  readonly generatedBy: string;
  readonly errorCodes: Record<string, { readonly reconnect: boolean }>;
  /** Every close code with a fixed meaning: the gateway's own (`sent: true`) and RFC 6455's. */
  readonly closeCodes: readonly { readonly name: string; readonly code: number; readonly reconnect: boolean; readonly sent: boolean }[];
  /** Application codes not listed above are decided by their range; any other code means reconnect. */
  readonly closeCodeRanges: readonly { readonly first: number; readonly last: number; readonly reconnect: boolean }[];
  readonly unknownCloseCodeReconnects: true;
  /** By codec, in negotiation order: `format` is the SDKs' name of the encoding. */
  readonly subprotocols: readonly { readonly format: string; readonly subprotocol: string; readonly binary: boolean }[];
  /** The preset dictionaries of `tickwire.v1.msgpack-compact+deflate.d1`: a frame's flag byte is its dictionary's `flag`. */
  readonly deflateDictionaries: readonly { readonly flag: number; readonly name: string; readonly hex: string }[];
  readonly topics: {
    readonly marketPattern: string;
    readonly userPattern: string;
    readonly announceTopic: string;
    readonly maxTopicLength: number;
    /** Suffixes of throttled views (`<market topic>@<suffix>`) and their interval in ms. */
    readonly throttleIntervals: Readonly<Record<string, number>>;
  };
}

export function protocolJson(): ProtocolJson {
  const closeCodes = [
    ...Object.entries(CLOSE_CODES).map(([name, c]) => ({ name, code: c.code, reconnect: c.reconnect, sent: true })),
    ...Object.entries(STANDARD_CLOSE_CODES).map(([name, c]) => ({ name, code: c.code, reconnect: c.reconnect, sent: false })),
  ].sort((a, b) => a.code - b.code);
  return {
    generatedBy: 'npm run docs:protocol (protocol/src/protocol-json.ts): do not edit',
    errorCodes: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, e]) => [code, { reconnect: e.reconnect }])),
    closeCodes,
    closeCodeRanges: CLOSE_CODE_RANGES.map((r) => ({ first: r.first, last: r.last, reconnect: r.reconnect })),
    unknownCloseCodeReconnects: true,
    subprotocols: CODEC_SPECS.map((c) => ({ format: c.name, subprotocol: c.subprotocol, binary: c.binary })),
    deflateDictionaries: Object.entries(DICTIONARY_IDS).map(([name, flag]) => ({
      flag,
      name,
      hex: DEFLATE_DICTIONARIES_HEX[name as DictionaryName],
    })),
    topics: {
      marketPattern: TOPIC_PATTERN.source,
      userPattern: USER_TOPIC_PATTERN.source,
      announceTopic: ANNOUNCE_TOPIC,
      maxTopicLength: MAX_TOPIC_LENGTH,
      throttleIntervals: { ...THROTTLE_INTERVALS },
    },
  };
}

/** The file's exact text: two-space JSON and a final newline. */
export function protocolJsonText(): string {
  return `${JSON.stringify(protocolJson(), null, 2)}\n`;
}
