/**
 * The preset dictionaries of `tickwire.v1.msgpack-compact+deflate.d1`, indexed by flag byte (1
 * common, 2 trade, 3 quote, 4 book; 0, a stored frame, has none): the protocol's own bytes, bundled
 * with the SDK like its other protocol modules. docs/protocol.md, "Compact with shared deflate".
 */
export { DEFLATE_DICTIONARIES as DICTIONARIES } from '../../../protocol/src/deflate-dictionaries.js';

/**
 * Raw DEFLATE data that starts with `dictionary` in its window, rewritten so that any inflater
 * without dictionary support (DecompressionStream, zlib.inflateRawSync without options) reads it:
 * the dictionary goes in front as a non-final stored block (RFC 1951 §3.2.4: header byte 0, then
 * LEN and its complement, then the bytes), which ends on a byte boundary where the compressed
 * blocks begin, with the dictionary already in the window for their back-references. The
 * inflated output is then the dictionary followed by the frame: drop `dictionary.length` bytes.
 */
export function prefixDictionary(dictionary: Uint8Array, deflated: Uint8Array): Uint8Array {
  const n = dictionary.length; // < 65536: one stored block
  const out = new Uint8Array(5 + n + deflated.length);
  out[0] = 0x00;
  out[1] = n & 0xff;
  out[2] = n >> 8;
  out[3] = ~n & 0xff;
  out[4] = (~n >> 8) & 0xff;
  out.set(dictionary, 5);
  out.set(deflated, 5 + n);
  return out;
}
