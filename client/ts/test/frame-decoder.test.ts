import { encode } from '@msgpack/msgpack';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { FrameError } from '../src/codec.js';
import { FrameDecoder } from '../src/frame-decoder.js';
import type { DecodedMessage } from '../src/types.js';
import { WAIT_MS } from '../../../gateway/test/support/wait.js';
import { waitUntil } from './support/util.js';

const hb = (ts: number) => ({ op: 'hb', ts });
const plain = (m: unknown) => Buffer.concat([Buffer.from([0]), encode(m)]);
const packed = (m: unknown) => Buffer.concat([Buffer.from([1]), deflateRawSync(encode(m))]);

/** An inflater whose calls the test completes by hand, in any order. */
function manualInflate() {
  const calls: Array<{ data: Uint8Array; resolve: () => void; reject: (e: Error) => void }> = [];
  const inflate = (data: Uint8Array) =>
    new Promise<Uint8Array>((resolve, reject) => {
      calls.push({ data, resolve: () => resolve(inflateRawSync(data)), reject });
    });
  return { calls, inflate };
}

/** One macrotask turn: every promise callback queued by a resolved inflate has run (no fixed delay). */
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('FrameDecoder: ordered delivery with async decompression', () => {
  it('delivers plain frames synchronously while nothing is pending', () => {
    const out: DecodedMessage[] = [];
    const d = new FrameDecoder(
      'msgpack+deflate',
      (m) => out.push(m),
      () => {},
    );
    d.push(plain(hb(1)));
    expect(out).toEqual([hb(1)]);
    const m = new FrameDecoder(
      'msgpack',
      (x) => out.push(x),
      () => {},
    );
    m.push(encode(hb(2)));
    expect(out).toEqual([hb(1), hb(2)]);
  });

  it('a plain frame waits for an earlier compressed one; compressed frames finishing out of order are delivered in order', async () => {
    const out: number[] = [];
    const { calls, inflate } = manualInflate();
    const d = new FrameDecoder(
      'msgpack+deflate',
      (m) => out.push((m as { ts: number }).ts),
      () => {},
      inflate,
    );
    d.push(packed(hb(1)));
    d.push(plain(hb(2)));
    d.push(packed(hb(3)));
    d.push(plain(hb(4)));
    expect(out).toEqual([]); // 2 and 4 are ready but must wait for 1 and 3
    expect(d.pending).toBe(4);
    calls[1]!.resolve(); // frame 3 finishes first
    await flush();
    expect(out).toEqual([]);
    calls[0]!.resolve();
    await flush();
    expect(out).toEqual([1, 2, 3, 4]);
    expect(d.pending).toBe(0);
    d.push(plain(hb(5))); // nothing pending again: synchronous
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops at the first undecodable frame, after delivering the ones before it', async () => {
    const out: number[] = [];
    const errors: FrameError[] = [];
    const { calls, inflate } = manualInflate();
    const d = new FrameDecoder(
      'msgpack+deflate',
      (m) => out.push((m as { ts: number }).ts),
      (e) => errors.push(e),
      inflate,
    );
    d.push(packed(hb(1)));
    d.push(Buffer.from([7, 1, 2])); // bad flag byte
    d.push(plain(hb(3)));
    calls[0]!.resolve();
    await flush();
    expect(out).toEqual([1]);
    expect(errors.map((e) => e.message)).toEqual(['unknown flag byte 0x07']);
    d.push(plain(hb(4)));
    expect(out).toEqual([1]);
  });

  it('delivers nothing after cancel()', async () => {
    const out: unknown[] = [];
    const { calls, inflate } = manualInflate();
    const d = new FrameDecoder(
      'msgpack+deflate',
      (m) => out.push(m),
      () => {},
      inflate,
    );
    d.push(packed(hb(1)));
    d.cancel();
    calls[0]!.resolve();
    await flush();
    d.push(plain(hb(2)));
    expect(out).toEqual([]);
  });

  it('keeps order with the real DecompressionStream over a mixed burst', async () => {
    const out: number[] = [];
    const d = new FrameDecoder(
      'msgpack+deflate',
      (m) => out.push((m as { ts: number }).ts),
      (e) => {
        throw e;
      },
    );
    const big = (ts: number) => ({ op: 'hb', ts, pad: 'x'.repeat(5000 + ts) });
    for (let i = 0; i < 200; i++) d.push(i % 3 === 0 ? plain(hb(i)) : packed(big(i)));
    await waitUntil(() => out.length === 200, WAIT_MS, 'all 200 frames');
    expect(out).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
