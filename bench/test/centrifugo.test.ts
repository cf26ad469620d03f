import { describe, expect, it } from 'vitest';
import { encodeCommand, PONG, readReplies, readUpdHeadJson, type CentrifugoReply } from '../src/loadgen/centrifugo-protobuf.js';
import { SerialPublisher } from '../src/suite/baselines/centrifugo.js';

// Protobuf bytes written out field by field, independently of the module under test.
const varint = (n: number): number[] => (n < 128 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
const len = (field: number, body: number[]): number[] => [(field << 3) | 2, ...varint(body.length), ...body];
const num = (field: number, n: number): number[] => [(field << 3) | 0, ...varint(n)];
const str = (s: string): number[] => [...Buffer.from(s)];
const delimited = (...messages: number[][]): Buffer => Buffer.from(messages.flatMap((m) => [...varint(m.length), ...m]));

describe('Centrifugo protobuf protocol (hand decoder)', () => {
  it('writes connect and subscribe commands, length-prefixed', () => {
    // Command{id: 1, connect: {}}
    expect([...encodeCommand(1, { connect: true })]).toEqual([4, 0x08, 1, 0x22, 0]);
    // Command{id: 300, subscribe: {channel: "quote.X"}}
    const sub = [...num(1, 300), ...len(5, len(1, str('quote.X')))];
    expect([...encodeCommand(300, { subscribe: 'quote.X' })]).toEqual([...varint(sub.length), ...sub]);
    expect([...PONG]).toEqual([0]);
  });

  it('reads every reply of a frame: publications, command replies, errors, pings; skips unknown fields', () => {
    const data = JSON.stringify({ op: 'upd', topic: 'quote.X', seq: 7, data: [{ ts: 1 }] });
    // Publication{data: 4, offset: 6, time: 9} inside Push{channel: 2, pub: 4}; a Push{id: 1} field first.
    const pub = [...len(4, str(data)), ...num(6, 123), ...num(9, 1_700_000_000_000)];
    const push = [...num(1, 5), ...len(2, str('quote.X')), ...len(4, pub)];
    const frame = delimited(
      len(4, push),
      [...num(1, 2), ...len(6, [...num(1, 0), ...len(6, str('epoch'))])], // subscribe result
      [],
      [...num(1, 3), ...len(2, [...num(1, 103), ...len(2, str('unknown channel'))])],
    );
    const got: CentrifugoReply[] = [];
    readReplies(frame, (r) => got.push(r));
    expect(got).toHaveLength(4);
    expect(got[0]!.pub!.channel).toBe('quote.X');
    expect(JSON.parse(Buffer.from(got[0]!.pub!.data).toString())).toEqual(JSON.parse(data));
    expect(got[1]).toEqual({ id: 2, ping: false });
    expect(got[2]).toEqual({ id: 0, ping: true });
    expect(got[3]).toEqual({ id: 3, ping: false, error: { code: 103, message: 'unknown channel' } });
  });

  it("reads a publication's seq and first ts header-only, as JSON.parse would", () => {
    const tick = { ts: 1_796_587_310_200, px: 101.25, qty: 3, side: 'b' };
    for (const seq of [0, 7, 1234567]) {
      const bytes = Buffer.from(JSON.stringify({ op: 'upd', topic: 'quote.BTC-USD', seq, data: [tick, { ...tick, ts: 1 }] }));
      expect(readUpdHeadJson(bytes)).toEqual({ seq, ts: tick.ts });
    }
    // A `ts` before `seq` is not the first tick's; one missing, or not a number, is no header.
    expect(readUpdHeadJson(Buffer.from('{"ts":5,"op":"upd","seq":3,"data":[{"ts":9}]}'))).toEqual({ seq: 3, ts: 9 });
    expect(readUpdHeadJson(Buffer.from('{"op":"upd","seq":3,"data":[]}'))).toBeUndefined();
    expect(readUpdHeadJson(Buffer.from('{"op":"upd","seq":"x","data":[{"ts":9}]}'))).toBeUndefined();
  });

  it('throws on a truncated frame', () => {
    const whole = delimited(len(4, len(2, str('quote.X'))));
    expect(() => readReplies(whole.subarray(0, whole.length - 2), () => undefined)).toThrow(/truncated/);
  });
});

describe('Centrifugo feeder', () => {
  it('keeps one publish request in flight and sends what queued meanwhile, in order, in the next', async () => {
    const bodies: unknown[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const release: (() => void)[] = [];
    const post = (_url: string, init: RequestInit) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      bodies.push((JSON.parse(init.body as string) as { commands: unknown[] }).commands);
      return new Promise<{ ok: boolean; arrayBuffer: () => Promise<ArrayBuffer> }>((resolve) =>
        release.push(() => {
          inFlight--;
          resolve({ ok: true, arrayBuffer: async () => new ArrayBuffer(0) });
        }),
      );
    };
    const p = new SerialPublisher('http://api', 'key', post);
    p.add([1, 2]);
    p.add([3]);
    p.add([4, 5]);
    expect(bodies).toEqual([[1, 2]]);
    release.shift()!();
    await expect.poll(() => bodies.length).toBe(2);
    expect(bodies[1]).toEqual([3, 4, 5]);
    p.add([6]);
    release.shift()!();
    await expect.poll(() => bodies.length).toBe(3);
    release.shift()!();
    await expect.poll(() => inFlight).toBe(0);
    expect(bodies.flat()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(maxInFlight).toBe(1);
    expect(p.requests).toBe(3);
    expect(p.dropped).toBe(0);
  });
});
