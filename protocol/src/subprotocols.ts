/**
 * The wire encodings of protocol v1, in codec-id order: a codec's id is its position here, and
 * the WebSocket subprotocols a gateway accepts are exactly these. Append only: ids are stored
 * per subscriber and exchanged between workers, so reordering would renumber live codecs.
 */
export const CODEC_SPECS = [
  { name: 'msgpack', subprotocol: 'tickwire.v1.msgpack', binary: true },
  { name: 'json', subprotocol: 'tickwire.v1.json', binary: false },
  { name: 'msgpack+deflate', subprotocol: 'tickwire.v1.msgpack+deflate', binary: true },
  { name: 'msgpack-compact', subprotocol: 'tickwire.v1.msgpack-compact', binary: true },
  // `d1`: version 1 of the preset dictionaries (deflate-dictionaries.ts); other bytes, another name.
  { name: 'msgpack-compact+deflate', subprotocol: 'tickwire.v1.msgpack-compact+deflate.d1', binary: true },
] as const satisfies readonly { name: string; subprotocol: `tickwire.v1.${string}`; binary: boolean }[];

export type CodecName = (typeof CODEC_SPECS)[number]['name'];
export type Subprotocol = (typeof CODEC_SPECS)[number]['subprotocol'];

/** The `Sec-WebSocket-Protocol` values a gateway accepts, in codec-id order. */
export const ACCEPTED_SUBPROTOCOLS: readonly Subprotocol[] = CODEC_SPECS.map((c) => c.subprotocol);

/** The codec id (position in CODEC_SPECS) of a codec name. */
export function codecId(name: CodecName): number {
  return CODEC_SPECS.findIndex((c) => c.name === name);
}

/** The codec of a client that offers no subprotocol. */
export const NO_OFFER_CODEC: CodecName = 'json';
const NO_OFFER_CODEC_ID = codecId(NO_OFFER_CODEC);

/**
 * Picks the codec id for a `Sec-WebSocket-Protocol` header: the first offered subprotocol we
 * know, JSON when none is offered, and `undefined` when only unknown ones are. JSON because a client
 * that offers nothing is a person at a terminal (wscat, websocat) who reads text; browsers and the
 * SDKs always offer one, so the binary default served nobody.
 */
export function negotiateSubprotocol(header: string): number | undefined {
  const offered = header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (offered.length === 0) return NO_OFFER_CODEC_ID;
  for (const p of offered) {
    const id = ACCEPTED_SUBPROTOCOLS.indexOf(p as Subprotocol);
    if (id !== -1) return id;
  }
  return undefined;
}

/** "a, b or c": the accepted subprotocols as a human reads them in an error message. */
export function subprotocolList(conjunction = 'or'): string {
  const all = [...ACCEPTED_SUBPROTOCOLS];
  const last = all.pop();
  return all.length === 0 ? String(last) : `${all.join(', ')} ${conjunction} ${last}`;
}
