import { describe, expect, it } from 'vitest';
import { SlowCloses } from '../src/transport/slow-close.js';

/** A socket with a buffer the test drains by hand; records the close it is sent. */
class FakeSocket {
  buffered = 0;
  ended: [number, string] | undefined;
  getBufferedAmount(): number {
    return this.buffered;
  }
  end(code: number, reason: string): void {
    this.ended = [code, reason];
  }
}

describe('SlowCloses: a slow consumer close waits for its buffer to drain', () => {
  it('sends the close once the buffer is empty, not before', () => {
    const s = new FakeSocket();
    const closes = new SlowCloses<FakeSocket>(30_000, 4008, 'slow consumer', (c) => c);
    s.buffered = 500_000;
    closes.add(s, 0);
    expect(s.ended).toBeUndefined();
    s.buffered = 1_000;
    closes.check(s, 100);
    expect(s.ended).toBeUndefined();
    s.buffered = 0;
    closes.check(s, 200);
    expect(s.ended).toEqual([4008, 'slow consumer']);
    expect(closes.size).toBe(0);
  });

  it('at once when nothing is buffered; after the grace period when the client never reads', () => {
    const idle = new FakeSocket();
    const stuck = new FakeSocket();
    stuck.buffered = 1;
    const closes = new SlowCloses<FakeSocket>(1_000, 4008, 'slow consumer', (c) => c);
    closes.add(idle, 0);
    expect(idle.ended?.[0]).toBe(4008);
    closes.add(stuck, 0);
    closes.tick(999);
    expect(stuck.ended).toBeUndefined();
    closes.tick(1_000);
    expect(stuck.ended?.[0]).toBe(4008);
  });

  it('forgets a socket that closed by itself; endAll sends every pending close (shutdown)', () => {
    const gone = new FakeSocket();
    const left = new FakeSocket();
    gone.buffered = left.buffered = 10;
    const closes = new SlowCloses<FakeSocket>(60_000, 4008, 'slow consumer', (c) => c);
    closes.add(gone, 0);
    closes.add(left, 0);
    closes.forget(gone);
    expect(closes.has(gone)).toBe(false);
    closes.endAll();
    expect(gone.ended).toBeUndefined();
    expect(left.ended?.[0]).toBe(4008);
    expect(closes.size).toBe(0);
  });
});
