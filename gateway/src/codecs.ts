import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  createCodecs,
  deflateFrame as deflateFrameWith,
  dictionaryInflateFrame,
  inflateFrame as inflateFrameWith,
  jsonCodec,
  msgpackCodec,
  negotiate as negotiateIn,
  type RawDeflate,
  type WireCodec,
} from '../../protocol/src/codec.js';
import type { UnitsOf } from '../../protocol/src/compact.js';
import { codecId } from '../../protocol/src/subprotocols.js';
import type { SymbolDirectory } from './symbols/directory.js';

/**
 * zlib settings for the dictionary codec (`tickwire.v1.msgpack-compact+deflate.d1`): its frames
 * are small (tens of bytes to a few kB) and its dictionaries ≤ 1.3 kB, so a 4 KiB window
 * (windowBits 12) and a small hash (memLevel 5) lose nothing in size, while each call allocates and
 * clears far less state than zlib's defaults (32 KiB window, memLevel 8). Any inflater with the
 * default 32 KiB window reads the result.
 */
const DICTIONARY_OPTIONS = { windowBits: 12, memLevel: 5 } as const;

/**
 * The gateway's codec list: the protocol's codecs with node:zlib as the raw DEFLATE of the
 * shared-deflate subprotocol. The protocol package stays browser-safe by taking DEFLATE as a
 * parameter; this is the one place the gateway supplies it.
 */
export const nodeDeflate: RawDeflate = {
  deflate: (data, dictionary) => (dictionary ? deflateRawSync(data, { dictionary, ...DICTIONARY_OPTIONS }) : deflateRawSync(data)),
  inflate: (data, dictionary) => (dictionary ? inflateRawSync(data, { dictionary }) : inflateRawSync(data)),
};

/** Indexed by `WireCodec.id`. */
export const CODECS: readonly WireCodec[] = createCodecs(nodeDeflate);

export const sharedDeflateCodec = CODECS[codecId('msgpack+deflate')] as WireCodec;

export { jsonCodec, msgpackCodec, type WireCodec };

export const deflateFrame = (frame: Uint8Array): Uint8Array => deflateFrameWith(frame, nodeDeflate);

/** Inverse of deflateFrame (tests and tools). */
export const inflateFrame = (frame: Uint8Array): Uint8Array => inflateFrameWith(frame, nodeDeflate);

/** The compact frame inside a `tickwire.v1.msgpack-compact+deflate.d1` frame (tests and tools). */
export const inflateCompactFrame = (frame: Uint8Array): Uint8Array => dictionaryInflateFrame(frame, nodeDeflate);

/** The codec for a `Sec-WebSocket-Protocol` header, or undefined when only unknown subprotocols are offered. */
export const negotiate = (header: string): WireCodec | undefined => negotiateIn(header, CODECS);

/**
 * A codec list for one hub whose compact codec (`tickwire.v1.msgpack-compact`) takes each symbol's
 * tick and lot sizes from the symbol directory. The directory is created after the hub (startup
 * order of gateway.ts and cluster/worker.ts), so it is read through a getter at each lookup; until then,
 * and for symbols it does not know, the compact codec uses the default units. The codec ids are
 * those of CODECS, so transports negotiate and encode control frames with CODECS alike.
 */
export function directoryCodecs(directory: () => SymbolDirectory | undefined): readonly WireCodec[] {
  const units: UnitsOf = (symbol) => {
    const info = directory()?.get(symbol);
    return info && { tick: info.tickSize, lot: info.lotSize };
  };
  return createCodecs(nodeDeflate, units);
}
