import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { createCodecs, negotiate as negotiateIn, type RawDeflate, type WireCodec } from '../../src/codec.js';

/** Tests run on Node: node:zlib is the DEFLATE here, as in the gateway (gateway/src/codecs.ts). */
export const testDeflate: RawDeflate = {
  deflate: (d, dictionary) => deflateRawSync(d, dictionary && { dictionary }),
  inflate: (d, dictionary) => inflateRawSync(d, dictionary && { dictionary }),
};

export const CODECS: readonly WireCodec[] = createCodecs(testDeflate);

export const negotiate = (header: string): WireCodec | undefined => negotiateIn(header, CODECS);
