import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  createCodecs,
  deflateFrame as deflateFrameWith,
  inflateFrame as inflateFrameWith,
  jsonCodec,
  msgpackCodec,
  negotiate as negotiateIn,
  type RawDeflate,
  type WireCodec,
} from '../../protocol/src/codec.js';
import { codecId } from '../../protocol/src/subprotocols.js';

/**
 * The gateway's codec list: the protocol's codecs with node:zlib as the raw DEFLATE of the
 * shared-deflate subprotocol. The protocol package stays browser-safe by taking DEFLATE as a
 * parameter; this is the one place the gateway supplies it.
 */
export const nodeDeflate: RawDeflate = {
  deflate: (data) => deflateRawSync(data),
  inflate: (data) => inflateRawSync(data),
};

/** Indexed by `WireCodec.id`. */
export const CODECS: readonly WireCodec[] = createCodecs(nodeDeflate);

export const sharedDeflateCodec = CODECS[codecId('msgpack+deflate')] as WireCodec;

export { jsonCodec, msgpackCodec, type WireCodec };

export const deflateFrame = (frame: Uint8Array): Uint8Array => deflateFrameWith(frame, nodeDeflate);

/** Inverse of deflateFrame (tests and tools). */
export const inflateFrame = (frame: Uint8Array): Uint8Array => inflateFrameWith(frame, nodeDeflate);

/** The codec for a `Sec-WebSocket-Protocol` header, or undefined when only unknown subprotocols are offered. */
export const negotiate = (header: string): WireCodec | undefined => negotiateIn(header, CODECS);
