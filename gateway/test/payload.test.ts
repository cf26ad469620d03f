import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { checkPayload } from '../../protocol/src/payload.js';
import { jsonCodec, msgpackCodec } from '../../protocol/src/codec.js';

const LIMITS = { maxDepth: 32, maxBytes: 64 * 1024 };

/** A map nesting maps `depth` deep in all (the outer map is level 1), built without recursion. */
function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

describe('free-form payload bounds (checkPayload)', () => {
  it('rejects a value nested 2000 deep, one the send-path encoder cannot write', () => {
    const deep = nested(2000);
    expect(() => msgpackCodec.encodeUpd('sys.announce', 'sys', 1, [deep], 0, 1)).toThrow(RangeError);
    expect(checkPayload(deep, LIMITS)).toEqual({ reason: 'too_deep', detail: 'nested deeper than 32 levels' });
  });

  it('walks without recursion: a million levels of maps and of arrays overflow nothing', () => {
    let arr: unknown = 1;
    for (let i = 0; i < 1_000_000; i++) arr = [arr];
    expect(checkPayload({ a: arr }, { maxDepth: 2_000_000, maxBytes: 1e9 })).toBeUndefined();
    expect(checkPayload(nested(1_000_000), { maxDepth: 2_000_000, maxBytes: 1e9 })).toBeUndefined();
    expect(checkPayload(nested(1_000_000), LIMITS)).toMatchObject({ reason: 'too_deep' });
  });

  it('accepts exactly maxDepth levels, and everything it accepts the codecs encode', () => {
    const atLimit = nested(32);
    expect(checkPayload(atLimit, LIMITS)).toBeUndefined();
    expect(checkPayload(nested(33), LIMITS)).toMatchObject({ reason: 'too_deep' });
    expect(checkPayload({ a: [[[[1]]]] }, { maxDepth: 4, maxBytes: 1024 })).toMatchObject({ reason: 'too_deep' });
    expect(checkPayload({ a: [[[1]]] }, { maxDepth: 4, maxBytes: 1024 })).toBeUndefined();
    expect(msgpackCodec.encodeUpd('sys.announce', 'sys', 1, [atLimit], 0, 1).length).toBeGreaterThan(32);
    expect(jsonCodec.encodeUpd('sys.announce', 'sys', 1, [atLimit], 0, 1).length).toBeGreaterThan(32);
  });

  it('bounds the size at 64 KiB: strings, keys, numbers and binary all count, and the estimate is an upper bound', () => {
    const under = { msg: 'x'.repeat(60 * 1024) };
    const over = { msg: 'x'.repeat(64 * 1024) };
    expect(checkPayload(under, LIMITS)).toBeUndefined();
    expect(checkPayload(over, LIMITS)).toEqual({ reason: 'too_large', detail: 'larger than 65536 bytes' });
    // Multi-byte characters count as their UTF-8 bytes.
    expect(checkPayload({ msg: 'é'.repeat(33 * 1024) }, LIMITS)).toMatchObject({ reason: 'too_large' });
    expect(checkPayload({ n: Array.from({ length: 8000 }, (_, i) => i) }, LIMITS)).toMatchObject({ reason: 'too_large' });
    const manyKeys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`key-number-${i}`, null]));
    expect(checkPayload(manyKeys, LIMITS)).toMatchObject({ reason: 'too_large' });
    expect(checkPayload({ bin: new Uint8Array(70_000) }, LIMITS)).toMatchObject({ reason: 'too_large' });
    // The estimate is never below the real msgpack size: a limit one byte under it rejects.
    const numbers = { n: Array.from({ length: 1000 }, (_, i) => i * 1.5) };
    const samples = [under, numbers, { s: 'é'.repeat(1000), t: true, u: null, o: { p: [1, 'two'] } }];
    for (const v of samples) {
      expect(checkPayload(v, LIMITS)).toBeUndefined();
      expect(checkPayload(v, { maxDepth: 32, maxBytes: encode(v).length - 1 })).toMatchObject({ reason: 'too_large' });
    }
  });
});
