import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLegal, liveState, Members, type Member, type MemberState } from '../src/hub/subscribers.js';
import { Hub, type HubSubscriber, type TopicDelivery } from '../src/hub/hub.js';
import { CODECS } from '../src/codecs.js';
import { decode } from '@msgpack/msgpack';

/**
 * The subscriber record of one topic and its one transition function: whatever sequence of moves,
 * the counts the flush path reads (per-codec live counts, the direct, receiving, awaiting and
 * parked sets, the conflated count) equal a recount from the records, and an illegal move throws without changing any.
 */
const STATES: MemberState[] = ['new', 'awaiting', 'resync', 'parked', 'live', 'direct', 'conflated', 'gone'];
const CODEC_COUNT = 3;

type Sub = HubSubscriber & { id: number };

function expectConsistent(ms: Members<Sub>): void {
  const r = ms.recount();
  expect(ms.live).toEqual(r.live);
  expect(ms.direct.size).toBe(r.direct);
  expect(ms.receiving.size).toBe(r.receiving);
  expect(ms.awaiting.size).toBe(r.awaiting);
  expect(ms.parked.size).toBe(r.parked);
  expect(ms.conflated).toBe(r.conflated);
  for (const m of ms.bySub.values()) {
    expect(m.state).not.toBe('new');
    expect(m.state).not.toBe('gone');
    expect(ms.direct.has(m.sub)).toBe(m.state === 'direct');
    expect(ms.receiving.has(m.sub)).toBe(m.state === 'live' || m.state === 'direct');
    expect(ms.awaiting.has(m)).toBe(m.state === 'awaiting' || m.state === 'resync');
    expect(ms.parked.has(m)).toBe(m.state === 'parked');
  }
}

function snapshot(ms: Members<Sub>): unknown {
  return {
    live: [...ms.live],
    members: [...ms.bySub.values()].map((m) => [m.sub.id, m.state]),
    direct: [...ms.direct].map((s) => s.id),
    receiving: [...ms.receiving].map((s) => s.id),
    awaiting: [...ms.awaiting].map((m) => m.sub.id),
    parked: [...ms.parked].map((m) => m.sub.id),
    conflated: ms.conflated,
  };
}

describe('hub subscriber records (Members.transition)', () => {
  it('keeps every count equal to a recount over random moves, legal or not; illegal moves throw and change nothing', () => {
    const subs = fc.array(fc.record({ codec: fc.nat(CODEC_COUNT - 1), viaTopic: fc.boolean() }), { minLength: 1, maxLength: 6 });
    const moves = fc.array(fc.record({ who: fc.nat(5), to: fc.constantFrom(...STATES) }), { maxLength: 60 });
    fc.assert(
      fc.property(subs, moves, (specs, steps) => {
        const ms = new Members<Sub>('quote.X', CODEC_COUNT);
        const all: Sub[] = specs.map((s, id) => ({ id, ...s }));
        const records = new Map<Sub, Member<Sub>>();
        for (const { who, to } of steps) {
          const sub = all[who % all.length] as Sub;
          const m = records.get(sub);
          const from = m?.state ?? 'new';
          const legal = from !== 'gone' && isLegal(from, to, sub.viaTopic === true);
          const before = snapshot(ms);
          if (!legal) {
            expect(() => (m === undefined ? ms.join(sub, to) : ms.transition(m, to))).toThrow(/illegal subscriber transition/);
            expect(snapshot(ms)).toEqual(before);
          } else if (m === undefined) {
            records.set(sub, ms.join(sub, to));
          } else {
            ms.transition(m, to);
            // A member that left can come back only as a new record.
            if (to === 'gone') records.delete(sub);
          }
          expectConsistent(ms);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('lets a waiting member keep its place in line when its snap becomes a resync', () => {
    const ms = new Members<Sub>('trade.X', 1);
    const a = ms.join({ id: 1, codec: 0 }, 'awaiting');
    ms.join({ id: 2, codec: 0 }, 'resync');
    ms.transition(a, 'resync');
    expect([...ms.awaiting].map((m) => m.sub.id)).toEqual([1, 2]);
  });

  it('refuses live for a subscriber the transport does not fan out per topic, and direct for one it does', () => {
    const ms = new Members<Sub>('trade.X', 1);
    const plain: Sub = { id: 1, codec: 0 };
    const via: Sub = { id: 2, codec: 0, viaTopic: true };
    expect(liveState(plain)).toBe('direct');
    expect(liveState(via)).toBe('live');
    expect(() => ms.join(plain, 'live')).toThrow(/illegal/);
    expect(() => ms.join(via, 'direct')).toThrow(/illegal/);
    const m = ms.join(via, 'awaiting');
    expect(() => ms.transition(m, 'parked')).toThrow(/awaiting -> parked/);
    ms.transition(m, 'live');
    expect(() => ms.transition(m, 'awaiting')).toThrow(/live -> awaiting/);
    expect([...ms.liveSubscribers()]).toEqual([via]);
    expect(() => ms.join(via, 'awaiting')).toThrow(/twice/);
  });

  it('conflates a slow subscriber out of the counts and the frames, and recovers it with a resync snap of the newest tick', () => {
    const opts = { epoch: 'E', codecs: CODECS, maxTicksPerFrame: 100, historyMinWindowMs: 1000, historyMaxAgeMs: 60_000 };
    const hub = new Hub<HubSubscriber>({ ...opts, historyBudgetBytes: 1 << 20 });
    const quote = (i: number) => ({ ts: i, bid: i, bsz: 1, ask: i + 1, asz: 1 });
    const slow = { codec: 0, viaTopic: true };
    const sse = { codec: 0 };
    const published: number[] = [];
    const got: unknown[] = [];
    const topics: TopicDelivery<HubSubscriber> = {
      publish: (_n, _c, _f, count) => void published.push(count),
      live: () => undefined,
    };
    hub.publish('quote.X', quote(1));
    hub.subscribe(slow, 'quote.X');
    hub.subscribe(sse, 'quote.X');
    expect(hub.conflate(slow, 'quote.X')).toBe(true);
    expect(hub.conflate(sse, 'quote.X')).toBe(true);
    expect(hub.conflate(sse, 'quote.X')).toBe(false);
    hub.publish('quote.X', quote(2));
    hub.publish('quote.X', quote(3));
    hub.flush((_s, f) => void got.push(decode(f)), 1, topics);
    expect(published).toEqual([]);
    expect(got).toEqual([]);
    const snap = decode(hub.recover(slow, 'quote.X')!) as { op: string; seq: number; resync: boolean };
    expect([snap.op, snap.seq, snap.resync]).toEqual(['snap', 3, true]);
    expect(hub.stateOf(slow, 'quote.X')).toBe('live');
    expect(hub.recover(slow, 'quote.X')).toBeUndefined();
    hub.publish('quote.X', quote(4));
    hub.flush((_s, f) => void got.push(decode(f)), 2, topics);
    expect(published).toEqual([1]);
    expect(got).toEqual([]);
    expect(hub.stateOf(sse, 'quote.X')).toBe('conflated');
  });
});
