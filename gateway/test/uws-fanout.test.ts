import { describe, expect, it } from 'vitest';
import type uWS from 'uWebSockets.js';
import type { Session } from '../src/transport/session.js';
import { newTransportStats } from '../src/transport/stats.js';
import { SCAN_EVERY_FLUSHES, UwsFanout, type FanoutConn } from '../src/transport/uws-fanout.js';

/** A uWS app and sockets with no network: records publishes and topic membership. */
function setup(maxBackpressureBytes = 1 << 20) {
  const published: [string, number][] = [];
  const publish = (topic: string, frame: Uint8Array) => (published.push([topic, frame.length]), true);
  const app = { publish } as unknown as uWS.TemplatedApp;
  const stats = newTransportStats();
  const fanout = new UwsFanout(app, maxBackpressureBytes, false, stats);
  const conn = (name: string) => {
    const topics = new Set<string>();
    const sent: number[] = [];
    /** The session's subscriptions, all live in the hub's record here. */
    const subscribed = new Set<string>();
    const session = {
      id: 0,
      codec: 0,
      stale: false,
      topics: subscribed,
      liveTopics: () => subscribed.values(),
      buffered: 0,
      send: (f: Uint8Array) => sent.push(f.length),
      checkBuffer(): number {
        if (this.buffered > 1000 && !this.stale) {
          this.stale = true;
          fanout.leaveAll(c);
        }
        return this.buffered;
      },
    };
    const ws = { subscribe: (t: string) => topics.add(t), unsubscribe: (t: string) => topics.delete(t) };
    const c: FanoutConn & { topics: Set<string>; sent: number[]; name: string } = {
      session: session as unknown as Session,
      ws: ws as unknown as uWS.WebSocket<unknown>,
      scanned: 0,
      topics,
      sent,
      name,
    };
    return c;
  };
  /** The hub made `c` live on `name` and its snap went out. */
  const live = (c: FanoutConn, name: string) => {
    c.session.topics.add(name);
    fanout.live(c, name);
  };
  return { fanout, stats, published, conn, live, publish: fanout.delivery.publish.bind(fanout.delivery) };
}

describe('UwsFanout: publish membership and the backpressure scan', () => {
  it('a live connection is in the uWS topic of its codec; unsub and close take it out', () => {
    const { fanout, conn, live, publish, published, stats } = setup();
    const a = conn('a');
    live(a, 'trade.A');
    expect([...a.topics]).toEqual(['msgpack|trade.A']);
    publish('trade.A', 0, new Uint8Array(10), 1);
    expect(published).toEqual([['msgpack|trade.A', 10]]);
    expect([stats.framesOut, stats.bytesOut, stats.conflatedFrames]).toEqual([1, 10, 0]);
    a.session.topics.delete('trade.A');
    fanout.unsubscribed(a, 'trade.A');
    expect(a.topics.size).toBe(0);
    publish('trade.A', 0, new Uint8Array(10), 0);
    expect(published.length).toBe(1);
  });

  it('subscribers of the hub that are not members (stale) are counted as conflated', () => {
    const { conn, live, publish, stats } = setup();
    const a = conn('a');
    live(a, 'trade.A');
    publish('trade.A', 0, new Uint8Array(10), 3);
    expect(stats.conflatedFrames).toBe(2);
  });

  it('the scan before the next flush checks each connection published to once; a slow one leaves every topic', () => {
    const { fanout, conn, live, publish, stats } = setup();
    const a = conn('a');
    const b = conn('b');
    for (const c of [a, b]) for (const t of ['trade.A', 'trade.B']) live(c, t);
    publish('trade.A', 0, new Uint8Array(10), 2);
    publish('trade.B', 0, new Uint8Array(10), 2);
    (a.session as unknown as { buffered: number }).buffered = 5000;
    (b.session as unknown as { buffered: number }).buffered = 100;
    // Small flushes: the scan comes every SCAN_EVERY_FLUSHES flushes, not before.
    for (let i = 1; i < SCAN_EVERY_FLUSHES; i++) fanout.beforeFlush();
    expect(a.topics.size).toBe(2);
    fanout.beforeFlush();
    expect(stats.bufferedBytes).toBe(5100);
    expect(a.topics.size).toBe(0);
    expect(b.topics.size).toBe(2);
    // Back in once caught up.
    (a.session as unknown as { stale: boolean }).stale = false;
    fanout.joinAll(a);
    expect(a.topics.size).toBe(2);
  });

  it('scans at the next flush once a quarter of the publish budget went out since the last scan', () => {
    // Budget: (80 KiB + 64 KiB - 16 KiB) / 2 = 64 KiB; a quarter is 16 KiB.
    const { fanout, conn, live, publish } = setup(80 * 1024);
    const a = conn('a');
    live(a, 'trade.A');
    publish('trade.A', 0, new Uint8Array(10 * 1024), 1);
    (a.session as unknown as { buffered: number }).buffered = 5000;
    fanout.beforeFlush();
    expect(a.topics.size).toBe(1); // 10 KiB: not yet
    publish('trade.A', 0, new Uint8Array(7 * 1024), 1);
    fanout.beforeFlush();
    expect(a.topics.size).toBe(0); // 17 KiB since the last scan: scanned, and slow
  });

  it('past the publish budget of a flush, frames go through the checked send of each connection instead', () => {
    // Budget: (maxBackpressureBytes + 64 KiB - 16 KiB) / 2 = 64 KiB for 80 KiB.
    const { fanout, conn, live, publish, published } = setup(80 * 1024);
    const a = conn('a');
    live(a, 'trade.A');
    fanout.beforeFlush();
    publish('trade.A', 0, new Uint8Array(60 * 1024), 1);
    publish('trade.A', 0, new Uint8Array(10 * 1024), 1);
    expect(published.length).toBe(1);
    expect(a.sent).toEqual([10 * 1024]);
  });
});
