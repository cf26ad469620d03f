import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS } from '../src/codecs.js';
import type { TradeTick } from '../../protocol/src/ticks.js';

type Sub = HubSubscriber & { name: string; got: any[] };
const sub = (name: string, remote = '10.0.0.1'): Sub => ({ name, codec: 0, remote, got: [] });
const deliver = (s: Sub, f: Uint8Array) => s.got.push(decode(f));
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: 'b' });
const limits = { perConnection: 3, perIp: 5, total: 8 };
const newHub = (waiting = limits) =>
  new Hub<Sub>({
    epoch: 'E1',
    codecs: CODECS,
    maxTicksPerFrame: 100,
    historyMinWindowMs: 30_000,
    historyBudgetBytes: 1 << 30,
    historyMaxAgeMs: 60_000,
    waiting,
  });

describe('Hub: subscriptions to topics with no data wait without topic state', () => {
  it('creates no topic state for a data-less topic or view, and forgets the waiting entries on unsubscribe', () => {
    const hub = newHub({ perConnection: 100_000, perIp: 100_000, total: 100_000 });
    const s = sub('s');
    for (let i = 0; i < 1000; i++) expect(hub.subscribe(s, `trade.MADE${i}`).kind).toBe('pending');
    expect(hub.subscribe(s, 'quote.MADE0@100ms').kind).toBe('pending');
    expect(hub.subscribe(s, 'user.bob.fills').kind).toBe('pending');
    expect(hub.subscribe(s, 'trade.MADE0').kind).toBe('duplicate');
    expect(hub.topicCount).toBe(0);
    expect([hub.waitingCount, hub.subscriptions]).toEqual([1002, 1002]);
    for (let i = 0; i < 1000; i++) expect(hub.unsubscribe(s, `trade.MADE${i}`)).toBe(true);
    expect(hub.unsubscribe(s, 'quote.MADE0@100ms')).toBe(true);
    expect(hub.unsubscribe(s, 'user.bob.fills')).toBe(true);
    expect(hub.unsubscribe(s, 'trade.MADE0')).toBe(false);
    expect([hub.topicCount, hub.waitingCount, hub.subscriptions]).toEqual([0, 0, 0]);
  });

  it('bounds waiting subscriptions per connection, per IP and in total, and counts each refusal', () => {
    const hub = newHub();
    const a = sub('a');
    const kinds = (s: Sub, prefix: string, n: number) => Array.from({ length: n }, (_, i) => hub.subscribe(s, `trade.${prefix}${i}`));
    // Per connection: 3.
    expect(kinds(a, 'A', 4).map((r) => r.kind)).toEqual(['pending', 'pending', 'pending', 'refused']);
    expect(hub.subscribe(a, 'trade.A9')).toEqual({ kind: 'refused', limit: 'connection' });
    // Per IP: 5 over the connections of 10.0.0.1 (a already holds 3).
    const b = sub('b');
    expect(kinds(b, 'B', 3).map((r) => r.kind)).toEqual(['pending', 'pending', 'refused']);
    expect(hub.subscribe(b, 'trade.B9')).toEqual({ kind: 'refused', limit: 'ip' });
    // In total: 8 (5 held by 10.0.0.1); user channels of a token count the same.
    const c = sub('c', '10.0.0.2');
    const d = sub('d', '10.0.0.3');
    expect(hub.subscribe(c, 'user.c.x').kind).toBe('pending');
    expect(hub.subscribe(c, 'user.c.y').kind).toBe('pending');
    expect(hub.subscribe(d, 'user.d.x').kind).toBe('pending');
    expect(hub.subscribe(d, 'user.d.y')).toEqual({ kind: 'refused', limit: 'total' });
    expect(hub.stats.waiting).toEqual({ current: 8, refused: { connection: 2, ip: 2, total: 1 } });
    // A refused subscription is not one: unsubscribing it is a no-op.
    expect(hub.unsubscribe(d, 'user.d.y')).toBe(false);
    // Leaving frees room at every level.
    expect(hub.unsubscribe(a, 'trade.A0')).toBe(true);
    expect(hub.subscribe(d, 'user.d.y').kind).toBe('pending');
    // A topic with data costs no waiting room.
    hub.publish('trade.LIVE', trade(1));
    expect(hub.subscribe(a, 'trade.LIVE').kind).toBe('frames');
    expect(hub.waitingCount).toBe(8);
  });

  it('adopts the waiting subscribers when the topic gets its first tick: snap for each, views included', () => {
    const hub = newHub();
    const a = sub('a');
    const b = sub('b', '10.0.0.9');
    const v = sub('v', '10.0.0.8');
    expect(hub.subscribe(a, 'trade.NEW').kind).toBe('pending');
    expect(hub.subscribe(b, 'trade.NEW').kind).toBe('pending');
    expect(hub.subscribe(v, 'trade.NEW@100ms').kind).toBe('pending');
    expect(hub.topicCount).toBe(0);
    hub.publish('trade.NEW', trade(1));
    hub.publish('trade.NEW', trade(2));
    expect([hub.topicCount, hub.waitingCount, hub.subscriptions]).toEqual([1, 0, 3]);
    hub.flush(deliver, 1000);
    hub.publish('trade.NEW', trade(3));
    hub.flush(deliver, 1002);
    for (const s of [a, b]) {
      expect(s.got).toEqual([
        { op: 'snap', topic: 'trade.NEW', seq: 1, epoch: 'E1', data: trade(1) },
        { op: 'upd', topic: 'trade.NEW', seq: 2, data: [trade(2)] },
        { op: 'upd', topic: 'trade.NEW', seq: 3, data: [trade(3)] },
      ]);
    }
    expect(v.got[0]).toMatchObject({ op: 'snap', topic: 'trade.NEW@100ms', seq: 2 });
    // Adopted subscribers are ordinary ones now.
    expect(hub.unsubscribe(a, 'trade.NEW')).toBe(true);
    expect(hub.subscriptions).toBe(2);
  });

  it('a resume from seq 0 of this epoch on a data-less topic gets every tick as upd from seq 1 once it exists', () => {
    const hub = newHub();
    const s = sub('s');
    expect(hub.subscribe(s, 'user.s.fills', { epoch: 'E1', seq: 0 })).toEqual({ kind: 'frames', frames: [], resync: false });
    hub.publish('user.s.fills', { ts: 1, id: 'f1' });
    hub.publish('user.s.fills', { ts: 2, id: 'f2' });
    hub.flush(deliver, 10);
    expect(s.got).toEqual([
      {
        op: 'upd',
        topic: 'user.s.fills',
        seq: 1,
        data: [
          { ts: 1, id: 'f1' },
          { ts: 2, id: 'f2' },
        ],
      },
    ]);
  });

  it('the broadcast topic never waits: every connection has it, beyond any waiting limit', () => {
    const hub = newHub({ perConnection: 0, perIp: 0, total: 0 });
    const s = sub('s');
    expect(hub.subscribe(s, 'sys.announce', hub.position('sys.announce')).kind).toBe('frames');
    expect(hub.subscribe(s, 'trade.X')).toEqual({ kind: 'refused', limit: 'connection' });
    expect(hub.waitingCount).toBe(0);
  });
});
